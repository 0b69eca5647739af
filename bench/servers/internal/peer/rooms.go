package peer

import "sync"

// Rooms is a registry of named rooms of connections of type C: what an application on top of a
// library without rooms writes. Safe for concurrent use.
//
// Lock order: Rooms.mu → Room.mu.
type Rooms[C comparable] struct {
	mu    sync.Mutex
	rooms map[string]*Room[C]
}

// Room is one room: its members in a slice (iterated by broadcasts) and each member's index in it (for
// O(1) leaving).
type Room[C comparable] struct {
	name    string
	mu      sync.RWMutex
	members []C
	index   map[C]int
}

// NewRooms returns an empty registry.
func NewRooms[C comparable]() *Rooms[C] {
	return &Rooms[C]{rooms: make(map[string]*Room[C])}
}

// Join adds c to room name (created on first use) and returns the room.
func (rs *Rooms[C]) Join(name string, c C) *Room[C] {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r := rs.rooms[name]
	if r == nil {
		r = &Room[C]{name: name, index: make(map[C]int)}
		rs.rooms[name] = r
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.index[c]; !ok {
		r.index[c] = len(r.members)
		r.members = append(r.members, c)
	}
	return r
}

// Leave removes c from r (swap-remove) and drops the room when it is empty.
func (rs *Rooms[C]) Leave(r *Room[C], c C) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.index[c]
	if !ok {
		return
	}
	last := len(r.members) - 1
	if i != last {
		moved := r.members[last]
		r.members[i] = moved
		r.index[moved] = i
	}
	var zero C
	r.members[last] = zero
	r.members = r.members[:last]
	delete(r.index, c)
	if len(r.members) == 0 && rs.rooms[r.name] == r {
		delete(rs.rooms, r.name)
	}
}

// Others calls fn for every member of r except skip, under the room's read lock, and returns how many
// members it called fn for.
func (r *Room[C]) Others(skip C, fn func(C)) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, c := range r.members {
		if c != skip {
			fn(c)
			n++
		}
	}
	return n
}

// Len is the number of members.
func (r *Room[C]) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.members)
}
