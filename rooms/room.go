package rooms

import (
	"sync"
	"sync/atomic"
)

// RoomOptions are fixed when a room is created (by its first Join, or by a publication with the
// table's defaults).
type RoomOptions struct {
	// Limit caps the members in the cluster; 0 means no cap. Join fails with ErrFull at the cap.
	Limit int
	// History bounds what the room keeps of its publications (recovery, history reads).
	History HistoryOptions
}

// Room is one room. Its methods are safe from any goroutine.
//
// Locks: pubMu serializes what changes the room's stream and must be atomic with it (publications,
// joins that report a position or recover); mu guards the members. Order: pubMu → mu → Table.stripes.
type Room[M any] struct {
	name    string
	pubMu   sync.Mutex
	st      stream      // guarded by pubMu
	waiters []func()    // joins waiting for the cluster's position of the room (guarded by pubMu)
	synced  atomic.Bool // a sequencing broker gave the room's position since interest last turned on
	failed  bool        // the broker could not read the room's position (guarded by pubMu)
	owed    int32       // Syncs the sequencing broker owes for Interest(on) calls (guarded by pubMu)
	pending int32       // joins from a position in progress (waiting or reading history): they hold the interest (guarded by mu, written under pubMu too)
	mu      sync.RWMutex
	members [][]M // per event loop
	needs   []need
	count   atomic.Int32
	limit   int32
	hist    HistoryOptions
	dead    bool // removed from the table; joiners retry (guarded by mu, written under pubMu too)
}

// need counts a room's members of one variant (guarded by Room.mu).
type need struct {
	v uint8
	n int32
}

func newRoom[M any](name string, loops int, opts RoomOptions, epoch string) *Room[M] {
	return &Room[M]{name: name, members: make([][]M, loops), limit: int32(opts.Limit), hist: opts.History,
		st: stream{epoch: epoch}}
}

// Name is the room's name.
func (r *Room[M]) Name() string { return r.name }

// Count is the number of members on this node.
func (r *Room[M]) Count() int { return int(r.count.Load()) }

// variants lists the variants the members need. Caller holds r.mu.
func (r *Room[M]) variants(dst []uint8) []uint8 {
	for _, n := range r.needs {
		dst = append(dst, n.v)
	}
	return dst
}

func (r *Room[M]) addNeed(v uint8, d int32) {
	for i := range r.needs {
		if r.needs[i].v == v {
			r.needs[i].n += d
			if r.needs[i].n == 0 {
				r.needs = append(r.needs[:i], r.needs[i+1:]...)
			}
			return
		}
	}
	r.needs = append(r.needs, need{v: v, n: d})
}

// Join adds m to room name, creating the room with opts if needed, and returns the room's position:
// m receives every publication after it. Joining a room m is already in does nothing (and returns
// the position too). It returns ErrFull when the room is at its limit (checked under the room's lock,
// so concurrent joins never exceed it) and ErrName for an invalid name. In a cluster whose broker
// sequences publications, the position may not be known yet: it is then the zero Position (use
// JoinFrom to wait for it).
func (t *Table[M]) Join(name string, m M, opts RoomOptions) (Position, error) {
	if err := t.CheckName(name); err != nil {
		return Position{}, err
	}
	for {
		r := t.getOrCreate(name, opts)
		r.pubMu.Lock()
		r.mu.Lock()
		if r.dead {
			r.mu.Unlock()
			r.pubMu.Unlock()
			continue
		}
		t.freshen(r)
		added, err := t.joinLocked(r, m)
		pos := r.st.position()
		if t.sequenced() && !r.synced.Load() {
			pos = Position{}
		}
		r.mu.Unlock()
		r.pubMu.Unlock()
		if err != nil {
			t.removeIfEmpty(r)
		}
		if added {
			t.announce(name, m, true)
		}
		return pos, err
	}
}

func (t *Table[M]) sequenced() bool { return t.broker != nil && t.broker.Sequenced() }

// joinLocked adds m to r. Caller holds r.mu (and r.pubMu).
func (t *Table[M]) joinLocked(r *Room[M], m M) (bool, error) {
	st := t.stripe(m)
	st.Lock()
	defer st.Unlock()
	ms := m.Membership()
	if ms.find(r) != nil {
		return false, nil
	}
	if r.limit > 0 && int(r.count.Load())+t.remoteCount(r.name) >= int(r.limit) {
		return false, ErrFull
	}
	loop := m.LoopIndex()
	ms.add(ref[M]{room: r, idx: int32(len(r.members[loop]))})
	r.members[loop] = append(r.members[loop], m)
	r.addNeed(m.Variant(), 1)
	if r.count.Add(1) == 1 && r.pending == 0 {
		t.gainInterest(r)
	}
	return true, nil
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
	if ok {
		t.announce(r.name, m, false)
	}
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
	r.addNeed(m.Variant(), -1)
	if r.count.Add(-1) == 0 && r.pending == 0 {
		t.loseInterest(r)
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

// freshen starts a new epoch for a room a relay node had no interest in: the publications other
// nodes made meanwhile never reached this node, so its history of the room is not complete, and a
// recovery from a position of before must fail. Caller holds r.pubMu (and r.mu or nothing).
func (t *Table[M]) freshen(r *Room[M]) {
	if t.broker == nil || t.broker.Sequenced() || r.interested() || (r.st.last == 0 && r.st.n == 0) {
		return
	}
	t.restart(r, Position{Offset: r.st.last, Epoch: t.newEpoch()})
}

// gainInterest tells the broker that r now has members or pending joins. A sequencing broker owes a
// Sync for it. Caller holds r.pubMu and r.mu.
func (t *Table[M]) gainInterest(r *Room[M]) {
	if t.broker == nil {
		return
	}
	if t.broker.Sequenced() {
		r.owed++
	}
	t.broker.Interest(r.name, true)
}

// interested reports whether the node needs r's publications: it has members, or joins from a
// position in progress. Caller holds r.mu or r.pubMu.
func (r *Room[M]) interested() bool { return r.count.Load() > 0 || r.pending > 0 }

// loseInterest tells the broker that r has neither members nor pending joins any more: deliveries
// stop, so the position goes stale. Caller holds r.mu.
func (t *Table[M]) loseInterest(r *Room[M]) {
	r.synced.Store(false)
	if t.broker != nil {
		t.broker.Interest(r.name, false)
	}
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
