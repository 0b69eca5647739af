package rooms

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
)

// fakeSeq is a sequencing Broker for table tests, keeping the contract of rooms.Broker the way the
// JetStream broker does: it stores every publication (the cluster's stream), delivers a room's
// publications in order through Inbound.Deliver only while the table has interest in the room,
// answers every Interest(on) with Sync (its current position), and reads History asynchronously.
// All events but History go through one queue, handled by one goroutine: the broker's worker.
type fakeSeq struct {
	in       Inbound
	mu       sync.Mutex
	cond     *sync.Cond
	queue    []func()
	closed   bool
	done     chan struct{}
	stored   map[string][]*Pub // guarded by mu
	interest map[string]bool   // worker goroutine only
	syncs    atomic.Int64
	histWG   sync.WaitGroup
}

const fakeEpoch = "E1"

func newFakeSeq() *fakeSeq {
	f := &fakeSeq{stored: map[string][]*Pub{}, interest: map[string]bool{}, done: make(chan struct{})}
	f.cond = sync.NewCond(&f.mu)
	return f
}

func (f *fakeSeq) Start(in Inbound) error {
	f.in = in
	go f.run()
	return nil
}

func (f *fakeSeq) run() {
	defer close(f.done)
	for {
		f.mu.Lock()
		for len(f.queue) == 0 && !f.closed {
			f.cond.Wait()
		}
		if len(f.queue) == 0 {
			f.mu.Unlock()
			return
		}
		fn := f.queue[0]
		f.queue = f.queue[1:]
		f.mu.Unlock()
		fn()
	}
}

func (f *fakeSeq) post(fn func()) {
	f.mu.Lock()
	f.queue = append(f.queue, fn)
	f.cond.Signal()
	f.mu.Unlock()
}

func (f *fakeSeq) Sequenced() bool { return true }

// Publish stores p (a copy of its frame) and delivers it when the table has interest in the room.
func (f *fakeSeq) Publish(p *Pub) {
	f.post(func() {
		f.mu.Lock()
		list := f.stored[p.Room]
		p.Position = Position{Offset: uint64(len(list) + 1), Epoch: fakeEpoch}
		p.At = time.Now().UnixNano()
		kept := f.in.NewPub(p.Room)
		kept.Position, kept.At, kept.Main = p.Position, p.At, p.Main
		p.Main.Retain(1)
		f.stored[p.Room] = append(list, kept)
		f.mu.Unlock()
		if f.interest[p.Room] {
			f.in.Deliver(p)
			return
		}
		p.Finish(PubResult{Position: p.Position})
	})
}

func (f *fakeSeq) position(room string) Position {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Position{Offset: uint64(len(f.stored[room])), Epoch: fakeEpoch}
}

func (f *fakeSeq) Interest(room string, on bool) {
	f.post(func() {
		f.interest[room] = on
		if on {
			f.syncs.Add(1)
			f.in.Sync(room, f.position(room), nil)
		}
	})
}

// History answers from another goroutine, like a read of the cluster's stream.
func (f *fakeSeq) History(room string, since Position, limit int, done func(HistoryReply)) {
	f.histWG.Add(1)
	go func() {
		defer f.histWG.Done()
		f.mu.Lock()
		list := f.stored[room]
		h := HistoryReply{Position: Position{Offset: uint64(len(list)), Epoch: fakeEpoch}}
		if since.Epoch == fakeEpoch {
			for _, p := range list[min(int(since.Offset), len(list)):] {
				if len(h.Pubs) == limit {
					break
				}
				c := f.in.NewPub(room)
				c.Position, c.At, c.Main = p.Position, p.At, p.Main
				p.Main.Retain(1)
				h.Pubs = append(h.Pubs, c)
			}
		}
		f.mu.Unlock()
		done(h)
	}()
}

func (f *fakeSeq) RemoteCount(string) int         { return 0 }
func (f *fakeSeq) RemoteRooms() map[string]int    { return nil }
func (f *fakeSeq) Presence(PresenceChange)        {}
func (f *fakeSeq) RemotePresence(string) []Client { return nil }
func (f *fakeSeq) Close() error                   { f.stop(); return nil }

// wait runs fn on the worker goroutine, after everything queued before it.
func (f *fakeSeq) wait(fn func()) {
	d := make(chan struct{})
	f.post(func() { fn(); close(d) })
	<-d
}

func (f *fakeSeq) flush() { f.wait(func() {}) }

func (f *fakeSeq) interestIn(room string) (on bool) {
	f.wait(func() { on = f.interest[room] })
	return on
}

func (f *fakeSeq) stop() {
	f.histWG.Wait()
	f.mu.Lock()
	f.closed = true
	f.cond.Signal()
	f.mu.Unlock()
	<-f.done
	f.mu.Lock()
	for _, l := range f.stored {
		releasePubs(l)
	}
	f.stored = nil
	f.mu.Unlock()
}

// publishSeq publishes s to room through the table (the outcome arrives later, on the fake's goroutine).
func publishSeq(tb *Table[*fakeConn], room, s string) {
	p := tb.NewPub(room)
	p.Main = newFrame(tb.opts.Frames, s)
	tb.Publish(p)
}

// seqTable is a table on a fakeSeq; the test's cleanup stops the fake.
func seqTable(t *testing.T, loops int) (*Table[*fakeConn], *fakeSeq) {
	t.Helper()
	f := newFakeSeq()
	tb := New(Options[*fakeConn]{Loops: loops, Fanout: &countingFan{}, Broker: f,
		Frames: NewFramePool(&frame.Pool{}), Defaults: RoomOptions{}})
	if err := tb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tb.Close() })
	return tb, f
}

// joinFromAsync joins from since and waits for the outcome.
func joinFromAsync(t *testing.T, tb *Table[*fakeConn], room string, c *fakeConn, o RoomOptions, since Position) Recovery {
	t.Helper()
	ch := make(chan Recovery, 1)
	tb.JoinFrom(room, c, o, since, func(r Recovery, err error, _ bool) {
		if err != nil {
			t.Error(err)
		}
		ch <- r
	})
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("JoinFrom never completed")
		return Recovery{}
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func checkContiguous(t *testing.T, got []uint64, from, to uint64) {
	t.Helper()
	if uint64(len(got)) != to-from+1 {
		t.Fatalf("got %d offsets (%v...), want %d..%d", len(got), got[:min(len(got), 5)], from, to)
	}
	for i, off := range got {
		if off != from+uint64(i) {
			t.Fatalf("offset %d at index %d, want %d", off, i, from+uint64(i))
		}
	}
}

// TestSequencedRecoveryWithoutInterest: on a node with no member in the room (no interest), a join
// from an old position waits for the cluster's position, reads what its own history lacks from the
// broker, and recovers everything, then receives the next publications live.
func TestSequencedRecoveryWithoutInterest(t *testing.T) {
	tb, f := seqTable(t, 2)
	c := newConns(1, 2)[0]
	opts := RoomOptions{History: HistoryOptions{Size: 100}}
	for i := 0; i < 50; i++ {
		publishSeq(tb, "r", "x")
	}
	f.flush()
	rec := joinFromAsync(t, tb, "r", c, opts, Position{Offset: 10, Epoch: fakeEpoch})
	if !rec.Recovered || rec.Missed != 40 || rec.Position != (Position{Offset: 50, Epoch: fakeEpoch}) {
		t.Fatalf("recovery %+v", rec)
	}
	for i := 0; i < 5; i++ {
		publishSeq(tb, "r", "y")
	}
	waitUntil(t, "live publications", func() bool { return len(c.offsets()) == 45 })
	checkContiguous(t, c.offsets(), 11, 55)
	if !f.interestIn("r") {
		t.Fatal("no interest in a room with a member")
	}
}

// TestSequencedRejoinRacingPublications: publishers publish through the sequencer while the only
// member of a room keeps leaving (the node loses interest) and rejoining from the last offset it
// received, with a history ring smaller than what it misses: every rejoin recovers (from the ring
// or the broker), and the member sees every offset exactly once, in order.
func TestSequencedRejoinRacingPublications(t *testing.T) {
	tb, f := seqTable(t, 4)
	m := newConns(1, 4)[0]
	opts := RoomOptions{History: HistoryOptions{Size: 8}}
	pos := joinFromAsync(t, tb, "race", m, opts, Position{}).Position
	const publishers, each = 4, 1500
	var wg sync.WaitGroup
	var stop atomic.Bool
	for g := 0; g < publishers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				publishSeq(tb, "race", "p")
				if i%64 == 0 {
					time.Sleep(100 * time.Microsecond)
				}
			}
		}()
	}
	go func() { wg.Wait(); stop.Store(true) }()
	rejoins := 0
	for !stop.Load() {
		tb.Leave("race", m)
		since := pos
		if offs := m.offsets(); len(offs) > 0 {
			since.Offset = offs[len(offs)-1]
		}
		rec := joinFromAsync(t, tb, "race", m, opts, since)
		if !rec.Recovered {
			t.Fatalf("rejoin %d from %+v: %+v", rejoins, since, rec)
		}
		rejoins++
	}
	total := uint64(publishers * each)
	deadline := time.Now().Add(10 * time.Second)
	for f.flush(); len(m.offsets()) < int(total); f.flush() {
		if time.Now().After(deadline) {
			offs := m.offsets()
			t.Fatalf("member got %d of %d publications, last %v, stored %d, table at %+v", len(offs), total,
				offs[max(0, len(offs)-3):], f.position("race").Offset, tb.Position("race"))
		}
		time.Sleep(time.Millisecond)
	}
	checkContiguous(t, m.offsets(), 1, total)
	t.Logf("%d rejoins, %d syncs", rejoins, f.syncs.Load())
}

// TestSequencedInterestFollowsPendingJoins: a join waiting for the cluster's position holds the
// room's interest even when the room's last member leaves meanwhile, and the interest ends once
// nobody is left.
func TestSequencedInterestFollowsPendingJoins(t *testing.T) {
	tb, f := seqTable(t, 1)
	conns := newConns(2, 1)
	a, b := conns[0], conns[1]
	joinFromAsync(t, tb, "r", a, RoomOptions{}, Position{})
	for i := 0; i < 3; i++ {
		publishSeq(tb, "r", "x")
	}
	f.flush()
	// The room keeps no history on this node: the broker's history covers it.
	rec := joinFromAsync(t, tb, "r", b, RoomOptions{}, Position{Offset: 1, Epoch: fakeEpoch})
	if !rec.Recovered || rec.Missed != 2 {
		t.Fatalf("b's recovery: %+v", rec)
	}
	tb.Leave("r", a)
	tb.Leave("r", b)
	if f.interestIn("r") {
		t.Fatal("interest kept after everyone left")
	}
	waitUntil(t, "the room to go", func() bool { return tb.Lookup("r") == nil })
	if got := fmt.Sprint(a.offsets()); got != "[1 2 3]" {
		t.Fatal(got)
	}
}

// relayStub is a relay Broker (Sequenced false) that carries nothing: what matters here is the
// interest the table reports.
type relayStub struct{ fakeSeq }

func (r *relayStub) Sequenced() bool                                   { return false }
func (r *relayStub) Start(Inbound) error                               { return nil }
func (r *relayStub) Publish(*Pub)                                      {}
func (r *relayStub) Interest(string, bool)                             {}
func (r *relayStub) History(string, Position, int, func(HistoryReply)) {}
func (r *relayStub) Close() error                                      { return nil }

// TestRelayHistoryAfterInterestLapse: with a relay, a node that had no member in a room did not
// receive the other nodes' publications meanwhile: its history of the room is no longer complete,
// so a rejoin from a position of before must not claim recovery (a new epoch starts).
func TestRelayHistoryAfterInterestLapse(t *testing.T) {
	tb := New(Options[*fakeConn]{Loops: 1, Fanout: &countingFan{}, Broker: &relayStub{},
		Frames: NewFramePool(&frame.Pool{})})
	conns := newConns(2, 1)
	a := conns[0]
	opts := RoomOptions{History: HistoryOptions{Size: 100}}
	pos := join(t, tb, "r", a, opts)
	publish(tb, "r", "1", nil)
	tb.Leave("r", a) // the node loses interest: other nodes' publications no longer arrive
	publish(tb, "r", "2", nil)
	rec := joinFrom(t, tb, "r", a, Position{Offset: 1, Epoch: pos.Epoch})
	if rec.Recovered || rec.Reason != ReasonEpoch || rec.Position.Epoch == pos.Epoch {
		t.Fatalf("rejoin after the interest lapsed: %+v", rec)
	}
	// While the node keeps interest, recovery works.
	b := conns[1]
	join(t, tb, "r", b, opts)
	last := publish(tb, "r", "3", nil).Position
	tb.Leave("r", a)
	publish(tb, "r", "4", nil)
	if rec := joinFrom(t, tb, "r", a, last); !rec.Recovered || rec.Missed != 1 {
		t.Fatalf("rejoin while another member kept the interest: %+v", rec)
	}
}
