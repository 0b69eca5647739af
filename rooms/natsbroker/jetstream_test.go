package natsbroker_test

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/rooms/natsbroker"
)

// jsCluster starts an embedded NATS server with JetStream and k nodes on it.
func jsCluster(t *testing.T, k int) (string, []*node) {
	t.Helper()
	s := startJS(t, -1, "")
	nodes := make([]*node, k)
	for i := range nodes {
		nodes[i] = startNode(t, s.ClientURL(), jsOpts(fmt.Sprintf("n%d", i)))
		if !nodes[i].b.Sequenced() {
			t.Fatal("node not in JetStream mode")
		}
	}
	return s.ClientURL(), nodes
}

func jsOpts(id string) natsbroker.Options {
	return natsbroker.Options{NodeID: id, History: natsbroker.HistoryJetStream, Storage: "memory"}
}

// pub is one publication as a /rec member receives it.
type pub struct {
	off   uint64
	epoch string
	text  string
}

// joined is the outcome of a /rec join.
type joined struct {
	recovered bool
	pos       engine.Position
	missed    int
	reason    string
}

// recClient is a client of /rec/:room.
type recClient struct {
	*client
	join  joined
	early []string // publications received before the join's outcome
}

// dialRec connects to /rec/room on n from since (zero: a plain join) and waits for the join's outcome;
// publications replayed before it are kept for next.
func dialRec(tb testing.TB, n *node, room string, since engine.Position) *recClient {
	tb.Helper()
	u := "ws://" + n.addr + "/rec/" + url.PathEscape(room)
	if since.Epoch != "" {
		u += fmt.Sprintf("?offset=%d&epoch=%s", since.Offset, url.QueryEscape(since.Epoch))
	}
	rc := &recClient{client: dialURL(tb, u)}
	for {
		m := rc.client.next(tb)
		if rest, ok := strings.CutPrefix(m, "joined "); ok {
			rc.join = parseJoined(tb, rest)
			return rc
		}
		rc.early = append(rc.early, m)
	}
}

func parseJoined(tb testing.TB, s string) joined {
	tb.Helper()
	f := strings.SplitN(s, " ", 5)
	if len(f) < 4 {
		tb.Fatalf("bad join answer %q", s)
	}
	off, _ := strconv.ParseUint(f[1], 10, 64)
	missed, _ := strconv.Atoi(f[3])
	j := joined{recovered: f[0] == "true", pos: engine.Position{Offset: off, Epoch: f[2]}, missed: missed}
	if len(f) == 5 {
		j.reason = f[4]
	}
	return j
}

// next returns the next message (those received before the join's outcome first).
func (rc *recClient) next(tb testing.TB) string {
	tb.Helper()
	if len(rc.early) > 0 {
		m := rc.early[0]
		rc.early = rc.early[1:]
		return m
	}
	return rc.client.next(tb)
}

// nextPub reads the next publication.
func (rc *recClient) nextPub(tb testing.TB) pub {
	tb.Helper()
	return parsePub(tb, rc.next(tb))
}

func parsePub(tb testing.TB, m string) pub {
	tb.Helper()
	f := strings.SplitN(m, " ", 3)
	off, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil || len(f) != 3 {
		tb.Fatalf("not a publication: %q", m)
	}
	return pub{off: off, epoch: f[1], text: f[2]}
}

// expectRun reads n publications and checks that they continue from after, contiguously, in epoch.
func (rc *recClient) expectRun(tb testing.TB, after engine.Position, n int) []pub {
	tb.Helper()
	out := make([]pub, 0, n)
	for i := range n {
		p := rc.nextPub(tb)
		if p.off != after.Offset+uint64(i)+1 || p.epoch != after.Epoch {
			tb.Fatalf("publication %d: offset %d epoch %s, want offset %d epoch %s (lost, duplicated or reordered)",
				i, p.off, p.epoch, after.Offset+uint64(i)+1, after.Epoch)
		}
		out = append(out, p)
	}
	return out
}

// quiet checks that nothing more arrives for a moment (no duplicate after the expected run).
func (rc *recClient) expectNothing(tb testing.TB) {
	tb.Helper()
	if len(rc.early) > 0 {
		tb.Fatalf("unexpected message %q", rc.early[0])
	}
	select {
	case m := <-rc.msgs:
		tb.Fatalf("unexpected message %q", m)
	case <-time.After(100 * time.Millisecond):
	}
}

// publishN sends n messages "<tag>-<i>" from cl (a /rec or /p client: each is published with
// BroadcastAll).
func publishN(tb testing.TB, cl *client, tag string, n int) {
	tb.Helper()
	for i := range n {
		if err := cl.write(fmt.Sprintf("%s-%d", tag, i)); err != nil {
			tb.Fatalf("write: %v", err)
		}
	}
}

// TestJetStreamOffsetsAcrossNodes: publishers on three nodes publish to one room at the same time;
// every member on every node receives every publication exactly once, with contiguous offsets from
// 1, in one epoch, and all members see the same publication at the same offset (one order for the
// whole cluster). Each publisher's publications keep their order.
func TestJetStreamOffsetsAcrossNodes(t *testing.T) {
	const each = 400
	_, nodes := jsCluster(t, 3)
	var senders, listeners []*recClient
	for _, n := range nodes {
		senders = append(senders, dialRec(t, n, "order", engine.Position{}))
		listeners = append(listeners, dialRec(t, n, "order", engine.Position{}))
	}
	start := listeners[0].join.pos
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			publishN(t, s.client, strconv.Itoa(i), each)
		}()
	}
	total := each * len(senders)
	got := make([][]pub, len(listeners)+len(senders))
	for i, rc := range append(append([]*recClient{}, listeners...), senders...) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = rc.expectRun(t, start, total)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i := range got[1:] {
		for j := range got[0] {
			if got[i+1][j].text != got[0][j].text {
				t.Fatalf("member %d sees %q at offset %d, member 0 sees %q", i+1, got[i+1][j].text, got[0][j].off, got[0][j].text)
			}
		}
	}
	checkPerSender(t, got[0], len(senders), each)
	var conflicts uint64
	for _, n := range nodes {
		st := n.b.Stats()
		conflicts += st.Conflicts
		if st.PublishFailures != 0 || st.DecodeErrors != 0 {
			t.Errorf("node %s: %+v", n.b.NodeID(), st)
		}
	}
	t.Logf("%d publications from %d nodes, %d commit conflicts retried", total, len(nodes), conflicts)
}

// checkPerSender checks that each sender's "<sender>-<i>" publications appear in order.
func checkPerSender(t *testing.T, ps []pub, senders, each int) {
	t.Helper()
	next := make([]int, senders)
	for _, p := range ps {
		s, i, ok := strings.Cut(p.text, "-")
		from, err1 := strconv.Atoi(s)
		seq, err2 := strconv.Atoi(i)
		if !ok || err1 != nil || err2 != nil || from >= senders || seq != next[from] {
			t.Fatalf("publication %q out of order (next %v)", p.text, next)
		}
		next[from]++
	}
}

// TestRecoverOnAnotherNode: a member on node a leaves, publishers on nodes a and b make 1,000
// publications, and it rejoins from its last position on node b (which received them: its own
// history serves the recovery) and on node c (which has no member in the room: the recovery reads
// JetStream): each time it gets all 1,000, in order, without duplicates, then live ones.
func TestRecoverOnAnotherNode(t *testing.T) {
	_, nodes := jsCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	pa, pb := dialRec(t, a, "r", engine.Position{}), dialRec(t, b, "r", engine.Position{})
	m := dialRec(t, a, "r", engine.Position{})
	publishN(t, pa.client, "warm", 5)
	last := m.expectRun(t, m.join.pos, 5)[4]
	pa.expectRun(t, pa.join.pos, 5)
	pb.expectRun(t, pb.join.pos, 5)
	m.close()
	waitFor(t, "the member to leave", func() bool { return a.app.LocalCount("r") == 1 })

	since := engine.Position{Offset: last.off, Epoch: last.epoch}
	publishN(t, pa.client, "a", 500)
	publishN(t, pb.client, "b", 500)
	end := pa.expectRun(t, since, 1000)[999]
	// Node b delivers what JetStream republishes at its own pace: once its member pb has all 1,000,
	// its position is the end, and a rejoin there recovers all of them from its history (before, the
	// join recovered up to b's position and the rest came live: complete, but the ack's count was lower).
	pb.expectRun(t, since, 1000)
	for i, n := range []*node{b, c} {
		reads := n.b.Stats().HistoryReads
		began := time.Now()
		back := dialRec(t, n, "r", since)
		if !back.join.recovered || back.join.missed != 1000+i {
			t.Fatalf("rejoin on %s: %+v", n.b.NodeID(), back.join)
		}
		back.expectRun(t, since, 1000+i) // the 1,000, and the live one of the previous round
		took := time.Since(began)
		publishN(t, pa.client, "live", 1)
		next := pa.expectRun(t, engine.Position{Offset: end.off, Epoch: end.epoch}, 1)[0]
		pb.expectRun(t, engine.Position{Offset: end.off, Epoch: end.epoch}, 1)
		back.expectRun(t, engine.Position{Offset: end.off, Epoch: end.epoch}, 1)
		back.expectNothing(t)
		end = next
		t.Logf("node %s: recovered 1000 publications in %v (history reads from JetStream: %d)",
			n.b.NodeID(), took, n.b.Stats().HistoryReads-reads)
		back.close()
	}
}

// TestRecoverAfterNodeRestart: members of node a lose their node (it shuts down, its broker too);
// 1,000 publications are made on node b meanwhile; a new node a starts on the same NATS. The members
// rejoin from their last positions, one on the restarted node and one on node b: both recover all
// 1,000 (JetStream kept positions, epochs and history).
func TestRecoverAfterNodeRestart(t *testing.T) {
	natsURL, nodes := jsCluster(t, 2)
	a, b := nodes[0], nodes[1]
	pb := dialRec(t, b, "r", engine.Position{})
	m1, m2 := dialRec(t, a, "r", engine.Position{}), dialRec(t, a, "r", engine.Position{})
	publishN(t, pb.client, "before", 3)
	last := m1.expectRun(t, m1.join.pos, 3)[2]
	m2.expectRun(t, m2.join.pos, 3)
	since := engine.Position{Offset: last.off, Epoch: last.epoch}

	a.stop(t)
	publishN(t, pb.client, "during", 1000)
	pb.expectRun(t, pb.join.pos, 3)
	pb.expectRun(t, since, 1000)
	a2 := startNode(t, natsURL, jsOpts("n0"))

	for _, n := range []*node{a2, b} {
		back := dialRec(t, n, "r", since)
		if !back.join.recovered || back.join.missed != 1000 {
			t.Fatalf("rejoin on %s: %+v", n.b.NodeID(), back.join)
		}
		ps := back.expectRun(t, since, 1000)
		if ps[0].text != "during-0" || ps[999].text != "during-999" {
			t.Fatalf("recovered %q..%q", ps[0].text, ps[999].text)
		}
	}
}

// TestJoinRacingPublicationsOnColdNode: while a publisher on node a publishes steadily (about 2,000
// a second), a member keeps joining a room on node b, where nobody else is (the node has no interest
// in the room before each join), from the last position it received, reads for a moment and leaves:
// every rejoin recovers, and the member's publications are contiguous and in order across all
// rounds.
func TestJoinRacingPublicationsOnColdNode(t *testing.T) {
	_, nodes := jsCluster(t, 2)
	a, b := nodes[0], nodes[1]
	src := dialRec(t, a, "cold", engine.Position{})
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if src.write(fmt.Sprintf("p-%d", i)) != nil {
				return
			}
			if i%2 == 1 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	pos, seen := src.join.pos, 0
	const rounds = 30
	for round := range rounds {
		m := dialRec(t, b, "cold", pos)
		if !m.join.recovered {
			t.Fatalf("round %d: rejoin from %+v not recovered: %+v", round, pos, m.join)
		}
		for until := time.Now().Add(time.Duration(10+round%5*10) * time.Millisecond); ; {
			p := m.expectRun(t, pos, 1)[0]
			pos, seen = engine.Position{Offset: p.off, Epoch: p.epoch}, seen+1
			if time.Now().After(until) && len(m.early) == 0 && len(m.msgs) == 0 {
				break
			}
		}
		m.close()
		waitFor(t, "b to lose interest", func() bool { return b.app.LocalCount("cold") == 0 })
	}
	t.Logf("%d publications received over %d cold joins, %d history reads", seen, rounds, b.b.Stats().HistoryReads)
}

// TestFirstJoinGap closes the gap of the relay: on a node where a room has no member, a client
// joins and learns its position; every publication after that position reaches it, including one
// made by another node at the very moment of the join.
func TestFirstJoinGap(t *testing.T) {
	_, nodes := jsCluster(t, 2)
	a, b := nodes[0], nodes[1]
	for i := range 25 {
		room := fmt.Sprintf("gap-%d", i)
		src := dialRec(t, a, room, engine.Position{})
		publishN(t, src.client, "before", 2)
		racing := make(chan struct{})
		go func() {
			defer close(racing)
			_ = src.write("racing")
		}()
		m := dialRec(t, b, room, engine.Position{})
		<-racing
		_ = src.write("after")
		after := m.join.pos
		want := 4 - int(after.Offset) // "before" x2, "racing", "after"
		if want < 1 {
			t.Fatalf("%s: joined at %+v", room, after)
		}
		ps := m.expectRun(t, after, want)
		if ps[len(ps)-1].text != "after" {
			t.Fatalf("%s: last publication %q", room, ps[len(ps)-1].text)
		}
		m.close()
		src.close()
	}
}

// TestRelayRecoveryAcrossNodes: without JetStream, positions are per node: a client that rejoins on
// another node with its position is told it did not recover (another epoch).
func TestRelayRecoveryAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	if a.b.Sequenced() {
		t.Fatal("JetStream mode without JetStream")
	}
	src := dialRec(t, a, "r", engine.Position{})
	m, keep := dialRec(t, b, "r", engine.Position{}), dialRec(t, b, "r", engine.Position{})
	settle(t, "r", nodes, []int{1, 2})
	publishN(t, src.client, "x", 3)
	p := m.expectRun(t, m.join.pos, 3)[2]
	m.close()
	publishN(t, src.client, "y", 2)
	keep.expectRun(t, keep.join.pos, 5) // b received the y publications
	back := dialRec(t, a, "r", engine.Position{Offset: p.off, Epoch: p.epoch})
	if back.join.recovered || back.join.reason != "epoch" {
		t.Fatalf("rejoin on another node: %+v", back.join)
	}
	same := dialRec(t, b, "r", engine.Position{Offset: p.off, Epoch: p.epoch})
	if !same.join.recovered || same.join.missed != 2 {
		t.Fatalf("rejoin on the same node, which kept the room: %+v", same.join)
	}
	keep.close()
	same.close()
	waitFor(t, "b to lose interest", func() bool { return b.app.LocalCount("r") == 0 })
	publishN(t, src.client, "z", 1)
	last := engine.Position{Offset: p.off + 2, Epoch: p.epoch}
	if lapsed := dialRec(t, b, "r", last); lapsed.join.recovered {
		t.Fatalf("rejoin on a node that lost the room meanwhile: %+v", lapsed.join)
	}
}

// TestStartModes: History jetstream fails to start without JetStream; auto falls back to the relay,
// or, with JetStream, sequences; auto without any NATS falls back after StartTimeout.
func TestStartModes(t *testing.T) {
	plain := startNATS(t, -1)
	if _, err := tryNode(t, plain.ClientURL(), natsbroker.Options{History: natsbroker.HistoryJetStream}); err == nil {
		t.Error("History jetstream started without JetStream")
	}
	if n := startNode(t, plain.ClientURL(), natsbroker.Options{}); n.b.Sequenced() {
		t.Error("auto without JetStream sequences")
	}
	js := startJS(t, -1, "")
	if n := startNode(t, js.ClientURL(), natsbroker.Options{Storage: "memory"}); !n.b.Sequenced() || !n.b.Stats().JetStream {
		t.Error("auto with JetStream does not sequence")
	}
	gone := startNATS(t, -1)
	url := gone.ClientURL()
	stopNATS(gone)
	if n := startNode(t, url, natsbroker.Options{StartTimeout: 100 * time.Millisecond}); n.b.Sequenced() {
		t.Error("auto without NATS sequences")
	}
	if _, err := tryNode(t, url, natsbroker.Options{History: natsbroker.HistoryJetStream, StartTimeout: 100 * time.Millisecond}); err == nil {
		t.Error("History jetstream started without NATS")
	}
}

// kick disconnects node id's NATS connection on the server side (nats.go reconnects).
func kick(t *testing.T, s *server.Server, id string) {
	t.Helper()
	cz, err := s.Connz(&server.ConnzOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cz.Conns {
		if c.Name == "wsd "+id {
			if err := s.DisconnectClientByID(c.Cid); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no connection of node %s", id)
}

// TestJetStreamReconnectCatchesUp: publishers on two nodes publish steadily while node b's NATS
// connection is cut twice. Node b misses live messages meanwhile, and its own publications wait (or
// their acknowledgement is lost). After each reconnect b reads what it missed back from the stream:
// in the end the members on both nodes have received the same publications, contiguous, without
// duplicates, and nothing published was lost.
func TestJetStreamReconnectCatchesUp(t *testing.T) {
	s := startJS(t, -1, "")
	o := func(id string) natsbroker.Options {
		o := jsOpts(id)
		o.NATS = []nats.Option{nats.ReconnectWait(50 * time.Millisecond)}
		return o
	}
	a, b := startNode(t, s.ClientURL(), o("a")), startNode(t, s.ClientURL(), o("b"))
	ma, mb := dialRec(t, a, "r", engine.Position{}), dialRec(t, b, "r", engine.Position{})
	sa, sb := dialRec(t, a, "r", engine.Position{}), dialRec(t, b, "r", engine.Position{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written [2]uint64 // per publisher, read after wg.Wait
	for i, cl := range []*recClient{sa, sb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
				if cl.write(fmt.Sprintf("%d-%d", i, n)) != nil {
					return
				}
				written[i]++
			}
		}()
	}
	for range 2 {
		time.Sleep(200 * time.Millisecond)
		kick(t, s, "b")
		waitFor(t, "b to reconnect", func() bool { return b.b.Stats().Reconnects > 0 && b.b.Connected() })
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	// Whatever b published is stored (or failed, counted) once b has read every message sb wrote
	// and its commits are resolved.
	deadline := time.Now().Add(wait)
	for st := b.app.Stats(); st.MessagesIn < written[1] || st.Broadcasts+b.b.Stats().PublishFailures < st.MessagesIn; st = b.app.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("b's commits: app %+v\nbroker %+v\n%s", b.app.Stats(), b.b.Stats(), b.b.DebugSeq())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = sa.write("end")
	var last []pub
	for _, m := range []*recClient{ma, mb} {
		var got []pub
		for pos := m.join.pos; ; {
			p := m.expectRun(t, pos, 1)[0]
			pos = engine.Position{Offset: p.off, Epoch: p.epoch}
			got = append(got, p)
			if p.text == "end" {
				break
			}
		}
		if last != nil && len(got) != len(last) {
			t.Fatalf("members received %d and %d publications", len(last), len(got))
		}
		last = got
	}
	sent := a.app.Stats().MessagesIn + b.app.Stats().MessagesIn
	failed := a.b.Stats().PublishFailures + b.b.Stats().PublishFailures
	if uint64(len(last)) != sent-failed {
		t.Errorf("%d publications received, %d sent, %d failed", len(last), sent, failed)
	}
	st := b.b.Stats()
	t.Logf("%d publications; b: %+v", len(last), st)
	if st.CaughtUp == 0 {
		t.Error("b never read back from the stream")
	}
}

// TestInterestAnswersEveryOn: in JetStream mode the broker answers every Interest(on) call with
// exactly one Sync, in call order, however the calls coalesce: the answer to the last one (the
// interest is on) carries the room's position; earlier ones may carry an error.
func TestInterestAnswersEveryOn(t *testing.T) {
	s := startJS(t, -1, "")
	b, in := startBroker(t, s.ClientURL(), jsOpts("x"))
	const flaps = 100
	for range flaps {
		b.Interest("r", true)
		b.Interest("r", false)
	}
	b.Interest("r", true)
	var last syncAnswer
	for range flaps + 1 {
		last = in.nextSync(t)
	}
	if last.room != "r" || last.err != nil || last.pos.Epoch == "" || last.pos.Offset != 0 {
		t.Fatalf("last answer %+v", last)
	}
	select {
	case extra := <-in.syncs:
		t.Fatalf("one answer too many: %+v", extra)
	case <-time.After(100 * time.Millisecond):
	}
}
