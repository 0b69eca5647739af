package rooms

import (
	"errors"
	"hash/maphash"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"
)

// ErrFull is returned by Join when the room has reached its member limit.
var ErrFull = errors.New("rooms: room is full")

const (
	numShards  = 64
	numStripes = 64
)

// Member is a connection as the room table sees it: a comparable handle (the engine uses *Conn) that
// knows its event loop and carries its own membership record.
type Member[M any] interface {
	comparable
	// LoopIndex is the member's event loop, in [0, loops) as given to New.
	LoopIndex() int
	// Membership returns the member's record of its rooms: the same pointer for the member's lifetime,
	// owned by the table (the member never touches it).
	Membership() *Membership[M]
}

// Frames are the encodings of one broadcast. Frames[0] is the default and is what the room's history
// records; the engine adds variants (another codec, compressed frames for two window sizes) that
// members select themselves.
type Frames [6]*Frame

// Fanout delivers one broadcast to a batch of members of one event loop. The engine implements it by
// queueing the right frame to each member except skip (when hasSkip) and waking the loop once. It runs
// with the room's read lock held and must not call back into the Table. It returns how many members it
// queued for; it takes its own references on the frames.
type Fanout[M any] interface {
	Deliver(loop int, members []M, skip M, hasSkip bool, fs Frames) int
}

// Membership is a member's record of the rooms it is in (join order), kept inside the member so that no
// map per connection exists. Guarded by the table.
type Membership[M any] struct {
	first ref[M]
	more  *[]ref[M]
}

type ref[M any] struct {
	room *Room[M]
	idx  int32 // index in room.members[loop]; guarded by room.mu
}

// Table is the room table. Safe from any goroutine.
type Table[M Member[M]] struct {
	shards  [numShards]shard[M]
	stripes [numStripes]sync.Mutex
	seed    maphash.Seed
	loops   int
	fan     Fanout[M]
	rooms   atomic.Int64
	broker  Broker
}

type shard[M any] struct {
	mu    sync.RWMutex
	rooms map[string]*Room[M]
}

// New returns a table for members spread over loops event loops, delivering through fan.
func New[M Member[M]](loops int, fan Fanout[M]) *Table[M] {
	t := &Table[M]{seed: maphash.MakeSeed(), loops: max(loops, 1), fan: fan}
	for i := range t.shards {
		t.shards[i].rooms = make(map[string]*Room[M])
	}
	return t
}

func (t *Table[M]) shard(name string) *shard[M] {
	return &t.shards[maphash.String(t.seed, name)%numShards]
}

func (t *Table[M]) stripe(m M) *sync.Mutex {
	p := uintptr(unsafe.Pointer(m.Membership()))
	return &t.stripes[(p>>4^p>>12)%numStripes]
}

// Lookup returns the live room name, or nil.
func (t *Table[M]) Lookup(name string) *Room[M] {
	s := t.shard(name)
	s.mu.RLock()
	r := s.rooms[name]
	s.mu.RUnlock()
	return r
}

// getOrCreate returns the room, creating it with opts when absent. Callers lock it and retry when they
// find it dead.
func (t *Table[M]) getOrCreate(name string, opts RoomOptions) *Room[M] {
	s := t.shard(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[name]; r != nil {
		return r
	}
	r := newRoom[M](name, t.loops, opts)
	s.rooms[name] = r
	t.rooms.Add(1)
	return r
}

// removeIfEmpty deletes an empty room from its shard.
func (t *Table[M]) removeIfEmpty(r *Room[M]) {
	s := t.shard(r.name)
	s.mu.Lock()
	r.mu.Lock()
	if r.count.Load() == 0 && !r.dead {
		r.dead = true
		if s.rooms[r.name] == r {
			delete(s.rooms, r.name)
			t.rooms.Add(-1)
		}
	}
	r.mu.Unlock()
	s.mu.Unlock()
}

// RoomCount is a room's name and member count.
type RoomCount struct {
	Name    string `json:"room"`
	Members int    `json:"connections"`
}

// List returns every room with its member count, sorted by name.
func (t *Table[M]) List() []RoomCount {
	out := make([]RoomCount, 0, t.rooms.Load())
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for name, r := range s.rooms {
			out = append(out, RoomCount{Name: name, Members: int(r.count.Load())})
		}
		s.mu.RUnlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Len is the number of live rooms.
func (t *Table[M]) Len() int { return int(t.rooms.Load()) }

// Count is the number of members of room name on this node (0 when it does not exist).
func (t *Table[M]) Count(name string) int {
	if r := t.Lookup(name); r != nil {
		return int(r.count.Load())
	}
	return 0
}

// ClusterCount is Count plus the members the broker knows of on other nodes.
func (t *Table[M]) ClusterCount(name string) int {
	n := t.Count(name)
	if t.broker != nil {
		n += t.broker.RemoteCount(name)
	}
	return n
}
