package rooms

import (
	"sync"
	"sync/atomic"
)

// RoomOptions are fixed when a room is created (by its first Join).
type RoomOptions struct {
	// Limit caps the members; 0 means no cap. Join fails with ErrFull at the cap.
	Limit int
	// History keeps the last History messages broadcast to the room (0: none).
	History int
}

// Room is one room. Its methods are safe from any goroutine.
type Room[M any] struct {
	name    string
	mu      sync.RWMutex
	members [][]M // per event loop
	count   atomic.Int32
	limit   int32
	dead    bool // removed from the table; joiners retry

	histMu sync.Mutex
	hist   *history
}

func newRoom[M any](name string, loops int, opts RoomOptions) *Room[M] {
	r := &Room[M]{name: name, members: make([][]M, loops), limit: int32(opts.Limit)}
	if opts.History > 0 {
		r.hist = &history{buf: make([]Entry, opts.History)}
	}
	return r
}

// Name is the room's name.
func (r *Room[M]) Name() string { return r.name }

// Count is the number of members.
func (r *Room[M]) Count() int { return int(r.count.Load()) }

// Join adds m to room name, creating the room with opts if needed. Joining a room m is already in
// does nothing. It returns ErrFull when the room is at its limit; the check and the insertion happen
// under the room's lock, so concurrent joins never exceed it.
func (t *Table[M]) Join(name string, m M, opts RoomOptions) error {
	for {
		r := t.getOrCreate(name, opts)
		r.mu.Lock()
		if r.dead {
			r.mu.Unlock()
			continue
		}
		err := t.joinLocked(r, m)
		r.mu.Unlock()
		if err != nil && r.count.Load() == 0 {
			t.removeIfEmpty(r)
		}
		return err
	}
}

func (t *Table[M]) joinLocked(r *Room[M], m M) error {
	st := t.stripe(m)
	st.Lock()
	defer st.Unlock()
	ms := m.Membership()
	if ms.find(r) != nil {
		return nil
	}
	if r.limit > 0 && int(r.count.Load())+t.remoteCount(r.name) >= int(r.limit) {
		return ErrFull
	}
	loop := m.LoopIndex()
	ms.add(ref[M]{room: r, idx: int32(len(r.members[loop]))})
	r.members[loop] = append(r.members[loop], m)
	if r.count.Add(1) == 1 {
		t.interest(r.name, true)
	}
	return nil
}

// Leave removes m from room name. It reports whether m was a member.
func (t *Table[M]) Leave(name string, m M) bool {
	r := t.Lookup(name)
	if r == nil {
		return false
	}
	return t.leave(r, m)
}

func (t *Table[M]) leave(r *Room[M], m M) bool {
	r.mu.Lock()
	ok := t.leaveLocked(r, m)
	empty := r.count.Load() == 0
	r.mu.Unlock()
	if ok && empty {
		t.removeIfEmpty(r)
	}
	return ok
}

// leaveLocked swap-removes m from its loop's slice and fixes the index of the member moved into its
// place. Caller holds r.mu.
func (t *Table[M]) leaveLocked(r *Room[M], m M) bool {
	st := t.stripe(m)
	st.Lock()
	ms := m.Membership()
	rf := ms.find(r)
	if rf == nil {
		st.Unlock()
		return false
	}
	i := int(rf.idx)
	ms.remove(r)
	st.Unlock()
	loop := m.LoopIndex()
	list := r.members[loop]
	last := len(list) - 1
	if i != last {
		moved := list[last]
		list[i] = moved
		mst := t.stripe(moved)
		mst.Lock()
		moved.Membership().find(r).idx = int32(i)
		mst.Unlock()
	}
	var zero M
	list[last] = zero
	r.members[loop] = shrink(list[:last])
	if r.count.Add(-1) == 0 {
		t.interest(r.name, false)
	}
	return true
}

// shrink gives back the memory of a slice that emptied out after a crowd left.
func shrink[M any](s []M) []M {
	if cap(s) > 64 && len(s) < cap(s)/4 {
		return append(make([]M, 0, len(s)*2), s...)
	}
	return s
}

// remoteCount is the room's members on other nodes (0 without a broker). With a broker, a room's limit
// is checked against the whole cluster, eventually consistently.
func (t *Table[M]) remoteCount(name string) int {
	if t.broker == nil {
		return 0
	}
	return t.broker.RemoteCount(name)
}

// LeaveAll removes m from every room it is in (a closing connection).
func (t *Table[M]) LeaveAll(m M) {
	for {
		st := t.stripe(m)
		st.Lock()
		r := m.Membership().last()
		st.Unlock()
		if r == nil {
			return
		}
		t.leave(r, m)
	}
}

// IsMember reports whether m is in room name.
func (t *Table[M]) IsMember(name string, m M) bool {
	r := t.Lookup(name)
	if r == nil {
		return false
	}
	st := t.stripe(m)
	st.Lock()
	defer st.Unlock()
	return m.Membership().find(r) != nil
}

// RoomsOf returns the names of the rooms m is in, in join order.
func (t *Table[M]) RoomsOf(m M) []string {
	st := t.stripe(m)
	st.Lock()
	defer st.Unlock()
	return m.Membership().names()
}

// LastRoom is the name of the room m joined most recently among those it is still in ("" if none).
func (t *Table[M]) LastRoom(m M) string {
	st := t.stripe(m)
	st.Lock()
	defer st.Unlock()
	if r := m.Membership().last(); r != nil {
		return r.name
	}
	return ""
}

// Broadcast queues fs to every member of room name except skip (when hasSkip), one Fanout.Deliver per
// event loop, and records fs[0] in the room's history. It returns the number of members queued for.
// The caller keeps its own references on the frames.
func (t *Table[M]) Broadcast(name string, skip M, hasSkip bool, fs Frames) int {
	r := t.Lookup(name)
	if r == nil {
		return 0
	}
	if r.hist != nil && fs[0] != nil {
		r.record(fs[0]) // before the fan-out: history order is the order broadcasts reach the room
	}
	n := 0
	r.mu.RLock()
	for loop, list := range r.members {
		if len(list) > 0 {
			n += t.fan.Deliver(loop, list, skip, hasSkip, fs)
		}
	}
	r.mu.RUnlock()
	return n
}
