package rooms

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/valyala/bytebufferpool"
)

func TestOffsetsContiguousPerRoom(t *testing.T) {
	tb, _ := testTable(2, RoomOptions{})
	a, b := newConns(2, 2)[0], newConns(2, 2)[1]
	posA := join(t, tb, "a", a, RoomOptions{})
	join(t, tb, "b", b, RoomOptions{})
	if posA.Offset != 0 || posA.Epoch == "" {
		t.Fatalf("fresh room position %+v", posA)
	}
	for i := 1; i <= 5; i++ {
		if got := publish(tb, "a", "x", nil).Position; got.Offset != uint64(i) || got.Epoch != posA.Epoch {
			t.Fatalf("publication %d at %+v", i, got)
		}
	}
	if got := publish(tb, "b", "y", nil).Position.Offset; got != 1 {
		t.Fatalf("another room's first offset %d", got)
	}
	if got := tb.Position("a"); got.Offset != 5 {
		t.Fatalf("position %+v", got)
	}
	if fmt.Sprint(a.offsets()) != "[1 2 3 4 5]" {
		t.Fatal(a.offsets())
	}
}

func TestRoomNames(t *testing.T) {
	fan := &countingFan{}
	tb := New(Options[*fakeConn]{Loops: 1, Fanout: fan, MaxName: 8})
	c := newConns(1, 1)[0]
	for _, bad := range []string{"", "123456789", "\xff"} {
		if _, err := tb.Join(bad, c, RoomOptions{}); !errors.Is(err, ErrName) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	join(t, tb, "12345678", c, RoomOptions{})
}

func historyOffsets(tb *Table[*fakeConn], room string, after uint64) []uint64 {
	var out []uint64
	tb.History(room, after, 0, func(_ Position, es []HistoryEntry) {
		for _, e := range es {
			out = append(out, e.Offset)
		}
	})
	return out
}

func TestHistoryBounds(t *testing.T) {
	tb, _ := testTable(1, RoomOptions{})
	c := newConns(1, 1)[0]
	join(t, tb, "n", c, RoomOptions{History: HistoryOptions{Size: 3}})
	for i := 0; i < 5; i++ {
		publish(tb, "n", "m", nil)
	}
	if got := fmt.Sprint(historyOffsets(tb, "n", 0)); got != "[3 4 5]" {
		t.Fatal("count bound:", got)
	}
	if got := fmt.Sprint(historyOffsets(tb, "n", 4)); got != "[5]" {
		t.Fatal("after 4:", got)
	}
	// Bytes: each entry costs 10 payload bytes + overhead; room for two.
	join(t, tb, "b", c, RoomOptions{History: HistoryOptions{Size: 100, Bytes: 2 * entryCost(10)}})
	for i := 0; i < 4; i++ {
		publish(tb, "b", "0123456789", nil)
	}
	if got := fmt.Sprint(historyOffsets(tb, "b", 0)); got != "[3 4]" {
		t.Fatal("byte bound:", got)
	}
	// MaxEntry: a big publication is not kept, and what was before it goes too.
	join(t, tb, "e", c, RoomOptions{History: HistoryOptions{Size: 100, MaxEntry: 4}})
	publish(tb, "e", "abc", nil)
	publish(tb, "e", "abcdef", nil)
	publish(tb, "e", "xyz", nil)
	if got := fmt.Sprint(historyOffsets(tb, "e", 0)); got != "[3]" {
		t.Fatal("entry cap:", got)
	}
	st := tb.Stats()
	if st.NotKept != 1 || st.HistoryEntries != 3+2+1 {
		t.Fatalf("stats %+v", st)
	}
	if want := 3*entryCost(1) + 2*entryCost(10) + entryCost(3); st.HistoryBytes != want {
		t.Fatalf("history bytes %d, want %d", st.HistoryBytes, want)
	}
}

func TestHistoryBudgetAndTTL(t *testing.T) {
	fan := &countingFan{}
	budget := 4 * entryCost(1)
	tb := New(Options[*fakeConn]{Loops: 1, Fanout: fan, HistoryBudget: budget,
		Defaults: RoomOptions{History: HistoryOptions{Size: 10, TTL: time.Hour}}})
	for i := 0; i < 3; i++ {
		publish(tb, "r1", "x", nil)
	}
	for i := 0; i < 3; i++ {
		publish(tb, "r2", "y", nil) // over the budget: r2 gives up its own oldest first
	}
	if st := tb.Stats(); st.HistoryBytes > budget {
		t.Fatalf("history %d bytes over the budget %d", st.HistoryBytes, budget)
	}
	if got := fmt.Sprint(historyOffsets(tb, "r2", 0)); got != "[3]" {
		t.Fatal("r2 kept", got)
	}
	if got := fmt.Sprint(historyOffsets(tb, "r1", 0)); got != "[1 2 3]" {
		t.Fatal("r1 kept", got)
	}
	// Rooms that exist only for their history are forgotten when it expires; their stream goes on.
	old := tb.Position("r1")
	tb.Sweep(time.Now().Add(2 * time.Hour))
	if st := tb.Stats(); st.HistoryBytes != 0 || st.HistoryEntries != 0 {
		t.Fatalf("after expiry %+v", st)
	}
	if tb.Lookup("r1") != nil {
		t.Fatal("expired room kept")
	}
	if pos := publish(tb, "r1", "z", nil).Position; pos.Offset != 4 || pos.Epoch != old.Epoch {
		t.Fatalf("the room used again at %+v (before: %+v)", pos, old)
	}
}

func TestPublishToNobody(t *testing.T) {
	tb, _ := testTable(1, RoomOptions{})
	if res := publish(tb, "void", "x", nil); res.Position != (Position{}) || res.Delivered != 0 {
		t.Fatalf("%+v", res)
	}
	if tb.Lookup("void") != nil {
		t.Fatal("room created for nothing")
	}
}

func joinFrom(t testing.TB, tb *Table[*fakeConn], room string, c *fakeConn, since Position) Recovery {
	t.Helper()
	var rec Recovery
	called := false
	tb.JoinFrom(room, c, RoomOptions{History: HistoryOptions{Size: 100}}, since, func(r Recovery, err error, _ bool) {
		if err != nil {
			t.Fatal(err)
		}
		rec, called = r, true
	})
	if !called {
		t.Fatal("done not called synchronously on a single node")
	}
	return rec
}

func TestRecoveryOutcomes(t *testing.T) {
	tb, _ := testTable(1, RoomOptions{})
	conns := newConns(2, 1)
	stay, c := conns[0], conns[1]
	opts := RoomOptions{History: HistoryOptions{Size: 5}}
	join(t, tb, "r", stay, opts)
	rec := joinFrom(t, tb, "r", c, Position{})
	if rec.Recovered || rec.Reason != "" || rec.Position.Epoch == "" {
		t.Fatalf("first join, from now: %+v", rec)
	}
	tb.Leave("r", c)
	if rec := joinFrom(t, tb, "r", c, Position{Epoch: "other"}); rec.Recovered || rec.Reason != ReasonEpoch {
		t.Fatalf("join from another epoch: %+v", rec)
	}
	publish(tb, "r", "1", nil)
	publish(tb, "r", "2", nil)
	tb.Leave("r", c)
	last := Position{Offset: 2, Epoch: rec.Position.Epoch}
	for i := 0; i < 3; i++ {
		publish(tb, "r", "missed", nil)
	}
	rec = joinFrom(t, tb, "r", c, last)
	if !rec.Recovered || rec.Missed != 3 || rec.Position.Offset != 5 {
		t.Fatalf("recovery %+v", rec)
	}
	if fmt.Sprint(c.offsets()) != "[1 2 3 4 5]" {
		t.Fatal(c.offsets())
	}
	tb.Leave("r", c)
	if rec = joinFrom(t, tb, "r", c, Position{Offset: 5, Epoch: last.Epoch}); !rec.Recovered || rec.Missed != 0 {
		t.Fatalf("nothing missed: %+v", rec)
	}
	tb.Leave("r", c)
	for i := 0; i < 6; i++ {
		publish(tb, "r", "many", nil)
	}
	if rec = joinFrom(t, tb, "r", c, Position{Offset: 5, Epoch: last.Epoch}); rec.Recovered || rec.Reason != ReasonExpired {
		t.Fatalf("past the history: %+v", rec)
	}
	tb.Leave("r", c)
	if rec = joinFrom(t, tb, "r", c, Position{Offset: 99, Epoch: last.Epoch}); rec.Reason != ReasonAhead {
		t.Fatalf("ahead: %+v", rec)
	}
	if st := tb.Stats(); st.Recovered != 2 || st.RecoveryFailed != 3 || st.Replayed != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRecoveryRacingPublications: publishers on several goroutines publish to a room while one member
// keeps leaving and rejoining from the last offset it received. Every rejoin must recover, and the
// member must see every offset exactly once, in order.
func TestRecoveryRacingPublications(t *testing.T) {
	tb, _ := testTable(4, RoomOptions{})
	conns := newConns(8, 4)
	opts := RoomOptions{History: HistoryOptions{Size: 100000}}
	for _, c := range conns[1:] {
		join(t, tb, "race", c, opts)
	}
	m := conns[0]
	pos := join(t, tb, "race", m, opts)
	const publishers, each = 4, 3000
	var wg sync.WaitGroup
	var stop atomic.Bool
	for g := 0; g < publishers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				publish(tb, "race", "p", nil)
			}
		}()
	}
	rejoins := 0
	go func() { wg.Wait(); stop.Store(true) }()
	for !stop.Load() {
		tb.Leave("race", m)
		offs := m.offsets()
		since := Position{Offset: 0, Epoch: pos.Epoch}
		if len(offs) > 0 {
			since.Offset = offs[len(offs)-1]
		}
		var rec Recovery
		tb.JoinFrom("race", m, opts, since, func(r Recovery, err error, _ bool) { rec = r })
		if !rec.Recovered {
			t.Fatalf("rejoin %d from %+v: %+v", rejoins, since, rec)
		}
		rejoins++
	}
	total := publishers * each
	got := m.offsets()
	if len(got) != total {
		t.Fatalf("member got %d publications, want %d (after %d rejoins)", len(got), total, rejoins)
	}
	for i, off := range got {
		if off != uint64(i+1) {
			t.Fatalf("publication %d has offset %d", i, off)
		}
	}
	for _, c := range conns[1:] {
		if !slices.IsSorted(c.offsets()) || len(c.offsets()) != total {
			t.Fatalf("member %d: %d publications", c.id, len(c.offsets()))
		}
	}
	t.Logf("%d rejoins during %d publications", rejoins, total)
}

func TestLongNamesAreRefusedEverywhere(t *testing.T) {
	tb := New(Options[*fakeConn]{Loops: 1, Fanout: &countingFan{}, MaxName: 200})
	c := newConns(1, 1)[0]
	long := strings.Repeat("x", 201)
	var got error
	tb.JoinFrom(long, c, RoomOptions{}, Position{}, func(_ Recovery, err error, _ bool) { got = err })
	if !errors.Is(got, ErrName) {
		t.Fatal(got)
	}
}

func TestPublishRefusesBadNames(t *testing.T) {
	tb := New(Options[*fakeConn]{Loops: 1, Fanout: &countingFan{}, MaxName: 4,
		Defaults: RoomOptions{History: HistoryOptions{Size: 1}}})
	if res := publish(tb, "12345", "x", nil); !errors.Is(res.Err, ErrName) {
		t.Fatalf("%+v", res)
	}
	if tb.rooms.Load() != 0 {
		t.Fatal("room created")
	}
}

func TestPresenceListsAndEvents(t *testing.T) {
	tb, _ := testTable(2, RoomOptions{})
	conns := newConns(4, 2) // 0 and 2 take part in presence
	for _, c := range conns {
		join(t, tb, "p", c, RoomOptions{})
	}
	if got := fmt.Sprint(tb.Presence("p")); got != "[{u0 c0} {u2 c2}]" {
		t.Fatal(got)
	}
	tb.Leave("p", conns[0])
	if got := fmt.Sprint(tb.LocalPresence("p")); got != "[{u2 c2}]" {
		t.Fatal(got)
	}
	conns[1].mu.Lock()
	defer conns[1].mu.Unlock()
	// conns[1] joined second: it saw conns[2] join (conns[3] does not take part) and conns[0] leave;
	// nobody is told of its own join.
	if got := fmt.Sprint(conns[1].pres); got != "[{p {u2 c2} true} {p {u0 c0} false}]" {
		t.Fatal(got)
	}
}

// TestForgottenRoomKeepsItsStream: a room forgotten for having no members and no history (a quiet
// room whose last member left, or whose history expired) continues its epoch and offsets when it is
// used again, so a client that was in it recovers (single node).
func TestForgottenRoomKeepsItsStream(t *testing.T) {
	tb, _ := testTable(1, RoomOptions{History: HistoryOptions{Size: 10}})
	c := newConns(1, 1)[0]
	pos := join(t, tb, "quiet", c, RoomOptions{History: HistoryOptions{Size: 10}})
	tb.Leave("quiet", c)
	if tb.Lookup("quiet") != nil {
		t.Fatal("an empty room without history is kept")
	}
	if res := publish(tb, "quiet", "while away", nil); res.Position != (Position{Offset: 1, Epoch: pos.Epoch}) {
		t.Fatalf("publication to the forgotten room at %+v, want offset 1 in epoch %s", res.Position, pos.Epoch)
	}
	if rec := joinFrom(t, tb, "quiet", c, pos); !rec.Recovered || rec.Missed != 1 {
		t.Fatalf("rejoin of a quiet room: %+v", rec)
	}
	// Forgotten after its history expired: the offsets go on, and a client that missed the expired
	// publications is told so.
	tb2, _ := testTable(1, RoomOptions{History: HistoryOptions{Size: 10, TTL: time.Minute}})
	for range 3 {
		publish(tb2, "x", "m", nil)
	}
	old := tb2.Position("x")
	tb2.Sweep(time.Now().Add(time.Hour))
	if tb2.Lookup("x") != nil {
		t.Fatal("expired room kept")
	}
	c2 := newConns(1, 1)[0]
	if rec := joinFrom(t, tb2, "x", c2, old); !rec.Recovered || rec.Position != old {
		t.Fatalf("nothing missed since the last offset: %+v (old %+v)", rec, old)
	}
	tb2.Leave("x", c2)
	if rec := joinFrom(t, tb2, "x", c2, Position{Offset: 1, Epoch: old.Epoch}); rec.Recovered || rec.Reason != ReasonExpired {
		t.Fatalf("missed expired publications: %+v", rec)
	}
}

// TestHistoryCompactsOversizedBuffers: a publication in a pooled buffer much larger than itself (a
// pool calibrated on large messages) is kept in a buffer of its own size, and accounted by what it
// holds.
func TestHistoryCompactsOversizedBuffers(t *testing.T) {
	tb, _ := testTable(1, RoomOptions{History: HistoryOptions{Size: 10}})
	buf := &bytebufferpool.ByteBuffer{B: make([]byte, frame.MaxServerHeaderSize, 64<<10)}
	buf.B = append(buf.B, "small"...)
	p := tb.NewPub("c")
	p.Main = tb.opts.Frames.Finish(buf, frame.OpText)
	tb.Publish(p)
	if got := tb.Stats().HistoryBytes; got != entryCost(5) {
		t.Fatalf("history holds %d bytes for a 5-byte publication in a 64 KiB buffer, want %d", got, entryCost(5))
	}
	if got := fmt.Sprint(historyOffsets(tb, "c", 0)); got != "[1]" {
		t.Fatal(got)
	}
}
