package natsbroker

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openspeed/wsd/rooms"
)

// memberLog renders events and lists compactly: "+room/user" or "-room/user".
func memberLog(evs []event) string {
	var out []string
	for _, e := range evs {
		sign := "-"
		if e.Joined {
			sign = "+"
		}
		out = append(out, sign+e.Room+"/"+e.Client.User)
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func listed(rm *remoteMembers, room string, now time.Time) string {
	var us []string
	for _, c := range rm.list(room, now) {
		us = append(us, c.User)
	}
	slices.Sort(us)
	return strings.Join(us, ",")
}

// roundTrip encodes what a node's localMembers emits and decodes it as the receiver would.
func emitted(l *localMembers) (deltas []membersMsg, states map[string][]membersMsg) {
	states = map[string][]membersMsg{}
	l.flush("n1", func(subject string, data []byte) {
		m, err := decodeMembers(append([]byte(nil), data...))
		if err != nil {
			panic(err)
		}
		if subject == "" {
			deltas = append(deltas, m)
		} else {
			states[subject] = append(states[subject], m)
		}
	})
	return deltas, states
}

func join(room, user string) rooms.PresenceChange {
	return rooms.PresenceChange{Room: room, Client: rooms.Client{User: user, Conn: "c-" + user}, Joined: true}
}

func leave(room, user string) rooms.PresenceChange {
	ch := join(room, user)
	ch.Joined = false
	return ch
}

// TestMembersDeltasSnapshotsAndGaps: deltas apply in order; a gap holds later deltas and asks for a
// snapshot, which replaces the node's members (with the difference as events) and lets the held
// deltas apply; a new incarnation of the node starts over; the TTL drops a silent node.
func TestMembersDeltasSnapshotsAndGaps(t *testing.T) {
	now := time.Now()
	var asked []string
	rm := &remoteMembers{self: "me", ttl: time.Second, nodes: map[string]*remoteNode{},
		ask: func(node string) { asked = append(asked, node) }}
	l := &localMembers{inc: 7, rooms: map[string]map[string]string{}}

	l.change(join("r", "ann"))
	l.change(join("r", "bob"))
	d1, _ := emitted(l)
	if got := memberLog(rm.apply(d1[0], now)); got != "+r/ann +r/bob" || listed(rm, "r", now) != "ann,bob" {
		t.Fatalf("first delta: events %q, list %q", got, listed(rm, "r", now))
	}

	l.change(leave("r", "ann"))
	lost, _ := emitted(l) // never arrives
	l.change(join("r", "cat"))
	d3, _ := emitted(l)
	if got := rm.apply(d3[0], now); len(got) != 0 || len(asked) != 1 || asked[0] != "n1" {
		t.Fatalf("after a gap: events %v, asked %v", got, asked)
	}
	l.ask("inbox")
	l.change(join("r", "dan"))
	d4, states := emitted(l) // the snapshot is consistent with d4
	rm.apply(d4[0], now)
	var evs []event
	for _, st := range states["inbox"] {
		evs = append(evs, rm.apply(st, now)...)
	}
	if got := memberLog(evs); got != "+r/cat +r/dan -r/ann" || listed(rm, "r", now) != "bob,cat,dan" {
		t.Fatalf("snapshot: events %q, list %q (lost delta %d)", got, listed(rm, "r", now), lost[0].seq)
	}

	restarted := &localMembers{inc: 8, rooms: map[string]map[string]string{}}
	restarted.change(join("s", "eve"))
	d, _ := emitted(restarted)
	if got := memberLog(rm.apply(d[0], now)); got != "+s/eve -r/bob -r/cat -r/dan" {
		t.Fatalf("new incarnation: %q", got)
	}
	if got := memberLog(rm.sweep(now.Add(2 * time.Second))); got != "-s/eve" || rm.size() != 0 {
		t.Fatalf("sweep: %q, %d left", got, rm.size())
	}
}

// TestMembersChunks: a snapshot larger than a chunk arrives in several messages and applies once
// complete.
func TestMembersChunks(t *testing.T) {
	now := time.Now()
	rm := &remoteMembers{self: "me", ttl: time.Second, nodes: map[string]*remoteNode{}, ask: func(string) {}}
	l := &localMembers{inc: 1, rooms: map[string]map[string]string{}}
	for i := range 3000 {
		l.change(join(fmt.Sprint("room-", i%10), fmt.Sprintf("user-%04d-%s", i, strings.Repeat("x", 20))))
	}
	l.pending = nil // as if the deltas went to nobody
	l.seq = 5
	l.ask("inbox")
	_, states := emitted(l)
	chunks := states["inbox"]
	if len(chunks) < 2 {
		t.Fatalf("3000 members in %d chunk", len(chunks))
	}
	for _, c := range chunks[:len(chunks)-1] {
		rm.apply(c, now)
	}
	if rm.size() != 0 {
		t.Fatal("an incomplete snapshot is visible")
	}
	rm.apply(chunks[len(chunks)-1], now)
	if rm.size() != 3000 {
		t.Fatalf("%d members after the last chunk", rm.size())
	}
}

func TestMembersDecodeErrors(t *testing.T) {
	for _, data := range [][]byte{nil, {2, 1, 0, 0, 0, 0}, {1, 1, 5, 'a'}, {1, 1, 0, 0x80}, {1, 1, 0, 1, 1, 0, 1, 9, 'x'}} {
		if _, err := decodeMembers(data); err == nil {
			t.Errorf("decodeMembers(%v) succeeded", data)
		}
	}
}

// BenchmarkRemoteMembersMemory reports the heap one remote member costs a node: 100,000 members of
// another node in 1,000 rooms, applied from deltas (user names 8 bytes, connection ids 12).
func BenchmarkRemoteMembersMemory(b *testing.B) {
	const members = 100000
	var per float64
	for range b.N {
		l := &localMembers{inc: 1, rooms: map[string]map[string]string{}}
		for i := range members {
			l.change(rooms.PresenceChange{Room: fmt.Sprintf("room-%03d", i%1000),
				Client: rooms.Client{User: fmt.Sprintf("u%07d", i), Conn: fmt.Sprintf("CONN%08d", i)}, Joined: true})
		}
		var raw [][]byte
		l.flush("n1", func(_ string, data []byte) { raw = append(raw, append([]byte(nil), data...)) })
		l = nil
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rm := &remoteMembers{self: "me", ttl: time.Hour, nodes: map[string]*remoteNode{}, ask: func(string) {}}
		now := time.Now()
		for _, d := range raw {
			m, err := decodeMembers(d)
			if err != nil {
				b.Fatal(err)
			}
			rm.apply(m, now)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if rm.size() != members {
			b.Fatalf("%d members", rm.size())
		}
		per = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / members
		runtime.KeepAlive(rm)
		runtime.KeepAlive(raw)
	}
	b.ReportMetric(per, "B/member")
}
