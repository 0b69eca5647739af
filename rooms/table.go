package rooms

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"hash/maphash"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"

	"github.com/openspeed/wsd/frame"
)

// Errors of Join and Publish.
var (
	// ErrFull: the room has reached its member limit.
	ErrFull = errors.New("rooms: room is full")
	// ErrName: the room name is empty, longer than Options.MaxName bytes, or not valid UTF-8.
	ErrName = errors.New("rooms: invalid room name")
)

const (
	numShards  = 64
	numStripes = 64
)

// Member is a connection as the room table sees it: a comparable handle (the engine uses *Conn) that
// knows its event loop, carries its own membership record, and names the variant of a publication it
// receives.
type Member[M any] interface {
	comparable
	// LoopIndex is the member's event loop, in [0, loops) as given to New.
	LoopIndex() int
	// Membership returns the member's record of its rooms: the same pointer for the member's lifetime,
	// owned by the table (the member never touches it).
	Membership() *Membership[M]
	// Variant is the encoding of a publication this member receives, in [0, MaxVariants): fixed for
	// the member's lifetime. The table builds each variant its members need once per publication.
	Variant() uint8
	// Presence is the member's identity in presence lists and events, when it takes part in presence
	// (fixed for the member's lifetime).
	Presence() (Client, bool)
}

// Fanout is the engine side of a publication. The table calls it with the room's publication lock
// held (Prepare and Deliver also with the room's member lock held for reading): none of its methods
// may call back into the Table.
type Fanout[M any] interface {
	// Prepare builds p.Frames[v] for every variant v in variants (the variants of the room's members).
	Prepare(p *Pub, variants []uint8)
	// Deliver queues p to the members of one event loop except skip (when hasSkip), each the frame of
	// its variant, and returns how many it queued for. It takes its own references on the frames.
	Deliver(loop int, members []M, skip M, hasSkip bool, p *Pub) int
	// Replay queues one recovered publication to m (Prepare was called for m's variant), in order.
	Replay(m M, p *Pub)
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

// Options configure a Table.
type Options[M any] struct {
	// Loops is the number of event loops members are spread over (at least 1).
	Loops int
	// Fanout delivers publications to members.
	Fanout Fanout[M]
	// Broker connects the table to other nodes; nil: a single node.
	Broker Broker
	// Frames is the pool publications' frames come from (and frames from other nodes are copied into).
	Frames *FramePool
	// Defaults are the options of rooms created by a publication (rooms created by a Join take the
	// joiner's options).
	Defaults RoomOptions
	// HistoryBudget caps the history bytes of all rooms together; 0: no total cap. Past it, the room
	// being published to gives up its oldest entries, and a publication that still does not fit is not
	// kept.
	HistoryBudget int64
	// MaxName caps a room name in bytes; 0: no cap.
	MaxName int
	// Epoch starts the epoch of every stream this table creates; default: random (a new one for every
	// table, so a restarted node never reuses an epoch).
	Epoch string
}

// Table is the room table. Safe from any goroutine.
type Table[M Member[M]] struct {
	shards  [numShards]shard[M]
	stripes [numStripes]sync.Mutex
	seed    maphash.Seed
	opts    Options[M]
	loops   int
	fan     Fanout[M]
	broker  Broker
	rooms   atomic.Int64 // room objects (with members, or with history only)
	graves  graves       // positions of forgotten rooms (single node)
	gen     atomic.Uint64
	pubs    sync.Pool
	stats   tableStats
}

type shard[M any] struct {
	mu    sync.RWMutex
	rooms map[string]*Room[M]
}

// New returns a table.
func New[M Member[M]](o Options[M]) *Table[M] {
	o.Loops = max(o.Loops, 1)
	if o.Epoch == "" {
		o.Epoch = randomEpoch()
	}
	if o.Frames == nil {
		o.Frames = NewFramePool(&frame.Pool{})
	}
	t := &Table[M]{seed: maphash.MakeSeed(), opts: o, loops: o.Loops, fan: o.Fanout, broker: o.Broker}
	for i := range t.shards {
		t.shards[i].rooms = make(map[string]*Room[M])
	}
	return t
}

// randomEpoch is 8 random base32 characters.
func randomEpoch() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

// newEpoch names a new stream incarnation.
func (t *Table[M]) newEpoch() string {
	return t.opts.Epoch + "-" + strconv.FormatUint(t.gen.Add(1), 36)
}

// Broker returns the table's broker, or nil.
func (t *Table[M]) Broker() Broker { return t.broker }

// CheckName reports whether name is a valid room name for this table (ErrName when not).
func (t *Table[M]) CheckName(name string) error {
	if name == "" || (t.opts.MaxName > 0 && len(name) > t.opts.MaxName) || !utf8.ValidString(name) {
		return ErrName
	}
	return nil
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
	if r := t.Lookup(name); r != nil {
		return r
	}
	s := t.shard(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[name]; r != nil {
		return r
	}
	r := newRoom[M](name, t.loops, opts, t.newEpoch())
	if pos, ok := t.graves.take(name); ok {
		r.st.epoch, r.st.last = pos.Epoch, pos.Offset // its stream goes on
	}
	s.rooms[name] = r
	t.rooms.Add(1)
	return r
}

// removeIfEmpty forgets a room with no members and no history: its stream ends (a later room of the
// same name starts a new epoch).
func (t *Table[M]) removeIfEmpty(r *Room[M]) {
	s := t.shard(r.name)
	s.mu.Lock()
	r.pubMu.Lock()
	r.mu.Lock()
	if r.count.Load() == 0 && r.pending == 0 && r.owed == 0 && r.st.n == 0 && r.waiters == nil && !r.dead {
		r.dead = true
		if s.rooms[r.name] == r {
			delete(s.rooms, r.name)
			t.rooms.Add(-1)
			if t.broker == nil {
				t.graves.put(r.name, r.st.position())
			}
		}
	}
	r.mu.Unlock()
	r.pubMu.Unlock()
	s.mu.Unlock()
}

// RoomCount is a room's name and member count.
type RoomCount struct {
	Name    string `json:"room"`
	Members int    `json:"connections"`
}

// LocalList returns every room with members on this node and their local counts, sorted by name.
func (t *Table[M]) LocalList() []RoomCount {
	out := make([]RoomCount, 0, t.rooms.Load())
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for name, r := range s.rooms {
			if n := r.count.Load(); n > 0 {
				out = append(out, RoomCount{Name: name, Members: int(n)})
			}
		}
		s.mu.RUnlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// List returns every room with members in the cluster (this node, plus what the broker knows of the
// others: eventually consistent) with their counts, sorted by name.
func (t *Table[M]) List() []RoomCount {
	local := t.LocalList()
	if t.broker == nil {
		return local
	}
	counts := t.broker.RemoteRooms()
	for i := range local {
		local[i].Members += counts[local[i].Name]
		delete(counts, local[i].Name)
	}
	for name, n := range counts {
		if n > 0 {
			local = append(local, RoomCount{Name: name, Members: n})
		}
	}
	sort.Slice(local, func(i, j int) bool { return local[i].Name < local[j].Name })
	return local
}

// Len is the number of rooms with members on this node.
func (t *Table[M]) Len() int { return len(t.LocalList()) }

// LocalCount is the number of members of room name on this node (0 when it does not exist).
func (t *Table[M]) LocalCount(name string) int {
	if r := t.Lookup(name); r != nil {
		return int(r.count.Load())
	}
	return 0
}

// Count is the number of members of room name in the cluster: LocalCount plus the members the broker
// knows of on other nodes (eventually consistent).
func (t *Table[M]) Count(name string) int {
	n := t.LocalCount(name)
	if t.broker != nil {
		n += t.broker.RemoteCount(name)
	}
	return n
}

// maxGraves bounds the forgotten rooms whose positions a table remembers (single node): beyond it the
// oldest are forgotten for good, and the next room of that name starts a new epoch.
const maxGraves = 16384

// graves remembers the position of rooms forgotten for having neither members nor history, so that a
// room used again continues its stream: a client that was in a quiet room (or one whose history
// expired) then rejoins in the same epoch and recovers, or is told it missed what expired. On a
// relay node a room this node had no interest in may have missed other nodes' publications, so only
// a single node keeps them. Safe from any goroutine.
type graves struct {
	mu    sync.Mutex
	pos   map[string]Position
	order []string // FIFO of names (may hold names already taken)
}

func (g *graves) put(name string, pos Position) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pos == nil {
		g.pos = make(map[string]Position)
	}
	if _, ok := g.pos[name]; !ok {
		g.order = append(g.order, name)
	}
	g.pos[name] = pos
	for len(g.pos) > maxGraves && len(g.order) > 0 {
		delete(g.pos, g.order[0])
		g.order = g.order[1:]
	}
	if len(g.order) > 2*maxGraves {
		g.compact()
	}
}

// compact drops the names already taken from the FIFO. Caller holds g.mu.
func (g *graves) compact() {
	kept := make([]string, 0, len(g.pos))
	for _, n := range g.order {
		if _, ok := g.pos[n]; ok {
			kept = append(kept, n)
		}
	}
	g.order = kept
}

func (g *graves) take(name string) (Position, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	pos, ok := g.pos[name]
	if ok {
		delete(g.pos, name)
	}
	return pos, ok
}
