package natsbroker_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openspeed/wsd/rooms/natsbroker"
)

// tracker consumes a client's "0:<seq>" messages and checks their order: strictly increasing, and,
// when contiguous, without gaps.
type tracker struct {
	count, last atomic.Int64
	mu          sync.Mutex
	err         error
	stop, done  chan struct{}
}

func track(cl *client, contiguous bool) *tracker {
	tr := &tracker{stop: make(chan struct{}), done: make(chan struct{})}
	tr.last.Store(-1)
	go func() {
		defer close(tr.done)
		for {
			select {
			case m := <-cl.msgs:
				tr.observe(m, contiguous)
			case <-tr.stop:
				return
			}
		}
	}()
	return tr
}

func (tr *tracker) observe(m string, contiguous bool) {
	_, seq, ok := parseSeq(m)
	last := tr.last.Load()
	switch {
	case !ok:
		tr.fail(fmt.Errorf("unexpected message %q", m))
	case int64(seq) <= last:
		tr.fail(fmt.Errorf("seq %d after %d: duplicated or reordered", seq, last))
	case contiguous && int64(seq) != last+1:
		tr.fail(fmt.Errorf("seq %d after %d: lost", seq, last))
	}
	tr.last.Store(int64(seq))
	tr.count.Add(1)
}

func (tr *tracker) fail(err error) {
	tr.mu.Lock()
	if tr.err == nil {
		tr.err = err
	}
	tr.mu.Unlock()
}

func (tr *tracker) close() error {
	close(tr.stop)
	<-tr.done
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.err
}

// sender broadcasts "0:<seq>" from a client every 2 ms until stopped.
type sender struct {
	sent       atomic.Int64
	stop, done chan struct{}
	err        error
}

func startSender(cl *client) *sender {
	s := &sender{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			if s.err = cl.write(fmt.Sprintf("0:%d", seq)); s.err != nil {
				return
			}
			s.sent.Add(1)
		}
	}()
	return s
}

func (s *sender) close() error {
	close(s.stop)
	<-s.done
	return s.err
}

// TestNATSRestartMidTraffic: while a client on node a broadcasts steadily, the NATS server stops and a
// new one starts on the same port. Local delivery on a never stops and loses nothing; cross-node
// messages fail (counted) during the outage; after the reconnect nats.go re-subscribes both nodes and
// node b receives again, in order and without duplicates.
func TestNATSRestartMidTraffic(t *testing.T) {
	s := startNATS(t, -1)
	port, url := natsPort(s), s.ClientURL()
	opts := func(id string) natsbroker.Options {
		return natsbroker.Options{NodeID: id, NATS: []nats.Option{
			nats.ReconnectWait(20 * time.Millisecond),
			nats.ReconnectBufSize(-1), // no buffering while disconnected: every publish then fails
		}}
	}
	a, b := startNode(t, url, opts("a")), startNode(t, url, opts("b"))
	src, local, remote := dial(t, a, "live"), dial(t, a, "live"), dial(t, b, "live")
	settle(t, "live", []*node{a, b}, []int{2, 1})
	subject := a.b.Subject("live")

	lt, rt := track(local, true), track(remote, false)
	snd := startSender(src)
	waitFor(t, "cross-node traffic", func() bool { return rt.count.Load() >= 20 })

	stopNATS(s)
	waitFor(t, "disconnect", func() bool { return !a.b.Connected() && !b.b.Connected() })
	failed, localSeen := a.b.Stats().PublishFailures, lt.count.Load()
	waitFor(t, "publish failures during the outage", func() bool { return a.b.Stats().PublishFailures > failed })
	waitFor(t, "local delivery during the outage", func() bool { return lt.count.Load() >= localSeen+20 })

	s2 := startNATS(t, port)
	waitFor(t, "reconnect", func() bool { return a.b.Connected() && b.b.Connected() })
	waitFor(t, "re-subscription", func() bool { return subsFor(t, s2, subject) == 2 })
	resumeAt := snd.sent.Load()
	waitFor(t, "cross-node traffic after reconnect", func() bool { return rt.last.Load() >= resumeAt })

	if err := snd.close(); err != nil {
		t.Fatalf("sender: %v", err)
	}
	sent := snd.sent.Load()
	waitFor(t, "all local deliveries", func() bool { return lt.count.Load() == sent })
	if err := lt.close(); err != nil {
		t.Errorf("local listener: %v", err)
	}
	if err := rt.close(); err != nil {
		t.Errorf("remote listener: %v", err)
	}
	for _, n := range []*node{a, b} {
		if st := n.b.Stats(); st.Reconnects < 1 || st.Disconnects < 1 {
			t.Errorf("node %s: %+v, want a disconnect and a reconnect counted", n.b.NodeID(), st)
		}
	}
	t.Logf("sent %d, remote received %d, publish failures %d", sent, rt.count.Load(), a.b.Stats().PublishFailures)
}

// TestStartWhileNATSDown: a node starts while NATS is unreachable: Start succeeds, local delivery
// works, and once a server comes up the node connects, subscribes to the rooms that got members
// meanwhile, and exchanges messages with another node.
func TestStartWhileNATSDown(t *testing.T) {
	s := startNATS(t, -1)
	port, url := natsPort(s), s.ClientURL()
	stopNATS(s)

	retry := []nats.Option{nats.ReconnectWait(20 * time.Millisecond)}
	a := startNode(t, url, natsbroker.Options{NodeID: "a", NATS: retry, History: natsbroker.HistoryOff})
	if a.b.Connected() {
		t.Fatal("connected without a server")
	}
	a1, a2 := dial(t, a, "room"), dial(t, a, "room")
	waitFor(t, "local members", func() bool { return a.app.LocalCount("room") == 2 })
	a1.send(t, "x")
	a2.expect(t, "x")

	s2 := startNATS(t, port)
	waitFor(t, "connect", a.b.Connected)
	b := startNode(t, url, natsbroker.Options{NodeID: "b"})
	b1 := dial(t, b, "room")
	settle(t, "room", []*node{a, b}, []int{2, 1})
	if got := subsFor(t, s2, a.b.Subject("room")); got != 2 {
		t.Fatalf("server has %d subscriptions for the room, want 2", got)
	}
	a1.send(t, "y")
	a2.expect(t, "y")
	b1.expect(t, "y")
}
