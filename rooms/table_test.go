package rooms

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/openspeed/wsd/frame"
	"github.com/valyala/bytebufferpool"
)

// fakeConn is a member for table tests.
type fakeConn struct {
	id   int
	loop int
	ms   Membership[*fakeConn]
	got  atomic.Int64
	pres []PresenceChange // presence events received (guarded by mu)
	mu   sync.Mutex
	offs []uint64 // offsets received, in order (deliveries and replays)
}

func (c *fakeConn) LoopIndex() int                     { return c.loop }
func (c *fakeConn) Membership() *Membership[*fakeConn] { return &c.ms }
func (c *fakeConn) Variant() uint8                     { return uint8(c.id % 2) }

// Presence: even members take part, as user u<id%3>.
func (c *fakeConn) Presence() (Client, bool) {
	return Client{User: fmt.Sprint("u", c.id%3), Conn: fmt.Sprint("c", c.id)}, c.id%2 == 0
}

func (c *fakeConn) receive(p *Pub) {
	c.got.Add(1)
	c.mu.Lock()
	c.offs = append(c.offs, p.Position.Offset)
	c.mu.Unlock()
}

func (c *fakeConn) offsets() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]uint64(nil), c.offs...)
}

func newConns(n, loops int) []*fakeConn {
	out := make([]*fakeConn, n)
	for i := range out {
		out[i] = &fakeConn{id: i, loop: i % loops}
	}
	return out
}

// countingFan records deliveries per member; variant v of a publication is its main frame.
type countingFan struct {
	calls    atomic.Int64
	prepared atomic.Int64
}

func (f *countingFan) Prepare(p *Pub, variants []uint8) {
	if p.Presence != nil {
		return // the fake records presence events in Deliver
	}
	for _, v := range variants {
		if p.Frames[v] == nil {
			f.prepared.Add(1)
			p.Main.Retain(1)
			p.Frames[v] = p.Main
		}
	}
}

func (f *countingFan) Deliver(loop int, members []*fakeConn, skip *fakeConn, hasSkip bool, p *Pub) int {
	if p.Presence != nil {
		for _, m := range members {
			m.mu.Lock()
			m.pres = append(m.pres, *p.Presence)
			m.mu.Unlock()
		}
		return 0
	}
	f.calls.Add(1)
	n := 0
	for _, m := range members {
		if m.loop != loop {
			panic("member in the wrong loop slice")
		}
		if p.Frames[m.Variant()] == nil {
			panic("variant not prepared")
		}
		if hasSkip && m == skip {
			continue
		}
		m.receive(p)
		n++
	}
	return n
}

func (f *countingFan) Replay(m *fakeConn, p *Pub) {
	if p.Frames[m.Variant()] == nil {
		panic("variant not prepared for replay")
	}
	m.receive(p)
}

// newFrame builds a text frame of s in a buffer of exactly its size (so what a history keeps of it,
// entryCost, does not depend on the pool's state).
func newFrame(p *FramePool, s string) *Frame {
	buf := &bytebufferpool.ByteBuffer{B: make([]byte, frame.MaxServerHeaderSize, frame.MaxServerHeaderSize+len(s))}
	buf.B = append(buf.B, s...)
	return p.Finish(buf, frame.OpText)
}

// entryCost is what a history entry of an n-byte newFrame costs.
func entryCost(n int) int64 { return int64(frame.MaxServerHeaderSize+n) + entryOverhead }

// testTable is a table over loops loops with history opts for rooms created by publications.
func testTable(loops int, defaults RoomOptions) (*Table[*fakeConn], *countingFan) {
	fan := &countingFan{}
	fp := NewFramePool(&frame.Pool{})
	return New(Options[*fakeConn]{Loops: loops, Fanout: fan, Frames: fp, Defaults: defaults}), fan
}

// publish publishes s to room (except skip when not nil) and returns the result.
func publish(tb *Table[*fakeConn], room, s string, skip *fakeConn) PubResult {
	p := tb.NewPub(room)
	p.Main = newFrame(tb.opts.Frames, s)
	if skip != nil {
		tb.Skip(p, skip)
	}
	var res PubResult
	p.OnDone(func(r PubResult) { res = r })
	tb.Publish(p)
	return res
}

func join(t testing.TB, tb *Table[*fakeConn], room string, c *fakeConn, o RoomOptions) Position {
	t.Helper()
	pos, err := tb.Join(room, c, o)
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

func TestJoinLeaveBroadcast(t *testing.T) {
	tb, fan := testTable(3, RoomOptions{})
	conns := newConns(10, 3)
	for _, c := range conns {
		join(t, tb, "a", c, RoomOptions{})
	}
	join(t, tb, "a", conns[0], RoomOptions{}) // twice: no-op
	if got := tb.Count("a"); got != 10 {
		t.Fatalf("count %d", got)
	}
	if res := publish(tb, "a", "hi", conns[0]); res.Delivered != 9 || res.Position.Offset != 1 {
		t.Fatalf("delivered to %d at %+v, want 9 at offset 1", res.Delivered, res.Position)
	}
	if fan.calls.Load() != 3 {
		t.Fatalf("Deliver called %d times, want one per loop (3)", fan.calls.Load())
	}
	if fan.prepared.Load() != 2 {
		t.Fatalf("%d variants prepared, want 2", fan.prepared.Load())
	}
	for i := 0; i < 10; i += 2 {
		if !tb.Leave("a", conns[i]) {
			t.Fatalf("leave %d", i)
		}
	}
	if tb.Leave("a", conns[0]) {
		t.Fatal("second leave reported membership")
	}
	if res := publish(tb, "a", "again", nil); res.Delivered != 5 || res.Position.Offset != 2 {
		t.Fatalf("delivered to %d at %+v, want 5 at offset 2", res.Delivered, res.Position)
	}
	for i := 1; i < 10; i += 2 {
		tb.LeaveAll(conns[i])
	}
	if tb.Len() != 0 || tb.Lookup("a") != nil {
		t.Fatal("empty room not removed")
	}
}

func TestMembershipOrderAndLastRoom(t *testing.T) {
	tb, _ := testTable(1, RoomOptions{})
	c := newConns(1, 1)[0]
	for _, r := range []string{"x", "y", "z"} {
		join(t, tb, r, c, RoomOptions{})
	}
	if got := fmt.Sprint(tb.RoomsOf(c)); got != "[x y z]" {
		t.Fatal(got)
	}
	tb.Leave("z", c)
	if tb.LastRoom(c) != "y" {
		t.Fatal(tb.LastRoom(c))
	}
	tb.Leave("x", c)
	if got := fmt.Sprint(tb.RoomsOf(c)); got != "[y]" {
		t.Fatal(got)
	}
	tb.LeaveAll(c)
	if tb.LastRoom(c) != "" || tb.Len() != 0 {
		t.Fatal("not empty")
	}
}

// TestSwapRemoveIndexes leaves members in random order and checks that every broadcast reaches exactly
// the members still in, which fails if a swap-remove leaves a stale index behind.
func TestSwapRemoveIndexes(t *testing.T) {
	tb, _ := testTable(2, RoomOptions{})
	conns := newConns(200, 2)
	for _, c := range conns {
		join(t, tb, "r", c, RoomOptions{})
		join(t, tb, fmt.Sprint("own", c.id%7), c, RoomOptions{})
	}
	in := map[*fakeConn]bool{}
	for _, c := range conns {
		in[c] = true
	}
	order := rand.Perm(len(conns))
	for _, i := range order[:150] {
		tb.Leave("r", conns[i])
		delete(in, conns[i])
		before := snapshot(conns)
		publish(tb, "r", "x", nil)
		for j, c := range conns {
			want := before[j]
			if in[c] {
				want++
			}
			if c.got.Load() != want {
				t.Fatalf("member %d got %d deliveries, want %d", c.id, c.got.Load(), want)
			}
		}
	}
}

func snapshot(conns []*fakeConn) []int64 {
	out := make([]int64, len(conns))
	for i, c := range conns {
		out[i] = c.got.Load()
	}
	return out
}

// TestLimitUnderJoinStorm joins 500 members concurrently to a room capped at 100.
func TestLimitUnderJoinStorm(t *testing.T) {
	tb, _ := testTable(4, RoomOptions{})
	conns := newConns(500, 4)
	var ok, full atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := tb.Join("capped", c, RoomOptions{Limit: 100})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrFull):
				full.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 100 || full.Load() != 400 || tb.Count("capped") != 100 {
		t.Fatalf("ok %d full %d count %d", ok.Load(), full.Load(), tb.Count("capped"))
	}
}

// TestConcurrentChurn runs joins, leaves, broadcasts and LeaveAll from many goroutines (for -race) and
// checks the table ends empty and consistent.
func TestConcurrentChurn(t *testing.T) {
	tb, _ := testTable(4, RoomOptions{})
	conns := newConns(64, 4)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 1))
			for i := 0; i < 2000; i++ {
				c := conns[rng.IntN(len(conns))]
				room := fmt.Sprint("room", rng.IntN(5))
				switch rng.IntN(4) {
				case 0, 1:
					_, _ = tb.Join(room, c, RoomOptions{History: HistoryOptions{Size: 4}})
				case 2:
					tb.Leave(room, c)
				default:
					publish(tb, room, "m", c)
				}
			}
		}(uint64(g))
	}
	wg.Wait()
	total := 0
	for _, rc := range tb.List() {
		total += rc.Members
	}
	sum := 0
	for _, c := range conns {
		sum += len(tb.RoomsOf(c))
		tb.LeaveAll(c)
	}
	if sum != total {
		t.Fatalf("memberships %d, room counts %d", sum, total)
	}
	if tb.Len() != 0 {
		t.Fatalf("%d rooms left", tb.Len())
	}
}

func TestFrameRefcount(t *testing.T) {
	fp := NewFramePool(&frame.Pool{})
	f := newFrame(fp, "payload")
	if string(f.Payload()) != "payload" || f.Opcode() != frame.OpText {
		t.Fatalf("%q", f.Payload())
	}
	h, size, _, err := frame.ParseHeader(f.Wire())
	if err != nil || h.Length != 7 || string(f.Wire()[size:]) != "payload" {
		t.Fatal(h, err)
	}
	f.Retain(2)
	f.Release(2)
	if f.Wire() == nil {
		t.Fatal("released early")
	}
	f.Release(1)
}
