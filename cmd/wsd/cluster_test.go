package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/gorilla/websocket"
	natsserver "github.com/nats-io/nats-server/v2/server"
)

// clNATS starts an embedded NATS server on a random loopback port; the test's cleanup (which runs
// after the cleanups of the servers started later) shuts it down.
func clNATS(t *testing.T) *natsserver.Server {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(svWait) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

// clStart starts a wsd node of the cluster on natsURL, with presence reports every 50 ms and the
// HTTP API open, and waits until it is connected to NATS.
func clStart(t *testing.T, natsURL, node string) (*server, string) {
	t.Helper()
	c := svConfig()
	c.Cluster.NATS, c.Cluster.NodeID, c.Cluster.Prefix = natsURL, node, "wsdtest"
	c.Cluster.PresenceInterval = Duration(50 * time.Millisecond)
	c.API.PublishWithoutKey = true
	s, addr := svStart(t, c, nil)
	if s.broker == nil || s.broker.NodeID() != node {
		t.Fatalf("node %s: no broker, or the wrong id", node)
	}
	clWaitFor(t, node+" connected to NATS", s.broker.Connected)
	return s, addr
}

// clWaitFor polls cond until it holds; the wait is only an upper bound.
func clWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(svWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// clSettle waits until each node has one local member in room, then flushes every broker: from then
// on the NATS server forwards the room's messages to every node.
func clSettle(t *testing.T, room string, nodes ...*server) {
	t.Helper()
	for _, s := range nodes {
		clWaitFor(t, "a member of "+room, func() bool { return s.LocalCount(room) == 1 })
	}
	ctx, cancel := context.WithTimeout(context.Background(), svWait)
	defer cancel()
	for _, s := range nodes {
		if err := s.broker.Flush(ctx); err != nil {
			t.Fatalf("flush %s: %v", s.broker.NodeID(), err)
		}
	}
}

// clWaitJSON GETs url until its JSON answer equals want (other nodes' counts arrive with their next
// presence report).
func clWaitJSON(t *testing.T, url string, want any) {
	t.Helper()
	var got any
	clWaitFor(t, "GET "+url+" to show the cluster", func() bool {
		v := reflect.New(reflect.TypeOf(want))
		rtGetJSON(t, url, v.Interface())
		got = v.Elem().Interface()
		return reflect.DeepEqual(got, want)
	})
}

// roomCount is an entry of GET /rooms, and the part of GET /rooms/:room/info these tests check.
type roomCount struct {
	Room        string `json:"room"`
	Connections int    `json:"connections"`
}

// TestClusterRoomsRelay: two wsd nodes on one NATS relay /rooms/:room messages (text and binary)
// and API publishes across nodes; GET /rooms and GET /rooms/:room/info count the whole cluster.
func TestClusterRoomsRelay(t *testing.T) {
	url := clNATS(t).ClientURL()
	a, addrA := clStart(t, url, "node-a")
	b, addrB := clStart(t, url, "node-b")
	ca := svDial(t, addrA, "/rooms/lobby", nil)
	cb := svDial(t, addrB, "/rooms/lobby", nil)
	clSettle(t, "lobby", a, b)

	rtWrite(t, ca, websocket.TextMessage, "hello from a")
	rtExpect(t, cb, websocket.TextMessage, "hello from a")
	rtWrite(t, cb, websocket.BinaryMessage, "\x00\x01b")
	rtExpect(t, ca, websocket.BinaryMessage, "\x00\x01b")
	svStatus(t, http.StatusOK, http.MethodPost, "http://"+addrB+"/rooms/lobby/publish", "from the API on b")
	rtExpect(t, cb, websocket.TextMessage, "from the API on b")
	rtExpect(t, ca, websocket.TextMessage, "from the API on b")

	both := []roomCount{{"lobby", 2}}
	clWaitJSON(t, "http://"+addrA+"/rooms", both)
	clWaitJSON(t, "http://"+addrB+"/rooms", both)
	clWaitJSON(t, "http://"+addrB+"/rooms/lobby/info", roomCount{"lobby", 2})
	_ = cb.Close()
	clWaitJSON(t, "http://"+addrA+"/rooms", []roomCount{{"lobby", 1}})
}

// TestClusterPubSub: /ws publications reach the room's members on the other node, and the
// wsd_cluster_ metrics count what crossed NATS.
func TestClusterPubSub(t *testing.T) {
	url := clNATS(t).ClientURL()
	a, addrA := clStart(t, url, "node-a")
	b, addrB := clStart(t, url, "node-b")
	x := svDial(t, addrA, "/ws", nil)
	y := svDial(t, addrB, "/ws", nil)
	for _, c := range []*websocket.Conn{x, y} {
		svWrite(t, c, `{"type":"join","room":"news","id":1}`)
		psExpect(t, c, psAck(1.0, psPos("news", 0)))
	}
	clSettle(t, "news", a, b)
	svWrite(t, x, `{"type":"publish","room":"news","data":{"n":1}}`)
	psExpectRaw(t, x, `{"type":"message","room":"news","offset":1,"data":{"n":1}}`)
	psExpectRaw(t, y, `{"type":"message","room":"news","offset":1,"data":{"n":1}}`)
	svWrite(t, y, `{"type":"publish","room":"news","data":"back"}`)
	psExpectRaw(t, y, `{"type":"message","room":"news","offset":2,"data":"back"}`)
	psExpectRaw(t, x, `{"type":"message","room":"news","offset":2,"data":"back"}`)
	clWaitJSON(t, "http://"+addrA+"/rooms/news/info", roomCount{"news", 2})

	for _, n := range []struct{ addr, id string }{{addrA, "node-a"}, {addrB, "node-b"}} {
		eventuallyMetrics(t, n.addr,
			eq("wsd_cluster_node_info", 1, "node", n.id), eq("wsd_cluster_connected", 1),
			eq("wsd_cluster_nodes", 1), eq("wsd_cluster_subscribed_rooms", 1),
			eq("wsd_cluster_published_total", 1), eq("wsd_cluster_received_total", 1),
			eq("wsd_cluster_delivered_total", 1), eq("wsd_cluster_publish_failures_total", 0),
			eq("wsd_cluster_decode_errors_total", 0), eq("wsd_cluster_dropped_own_total", 0),
			eq("wsd_cluster_reconnects_total", 0), eq("wsd_cluster_disconnects_total", 0),
			eq("wsd_cluster_slow_consumer_total", 0), atLeast("wsd_cluster_presence_sent_total", 1),
			atLeast("wsd_cluster_presence_received_total", 1), eq("wsd_broadcasts_total", 1))
	}
}

// TestClusterSingleNode: without cluster.nats there is no broker and no wsd_cluster_ metric.
func TestClusterSingleNode(t *testing.T) {
	s, addr := svStart(t, svConfig(), nil)
	if s.broker != nil || s.Config().Broker != nil {
		t.Fatal("a broker without cluster.nats")
	}
	for name := range scrape(t, addr) {
		if strings.HasPrefix(name, "wsd_cluster_") {
			t.Errorf("single node exports %s", name)
		}
	}
}

// TestClusterConfig: the short flags of docs/cluster.md set the cluster keys (and win over the
// environment); the URL's password is redacted by -print-config, whose output loads back.
func TestClusterConfig(t *testing.T) {
	env := []string{"WSD_CLUSTER_NODE_ID=from-env", "WSD_CLUSTER_PRESENCE_INTERVAL=5s"}
	c, err := loadArgs(t, "", env, "-nats", "nats://10.0.0.5:4222,n2:4222", "-node-id", "ws-1", "-nats-prefix", "eu.wsd")
	if err != nil {
		t.Fatal(err)
	}
	want := defaults().Cluster
	want.NATS, want.NodeID, want.Prefix, want.PresenceInterval = "nats://10.0.0.5:4222,n2:4222", "ws-1", "eu.wsd", Duration(5*time.Second)
	if c.Cluster != want {
		t.Fatalf("cluster %+v, want %+v", c.Cluster, want)
	}
	if d := defaults().Cluster; d.Prefix != "wsd" || d.History != "auto" || d.HistorySize != 1000 {
		t.Fatalf("defaults %+v", d)
	}
	var out strings.Builder
	if err := run([]string{"-print-config", "-nats", "nats://alice:s3cret@h1:4222, tok3n@h2:4222"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := yaml.UnmarshalWithOptions([]byte(out.String()), &back, yaml.Strict()); err != nil {
		t.Fatalf("output does not load back: %v", err)
	}
	if s := back.Cluster.NATS; strings.Contains(s, "s3cret") || strings.Contains(s, "tok3n") ||
		!strings.Contains(s, "alice:") || !strings.Contains(s, "@h1:4222") || !strings.Contains(s, "@h2:4222") {
		t.Fatalf("-print-config cluster.nats: %q", s)
	}
	if id := autoNodeID(); len(id) < 8 || id == autoNodeID() {
		t.Fatalf("automatic node ids %q: want the host name and a random suffix", id)
	}
}

// TestClusterConfigErrors: a bad NATS URL, prefix, node id or presence interval stops start-up,
// naming the source and the key.
func TestClusterConfigErrors(t *testing.T) {
	cases := []struct {
		name, file string
		env, args  []string
		source     string
		want       string
	}{
		{"flag bad scheme", "", nil, []string{"-nats", "ftp://h:21"}, "flag -nats",
			`cluster.nats: invalid URL "ftp://h:21": scheme must be nats, tls, ws or wss`},
		{"long flag", "", nil, []string{"-cluster.nats=nats://"}, "flag -cluster.nats", `cluster.nats: invalid URL "nats://": no host`},
		{"env no host", "", []string{"WSD_CLUSTER_NATS=nats://:4222"}, nil, "environment WSD_CLUSTER_NATS", "cluster.nats: invalid URL"},
		{"file bad URL", "cluster: {nats: \"nats://h:4222, ws://%zz\"}\n", nil, nil, "", "cluster.nats: invalid URL"},
		{"bad prefix", "cluster: {prefix: wsd.*}\n", nil, nil, "", `cluster.prefix: invalid Prefix "wsd.*"`},
		{"empty prefix", "", nil, []string{"-nats-prefix="}, "flag -nats-prefix", "cluster.prefix: must not be empty"},
		{"long node id", "", nil, []string{"-node-id", strings.Repeat("n", 256)}, "flag -node-id", "cluster.node_id: longer than 255 bytes"},
		{"zero interval", "cluster: {presence_interval: 0s}\n", nil, nil, "", "cluster.presence_interval: must be positive"},
		{"unknown key", "cluster: {url: nats://h:4222}\n", nil, nil, "", "cluster.url: unknown key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var file string
			source := tc.source
			if tc.file != "" {
				file = writeFile(t, "bad.yaml", tc.file)
				source = file
			}
			_, err := loadArgs(t, file, tc.env, tc.args...)
			if want := source + ": " + tc.want; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("got  %v\nwant %q...", err, want)
			}
		})
	}
}

var nodeRE = regexp.MustCompile(` node=(\S+) nats=`)

// TestProcessCluster runs wsd as a process with -nats, -node-id and a short presence interval next
// to an in-process node on the same NATS: a room spans both, messages cross in both directions,
// and SIGTERM still drains and exits 0.
func TestProcessCluster(t *testing.T) {
	url := clNATS(t).ClientURL()
	cmd, stderr := startChild(t, nil, "-addr", "127.0.0.1:0", "-nats", url, "-node-id", "proc-1",
		"-cluster.presence-interval", "50ms", "-nats-prefix", "wsdtest", "-log.level", "debug")
	lines := bufio.NewScanner(stderr)
	procAddr, line := waitListeningLine(t, lines)
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	if m := nodeRE.FindStringSubmatch(line); m == nil || m[1] != "proc-1" {
		t.Fatalf("listening line %q does not name node proc-1", line)
	}
	b, addrB := clStart(t, url, "node-b")
	p := svDial(t, procAddr, "/rooms/span", nil)
	q := svDial(t, addrB, "/rooms/span", nil)
	// the process's presence report counting its member follows its subscription to the room
	clWaitJSON(t, "http://"+addrB+"/rooms", []roomCount{{"span", 2}})
	clSettle(t, "span", b)
	rtWrite(t, q, websocket.TextMessage, "to the process")
	rtExpect(t, p, websocket.TextMessage, "to the process")
	rtWrite(t, p, websocket.TextMessage, "from the process")
	rtExpect(t, q, websocket.TextMessage, "from the process")

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = p.SetReadDeadline(time.Now().Add(svWait))
	if _, _, err := p.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("after SIGTERM: %v, want close 1001", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("wsd exit: %v", err)
	}
	// the process said goodbye: node b stops counting its member at once
	clWaitJSON(t, "http://"+addrB+"/rooms", []roomCount{{"span", 1}})
}

// waitListeningLine is waitListening that also returns the whole log line.
func waitListeningLine(t *testing.T, lines *bufio.Scanner) (addr, line string) {
	t.Helper()
	for lines.Scan() {
		if m := listenRE.FindStringSubmatch(lines.Text()); m != nil {
			return m[1], lines.Text()
		}
	}
	t.Fatal("wsd exited before listening")
	return "", ""
}
