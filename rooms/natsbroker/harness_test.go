package natsbroker_test

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/rooms"
	"github.com/openspeed/wsd/rooms/natsbroker"
)

// wait bounds every wait of these tests: an upper bound for a hang, never a timing assertion.
const wait = 15 * time.Second

// testInterval is the presence interval of the test nodes.
const testInterval = 100 * time.Millisecond

var quiet = slog.New(slog.DiscardHandler)

// startNATS starts an embedded NATS server on 127.0.0.1 (port -1: a random free port). The test's
// cleanup shuts it down.
func startNATS(tb testing.TB, port int) *server.Server {
	tb.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		tb.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(wait) {
		tb.Fatal("nats server not ready")
	}
	tb.Cleanup(func() { stopNATS(s) })
	return s
}

func stopNATS(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

func natsPort(s *server.Server) int { return s.Addr().(*net.TCPAddr).Port }

// subsFor is the number of subscriptions the NATS server would deliver a message on subject to.
func subsFor(tb testing.TB, s *server.Server, subject string) int {
	tb.Helper()
	sz, err := s.Subsz(&server.SubszOptions{Subscriptions: true, Test: subject})
	if err != nil {
		tb.Fatalf("subsz: %v", err)
	}
	return sz.Total
}

// node is one wsd engine with a NATS broker and the route /room/:room: open joins the room; a text
// message starting with "all:" is relayed with BroadcastAll, any other with Broadcast.
type node struct {
	app  *engine.App
	b    *natsbroker.Broker
	addr string
}

// startNode starts a node on url; o's zero fields get test values (presence every 100 ms, LocalCount
// from the App, no logging). url "" starts a single node without a broker. The test's cleanup shuts it
// down.
func startNode(tb testing.TB, url string, o natsbroker.Options) *node {
	tb.Helper()
	n := &node{}
	o.URL = url
	if o.PresenceInterval == 0 {
		o.PresenceInterval = testInterval
	}
	if o.LocalCount == nil && o.Counts == nil {
		o.LocalCount = func(room string) int { return n.app.LocalCount(room) }
	}
	if o.Logger == nil {
		o.Logger = quiet
	}
	cfg := engine.Config{Loops: 2, Logger: quiet}
	if url != "" {
		b, err := natsbroker.New(o)
		if err != nil {
			tb.Fatalf("natsbroker.New: %v", err)
		}
		n.b, cfg.Broker = b, b
	}
	n.app = engine.New(cfg)
	n.app.Route("/room/:room", engine.Handlers{Open: n.open, Message: n.message})
	if err := n.app.Start("127.0.0.1:0"); err != nil {
		tb.Fatalf("start: %v", err)
	}
	n.addr = n.app.Addr().String()
	tb.Cleanup(func() { n.stop(tb) })
	return n
}

// stop shuts the node down (its broker too). Safe to call twice.
func (n *node) stop(tb testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := n.app.Shutdown(ctx); err != nil {
		tb.Errorf("shutdown: %v", err)
	}
	if n.b != nil {
		_ = n.b.Close()
	}
}

func (n *node) open(ws *engine.Conn, ctx *engine.Context) {
	room := ctx.Param("room")
	ws.SetData(room)
	if err := ws.Join(room); err != nil {
		ws.Close(1011, err.Error())
	}
}

func (n *node) message(ws *engine.Conn, m engine.Message) {
	room, _ := ws.Data().(string)
	text := m.Text()
	if strings.HasPrefix(text, "all:") {
		_, _ = ws.BroadcastAll(room, text)
		return
	}
	_, _ = ws.Broadcast(room, text)
}

// flush waits until every node's broker has handed its queued work to NATS and the server processed it.
func flush(tb testing.TB, nodes ...*node) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, n := range nodes {
		if err := n.b.Flush(ctx); err != nil {
			tb.Fatalf("flush %s: %v", n.b.NodeID(), err)
		}
	}
}

// waitFor polls cond until it holds, failing the test after wait.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle waits until node i has local[i] members in room, then flushes every broker: afterwards the
// NATS server knows every node's subscription.
func settle(tb testing.TB, room string, nodes []*node, local []int) {
	tb.Helper()
	for i, n := range nodes {
		waitFor(tb, "local members of "+room, func() bool { return n.app.LocalCount(room) == local[i] })
	}
	flush(tb, nodes...)
}

// client is a gorilla WebSocket client whose messages a goroutine reads into msgs.
type client struct {
	c    *gorilla.Conn
	msgs chan string
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// dial connects a client to room on n. The test's cleanup closes it.
func dial(tb testing.TB, n *node, room string) *client {
	tb.Helper()
	u := "ws://" + n.addr + "/room/" + url.PathEscape(room)
	c, _, err := gorilla.DefaultDialer.Dial(u, nil)
	if err != nil {
		tb.Fatalf("dial %s: %v", u, err)
	}
	cl := &client{c: c, msgs: make(chan string, 1<<14), stop: make(chan struct{}), done: make(chan struct{})}
	go cl.read()
	tb.Cleanup(cl.close)
	return cl
}

func (cl *client) read() {
	defer close(cl.done)
	for {
		_, data, err := cl.c.ReadMessage()
		if err != nil {
			return
		}
		select {
		case cl.msgs <- string(data):
		case <-cl.stop:
			return
		}
	}
}

// close drops the connection (the server sees it go and removes it from its rooms).
func (cl *client) close() {
	cl.once.Do(func() {
		close(cl.stop)
		_ = cl.c.Close()
		<-cl.done
	})
}

func (cl *client) send(tb testing.TB, s string) {
	tb.Helper()
	if err := cl.write(s); err != nil {
		tb.Fatalf("write: %v", err)
	}
}

// write sends a text message; safe from one goroutine at a time.
func (cl *client) write(s string) error { return cl.c.WriteMessage(gorilla.TextMessage, []byte(s)) }

// timeout is the upper bound of one wait.
func timeout() <-chan time.Time { return time.After(wait) }

// next returns the client's next message.
func (cl *client) next(tb testing.TB) string {
	tb.Helper()
	select {
	case m := <-cl.msgs:
		return m
	case <-time.After(wait):
		tb.Fatal("timed out waiting for a message")
		return ""
	}
}

// expect reads the client's next messages and compares them with want, in order.
func (cl *client) expect(tb testing.TB, want ...string) {
	tb.Helper()
	for i, w := range want {
		if got := cl.next(tb); got != w {
			tb.Fatalf("message %d: got %q, want %q", i, got, w)
		}
	}
}

// sink is an Inbound that records what a broker delivers.
type sink struct{ ch chan delivery }

type delivery struct {
	room     string
	variants [][]byte
}

func newSink() *sink { return &sink{ch: make(chan delivery, 1024)} }

func (s *sink) DeliverRemote(room string, variants [][]byte) {
	d := delivery{room: room}
	for _, v := range variants {
		d.variants = append(d.variants, append([]byte(nil), v...))
	}
	s.ch <- d
}

func (s *sink) next(tb testing.TB) delivery {
	tb.Helper()
	select {
	case d := <-s.ch:
		return d
	case <-time.After(wait):
		tb.Fatal("timed out waiting for a delivery")
		return delivery{}
	}
}

// startBroker starts a broker without an engine: what it receives goes to the returned sink.
func startBroker(tb testing.TB, url string, o natsbroker.Options) (*natsbroker.Broker, *sink) {
	tb.Helper()
	o.URL = url
	if o.PresenceInterval == 0 {
		o.PresenceInterval = testInterval
	}
	if o.Logger == nil {
		o.Logger = quiet
	}
	b, err := natsbroker.New(o)
	if err != nil {
		tb.Fatalf("natsbroker.New: %v", err)
	}
	s := newSink()
	if err := b.Start(s); err != nil {
		tb.Fatalf("start: %v", err)
	}
	tb.Cleanup(func() { _ = b.Close() })
	return b, s
}

// textFrames encodes payload as one text frame, the way the engine does for a string.
func textFrames(fp *rooms.FramePool, payload string) rooms.Frames {
	buf := fp.Buffer()
	buf.B = append(buf.B, payload...)
	return rooms.Frames{fp.Finish(buf, frame.OpText)}
}

func releaseFrames(fs rooms.Frames) {
	for _, f := range fs {
		if f != nil {
			f.Release(1)
		}
	}
}
