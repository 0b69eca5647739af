package natsbroker_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/openspeed/wsd/engine"
)

// startSystemNATS runs the nats-server binary (on PATH, or Debian's in /usr/sbin, which is 2.9, the
// oldest version the broker supports) with JetStream in a temporary directory, on a random port. It
// skips the test when there is none, or fails it when WSD_REQUIRE_NATS=1 (make test).
func startSystemNATS(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/nats-server")
	}
	if err != nil {
		if os.Getenv("WSD_REQUIRE_NATS") == "1" {
			t.Fatal("WSD_REQUIRE_NATS=1 but there is no nats-server (apt-get install nats-server)")
		}
		t.Skip("no nats-server on PATH or in /usr/sbin (Debian: apt-get install nats-server)")
	}
	cmd := exec.Command(bin, "-js", "-sd", t.TempDir(), "-a", "127.0.0.1", "-p", "-1")
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	listening := regexp.MustCompile(`Listening for client connections on (\S+)`)
	version := regexp.MustCompile(`Version:\s+(\S+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ver := "?"
		for sc.Scan() {
			if m := version.FindStringSubmatch(sc.Text()); m != nil {
				ver = m[1]
			}
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1] + " " + ver
			}
		}
	}()
	select {
	case addr := <-found:
		var hostport, ver string
		fmt.Sscan(addr, &hostport, &ver)
		t.Logf("nats-server %s on %s", ver, hostport)
		return "nats://" + hostport
	case <-time.After(wait):
		t.Fatal("nats-server did not start")
		return ""
	}
}

// TestSystemNATSServer runs the JetStream mode against the nats-server binary on PATH: offsets
// across nodes with publishers on two nodes, an epoch marker for a new room, a recovery on a node
// without interest (an ordered consumer reads the stream) and the gap of a first join.
func TestSystemNATSServer(t *testing.T) {
	url := startSystemNATS(t)
	var nodes []*node
	for _, id := range []string{"a", "b", "c"} {
		n := startNode(t, url, jsOpts(id))
		if !n.b.Sequenced() {
			t.Fatal("not in JetStream mode")
		}
		nodes = append(nodes, n)
	}
	a, b, c := nodes[0], nodes[1], nodes[2]
	pa, pb := dialRec(t, a, "r", engine.Position{}), dialRec(t, b, "r", engine.Position{})
	if pa.join.pos != pb.join.pos || pa.join.pos.Offset != 0 || pa.join.pos.Epoch == "" {
		t.Fatalf("empty room: positions %+v and %+v", pa.join.pos, pb.join.pos)
	}
	publishN(t, pa.client, "a", 200)
	publishN(t, pb.client, "b", 200)
	all := pa.expectRun(t, pa.join.pos, 400)
	pb.expectRun(t, pb.join.pos, 400)
	since := engine.Position{Offset: all[99].off, Epoch: all[99].epoch}
	back := dialRec(t, c, "r", since)
	if !back.join.recovered || back.join.missed != 300 {
		t.Fatalf("recovery on a node without interest: %+v", back.join)
	}
	back.expectRun(t, since, 300)
	src := dialRec(t, a, "gap", engine.Position{})
	racing := make(chan struct{})
	go func() {
		defer close(racing)
		_ = src.write("racing")
	}()
	late := dialRec(t, c, "gap", engine.Position{})
	<-racing
	_ = src.write("after")
	if ps := late.expectRun(t, late.join.pos, 2-int(late.join.pos.Offset)); ps[len(ps)-1].text != "after" {
		t.Fatalf("first join: %+v", ps)
	}
	if st := c.b.Stats(); st.HistoryReads == 0 {
		t.Errorf("no History read on c: %+v", st)
	}
}
