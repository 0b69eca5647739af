package rooms

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/openspeed/wsd/frame"
)

// fakeConn is a member for table tests.
type fakeConn struct {
	id   int
	loop int
	ms   Membership[*fakeConn]
	got  atomic.Int64
}

func (c *fakeConn) LoopIndex() int                     { return c.loop }
func (c *fakeConn) Membership() *Membership[*fakeConn] { return &c.ms }

func newConns(n, loops int) []*fakeConn {
	out := make([]*fakeConn, n)
	for i := range out {
		out[i] = &fakeConn{id: i, loop: i % loops}
	}
	return out
}

// countingFan records deliveries per member.
type countingFan struct {
	calls atomic.Int64
}

func (f *countingFan) Deliver(loop int, members []*fakeConn, skip *fakeConn, hasSkip bool, fs Frames) int {
	fr := fs[0]
	f.calls.Add(1)
	n := 0
	for _, m := range members {
		if m.loop != loop {
			panic("member in the wrong loop slice")
		}
		if hasSkip && m == skip {
			continue
		}
		m.got.Add(1)
		n++
	}
	fr.Retain(n)
	fr.Release(n)
	return n
}

func newFrame(p *FramePool, s string) *Frame {
	buf := p.Buffer()
	buf.B = append(buf.B, s...)
	return p.Finish(buf, frame.OpText)
}

func TestJoinLeaveBroadcast(t *testing.T) {
	fan := &countingFan{}
	tb := New[*fakeConn](3, fan)
	fp := NewFramePool(&frame.Pool{})
	conns := newConns(10, 3)
	for _, c := range conns {
		if err := tb.Join("a", c, RoomOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_ = tb.Join("a", conns[0], RoomOptions{}) // twice: no-op
	if got := tb.Count("a"); got != 10 {
		t.Fatalf("count %d", got)
	}
	f := newFrame(fp, "hi")
	if n := tb.Broadcast("a", conns[0], true, Frames{f}); n != 9 {
		t.Fatalf("delivered to %d, want 9", n)
	}
	if fan.calls.Load() != 3 {
		t.Fatalf("Deliver called %d times, want one per loop (3)", fan.calls.Load())
	}
	f.Release(1)
	for i := 0; i < 10; i += 2 {
		if !tb.Leave("a", conns[i]) {
			t.Fatalf("leave %d", i)
		}
	}
	if tb.Leave("a", conns[0]) {
		t.Fatal("second leave reported membership")
	}
	f = newFrame(fp, "again")
	if n := tb.Broadcast("a", nil, false, Frames{f}); n != 5 {
		t.Fatalf("delivered to %d, want 5", n)
	}
	f.Release(1)
	for i := 1; i < 10; i += 2 {
		tb.LeaveAll(conns[i])
	}
	if tb.Len() != 0 || tb.Lookup("a") != nil {
		t.Fatal("empty room not removed")
	}
}

func TestMembershipOrderAndLastRoom(t *testing.T) {
	tb := New[*fakeConn](1, &countingFan{})
	c := newConns(1, 1)[0]
	for _, r := range []string{"x", "y", "z"} {
		_ = tb.Join(r, c, RoomOptions{})
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
	fan := &countingFan{}
	tb := New[*fakeConn](2, fan)
	fp := NewFramePool(&frame.Pool{})
	conns := newConns(200, 2)
	for _, c := range conns {
		_ = tb.Join("r", c, RoomOptions{})
		_ = tb.Join(fmt.Sprint("own", c.id%7), c, RoomOptions{})
	}
	in := map[*fakeConn]bool{}
	for _, c := range conns {
		in[c] = true
	}
	order := rand.Perm(len(conns))
	for _, i := range order[:150] {
		tb.Leave("r", conns[i])
		delete(in, conns[i])
		f := newFrame(fp, "x")
		before := snapshot(conns)
		tb.Broadcast("r", nil, false, Frames{f})
		f.Release(1)
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
	tb := New[*fakeConn](4, &countingFan{})
	conns := newConns(500, 4)
	var ok, full atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := tb.Join("capped", c, RoomOptions{Limit: 100})
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
	tb := New[*fakeConn](4, &countingFan{})
	fp := NewFramePool(&frame.Pool{})
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
					_ = tb.Join(room, c, RoomOptions{History: 4})
				case 2:
					tb.Leave(room, c)
				default:
					f := newFrame(fp, "m")
					tb.Broadcast(room, c, true, Frames{f})
					f.Release(1)
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

func TestHistoryRing(t *testing.T) {
	tb := New[*fakeConn](1, &countingFan{})
	fp := NewFramePool(&frame.Pool{})
	c := newConns(1, 1)[0]
	_ = tb.Join("h", c, RoomOptions{History: 3})
	for i := 0; i < 5; i++ {
		f := newFrame(fp, fmt.Sprint("m", i))
		tb.Broadcast("h", nil, false, Frames{f})
		f.Release(1)
	}
	var got []string
	for _, e := range tb.Lookup("h").History() {
		got = append(got, string(e.Data))
	}
	if fmt.Sprint(got) != "[m2 m3 m4]" {
		t.Fatal(got)
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
