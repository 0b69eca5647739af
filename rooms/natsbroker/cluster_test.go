package natsbroker_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/rooms/natsbroker"
)

// startCluster starts an embedded NATS server and k nodes on it.
func startCluster(t *testing.T, k int) []*node {
	t.Helper()
	s := startNATS(t, -1)
	nodes := make([]*node, k)
	for i := range nodes {
		nodes[i] = startNode(t, s.ClientURL(), natsbroker.Options{NodeID: fmt.Sprintf("n%d", i)})
	}
	return nodes
}

// TestCrossNodeOrder: three nodes, a sender and a listener on each, one room. Every sender broadcasts
// 500 numbered messages at full speed; every client receives each other sender's 500 messages exactly
// once, in the order sent, and never its own.
func TestCrossNodeOrder(t *testing.T) {
	const perSender = 500
	nodes := startCluster(t, 3)
	var senders, listeners []*client
	for _, n := range nodes {
		senders = append(senders, dial(t, n, "chat"))
		listeners = append(listeners, dial(t, n, "chat"))
	}
	settle(t, "chat", nodes, []int{2, 2, 2})

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i, cl := range append(append([]*client{}, senders...), listeners...) {
		self := -1
		if i < len(senders) {
			self = i
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := checkSequences(cl, self, len(senders), perSender); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		}()
	}
	for i, cl := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range perSender {
				if err := cl.write(fmt.Sprintf("%d:%d", i, seq)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, n := range nodes {
		if st := n.b.Stats(); st.PublishFailures != 0 || st.DecodeErrors != 0 || st.SlowConsumer != 0 {
			t.Errorf("node %s stats: %+v", n.b.NodeID(), st)
		}
	}
}

// checkSequences reads "<sender>:<seq>" messages until it has perSender of every sender but self,
// each sender's in order and without duplicates.
func checkSequences(cl *client, self, senders, perSender int) error {
	next := make([]int, senders)
	want := perSender * senders
	if self >= 0 {
		want -= perSender
	}
	for got := 0; got < want; got++ {
		var m string
		select {
		case m = <-cl.msgs:
		case <-timeout():
			return fmt.Errorf("timed out after %d of %d messages (next %v)", got, want, next)
		}
		from, seq, ok := parseSeq(m)
		if !ok || from < 0 || from >= senders {
			return fmt.Errorf("unexpected message %q", m)
		}
		if from == self {
			return fmt.Errorf("received its own broadcast %q", m)
		}
		if seq != next[from] {
			return fmt.Errorf("sender %d: got seq %d, want %d (lost, duplicated or reordered)", from, seq, next[from])
		}
		next[from]++
	}
	return nil
}

func parseSeq(m string) (from, seq int, ok bool) {
	a, b, found := strings.Cut(m, ":")
	if !found {
		return 0, 0, false
	}
	from, err1 := strconv.Atoi(a)
	seq, err2 := strconv.Atoi(b)
	return from, seq, err1 == nil && err2 == nil
}

// TestBroadcastExclusion: Broadcast reaches everyone in the room on every node except the sender;
// BroadcastAll reaches the sender too, exactly once (locally, never again through NATS).
func TestBroadcastExclusion(t *testing.T) {
	nodes := startCluster(t, 2)
	a1, a2 := dial(t, nodes[0], "room"), dial(t, nodes[0], "room")
	b1 := dial(t, nodes[1], "room")
	settle(t, "room", nodes, []int{2, 1})

	a1.send(t, "x")
	a1.send(t, "all:y")
	b1.expect(t, "x", "all:y")
	b1.send(t, "all:z") // sent after b1 saw a1's messages: a marker behind anything they caused
	a1.expect(t, "all:y", "all:z")
	a2.expect(t, "x", "all:y", "all:z")
	b1.expect(t, "all:z")
	for _, n := range nodes {
		if st := n.b.Stats(); st.DroppedOwn != 0 {
			t.Errorf("node %s received its own messages: %+v", n.b.NodeID(), st)
		}
	}
}

// TestInterestSubscriptions: a node is subscribed to a room's subject exactly while it has members
// there, so a node without members receives nothing for the room (asserted on the NATS server).
func TestInterestSubscriptions(t *testing.T) {
	s := startNATS(t, -1)
	a := startNode(t, s.ClientURL(), natsbroker.Options{NodeID: "a"})
	b := startNode(t, s.ClientURL(), natsbroker.Options{NodeID: "b"})
	nodes := []*node{a, b}
	subject := a.b.Subject("lobby")
	check := func(step string, server, roomsA, roomsB int) {
		t.Helper()
		if got := subsFor(t, s, subject); got != server {
			t.Errorf("%s: server has %d subscriptions for %s, want %d", step, got, subject, server)
		}
		if got := a.b.Stats().Rooms; got != roomsA {
			t.Errorf("%s: node a subscribed to %d rooms, want %d", step, got, roomsA)
		}
		if got := b.b.Stats().Rooms; got != roomsB {
			t.Errorf("%s: node b subscribed to %d rooms, want %d", step, got, roomsB)
		}
	}
	flush(t, nodes...)
	check("before join", 0, 0, 0)

	a1 := dial(t, a, "lobby")
	settle(t, "lobby", nodes, []int{1, 0})
	check("a joined", 1, 1, 0)
	a1.send(t, "all:1")
	a1.expect(t, "all:1")
	flush(t, a, b) // a's publish reached the server before b's round trip
	if st := b.b.Stats(); st.Received != 0 {
		t.Errorf("node b without members received %d room messages", st.Received)
	}

	b1 := dial(t, b, "lobby")
	settle(t, "lobby", nodes, []int{1, 1})
	check("b joined", 2, 1, 1)
	a1.send(t, "all:2")
	a1.expect(t, "all:2")
	b1.expect(t, "all:2")

	b1.close()
	settle(t, "lobby", nodes, []int{1, 0})
	check("b left", 1, 1, 0)
	a1.close()
	settle(t, "lobby", nodes, []int{0, 0})
	check("a left", 0, 0, 0)
}

// TestCountsConverge: App.Count, Rooms and RoomInfo on every node converge to the cluster totals, and
// drop when clients leave or a node shuts down.
func TestCountsConverge(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	dial(t, a, "r")
	dial(t, a, "r")
	dial(t, b, "r")
	c1, c2 := dial(t, c, "r"), dial(t, c, "r")
	dial(t, c, "r")
	s1 := dial(t, a, "s")
	waitCounts(t, nodes, map[string]int{"r": 6, "s": 1})
	info, err := b.app.RoomInfo("s", 0, 0)
	if err != nil || info.Connections != 1 {
		t.Errorf("RoomInfo(s) on a node without members = %+v, %v; want 1 connection", info, err)
	}

	c1.close()
	c2.close()
	s1.close()
	waitCounts(t, nodes, map[string]int{"r": 4})
	for _, n := range nodes {
		if _, err := n.app.RoomInfo("s", 0, 0); !errors.Is(err, engine.ErrNoRoom) {
			t.Errorf("RoomInfo(s) after everyone left: %v, want ErrNoRoom", err)
		}
	}

	c.stop(t) // its last member goes, its broker says goodbye
	waitCounts(t, []*node{a, b}, map[string]int{"r": 3})
}

// waitCounts waits until every node's Count and Rooms equal want (rooms absent from want are empty).
func waitCounts(t *testing.T, nodes []*node, want map[string]int) {
	t.Helper()
	for _, n := range nodes {
		waitFor(t, fmt.Sprintf("counts %v on %s", want, n.b.NodeID()), func() bool {
			for room, w := range want {
				if n.app.Count(room) != w {
					return false
				}
			}
			list := n.app.Rooms()
			if len(list) != len(want) {
				return false
			}
			for _, rc := range list {
				if want[rc.Name] != rc.Members {
					return false
				}
			}
			return true
		})
	}
}
