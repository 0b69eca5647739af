package rooms

import (
	"time"
)

// MaxVariants bounds the variants of a publication (Member.Variant).
const MaxVariants = 32

// Pub is one publication on its way through the table (and, in a cluster, through the broker). Get
// one from Table.NewPub, set Main (and Alt), hand it to Table.Publish, which takes it over.
//
// A Pub holds one reference on each of its frames; they are released with it.
type Pub struct {
	// Room is the room published to.
	Room string
	// Position is the publication's place in the room's stream, set when it is sequenced (by the
	// table on a single node, by the broker in a cluster whose broker sequences).
	Position Position
	// At is when it was sequenced (unix nanoseconds).
	At int64
	// Main is the publication's frame as published: what history keeps and other nodes receive.
	Main *Frame
	// Alt is a second encoding of the same publication (the engine's MessagePack encoding of a
	// structured value), or nil.
	Alt *Frame
	// Frames are the frames of each variant, built by Fanout.Prepare.
	Frames [MaxVariants]*Frame
	// Origin identifies the node that published it in a cluster (set by the broker; "" locally).
	Origin string
	// Presence is set instead of Main for a presence event (not sequenced, not kept): Prepare builds
	// frames only for the variants that render presence events.
	Presence *PresenceChange

	scratch [8]uint8 // the variants of the room's members, for Prepare (no allocation)
	skip    any      // the member not to deliver to (a Conn.Broadcast's sender), when hasSkip
	local   bool     // published on this node (Table.Publish), for Stats.Broadcasts
	hasSkip bool
	done    func(PubResult)
	table   releaser
}

type releaser interface{ putPub(p *Pub) }

// PubResult is what a publication got.
type PubResult struct {
	// Position is the publication's position (the zero Position when it went nowhere: a room without
	// members anywhere that keeps no history).
	Position Position
	// Delivered is the number of members of this node it was queued for.
	Delivered int
	// Err is set when the publication could not be sequenced (the cluster's stream refused it).
	Err error
}

// NewPub returns an empty publication for room.
func (t *Table[M]) NewPub(room string) *Pub {
	p, _ := t.pubs.Get().(*Pub)
	if p == nil {
		p = new(Pub)
	}
	p.Room, p.table = room, t
	return p
}

// Skip excludes m from the publication's delivery on this node (the sender of a broadcast).
func (t *Table[M]) Skip(p *Pub, m M) { p.skip, p.hasSkip = m, true }

// OnDone sets fn to run once the publication has its position and was delivered on this node (at once
// on a single node, during Publish; in a cluster whose broker sequences, on a broker goroutine).
func (p *Pub) OnDone(fn func(PubResult)) { p.done = fn }

// Release drops the publication's references and recycles it.
func (p *Pub) Release() {
	if p.Main != nil {
		p.Main.Release(1)
	}
	if p.Alt != nil {
		p.Alt.Release(1)
	}
	for i, f := range p.Frames {
		if f != nil {
			f.Release(1)
			p.Frames[i] = nil
		}
	}
	t := p.table
	*p = Pub{Frames: p.Frames}
	if t != nil {
		t.putPub(p)
	}
}

func (t *Table[M]) putPub(p *Pub) { t.pubs.Put(p) }

// Finish completes a publication: its done callback runs with res, then it is released. For brokers.
func (p *Pub) Finish(res PubResult) {
	if p.done != nil {
		p.done(res)
	}
	p.Release()
}

// Publish sequences p, records it in the room's history and delivers it to the room's members on this
// node, in one critical section per room so that every member sees the room's publications in the
// same order. With a broker that sequences (a cluster stream), p is handed to the broker, which
// delivers it back through Inbound, in the stream's order, on every node. The table takes p over.
func (t *Table[M]) Publish(p *Pub) {
	if err := t.CheckName(p.Room); err != nil {
		p.Finish(PubResult{Err: err})
		return
	}
	p.local = true
	if t.sequenced() {
		t.broker.Publish(p)
		return
	}
	res := t.publishLocal(p)
	if t.broker != nil {
		t.broker.Publish(p) // a relay: it copies what it sends before returning
	}
	p.Finish(res)
}

// publishLocal assigns p the next offset of its room and delivers it.
func (t *Table[M]) publishLocal(p *Pub) PubResult {
	for {
		r := t.Lookup(p.Room)
		if r == nil {
			if t.opts.Defaults.History.Size <= 0 {
				return PubResult{} // nobody here and nothing kept: no position
			}
			r = t.getOrCreate(p.Room, t.opts.Defaults)
		}
		r.pubMu.Lock()
		r.mu.RLock()
		if r.dead {
			r.mu.RUnlock()
			r.pubMu.Unlock()
			continue
		}
		r.st.last++
		p.Position, p.At = r.st.position(), time.Now().UnixNano()
		n := t.deliverLocked(r, p)
		empty := r.count.Load() == 0 && r.st.n == 0
		r.mu.RUnlock()
		r.pubMu.Unlock()
		if empty {
			t.removeIfEmpty(r)
		}
		return PubResult{Position: p.Position, Delivered: n}
	}
}

// deliverLocked records p in r's history and queues it to r's members. Caller holds r.pubMu and
// r.mu for reading.
func (t *Table[M]) deliverLocked(r *Room[M], p *Pub) int {
	t.record(r, p)
	if r.count.Load() == 0 {
		return 0
	}
	t.fan.Prepare(p, r.variants(p.scratch[:0]))
	var skip M
	if p.hasSkip {
		skip, _ = p.skip.(M)
	}
	n := 0
	for loop, list := range r.members {
		if len(list) > 0 {
			n += t.fan.Deliver(loop, list, skip, p.hasSkip, p)
		}
	}
	if n > 0 {
		t.stats.deliveries.Add(uint64(n))
		if p.local {
			t.stats.broadcasts.Add(1)
		}
	}
	return n
}

// record keeps p in r's history within the room's and the table's budgets. Caller holds r.pubMu.
func (t *Table[M]) record(r *Room[M], p *Pub) {
	o, s := &r.hist, &r.st
	if o.Size <= 0 {
		return
	}
	n0, b0 := s.n, s.bytes
	defer t.account(s, n0, b0)
	if o.TTL > 0 {
		s.expire(p.At - int64(o.TTL))
	}
	if o.MaxEntry > 0 && len(p.Main.Payload()) > o.MaxEntry {
		t.notKept(s)
		return
	}
	e := t.newEntry(p)
	budget := t.opts.HistoryBudget
	over := func() bool { return budget > 0 && t.stats.historyBytes.Load()+(s.bytes-b0)+e.size > budget }
	if (o.Bytes > 0 && e.size > o.Bytes) || (budget > 0 && e.size > budget) {
		releaseEntry(&e)
		t.notKept(s)
		return
	}
	for s.n > 0 && (s.n >= o.Size || (o.Bytes > 0 && s.bytes+e.size > o.Bytes) || over()) {
		s.popOldest()
	}
	if over() {
		releaseEntry(&e)
		t.notKept(s)
		return
	}
	s.push(e, o.Size)
}

// newEntry makes p's history entry: its frames (compacted when their pooled buffers are much larger)
// and what they cost, their buffers' capacity plus a fixed overhead.
func (t *Table[M]) newEntry(p *Pub) entry {
	e := entry{off: p.Position.Offset, at: p.At, main: t.opts.Frames.Retained(p.Main)}
	e.size = int64(e.main.Size()) + entryOverhead
	if p.Alt != nil {
		e.alt = t.opts.Frames.Retained(p.Alt)
		e.size += int64(e.alt.Size())
	}
	return e
}

// notKept handles a publication the history cannot keep: the history must stay contiguous, so what it
// held before is dropped too. The caller accounts for the entries dropped.
func (t *Table[M]) notKept(s *stream) {
	t.stats.notKept.Add(1)
	s.clear()
}

// account adds the change of a history since it held n entries of bytes to the table's totals.
func (t *Table[M]) account(s *stream, n int, bytes int64) {
	if d := s.n - n; d != 0 {
		t.stats.historyEntries.Add(int64(d))
	}
	if d := s.bytes - bytes; d != 0 {
		t.stats.historyBytes.Add(d)
	}
}

// trim drops the entries of r's history older than its TTL. Caller holds r.pubMu.
func (t *Table[M]) trim(r *Room[M], now int64) {
	if r.hist.TTL > 0 {
		s := &r.st
		n0, b0 := s.n, s.bytes
		s.expire(now - int64(r.hist.TTL))
		t.account(s, n0, b0)
	}
}

// Position is the current position of room name's stream on this node (the zero Position when the
// room does not exist here).
func (t *Table[M]) Position(name string) Position {
	r := t.Lookup(name)
	if r == nil {
		return Position{}
	}
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	return r.st.position()
}

// HistoryEntry is one publication of a room's history.
type HistoryEntry struct {
	Offset uint64
	At     time.Time
	Main   *Frame // valid during the callback only
}

// History calls fn with room name's position and the publications its history keeps after offset
// after (oldest first, at most limit; limit <= 0: all), under the room's publication lock: fn must copy
// what it keeps and must not call the Table. It reports false when the room does not exist here.
func (t *Table[M]) History(name string, after uint64, limit int, fn func(Position, []HistoryEntry)) bool {
	r := t.Lookup(name)
	if r == nil {
		return false
	}
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	s := &r.st
	t.trim(r, time.Now().UnixNano())
	start := 0
	if after >= s.first() {
		start = int(min(after+1-s.first(), uint64(s.n)))
	}
	if limit > 0 && s.n-start > limit {
		start = s.n - limit
	}
	out := make([]HistoryEntry, 0, s.n-start)
	for i := start; i < s.n; i++ {
		e := s.at(i)
		out = append(out, HistoryEntry{Offset: e.off, At: unixTime(e.at), Main: e.main})
	}
	fn(s.position(), out)
	return true
}

// Sweep drops the history entries that outlived their room's TTL and forgets the rooms left with no
// members and no history. The engine calls it from its timer goroutine every second or so.
func (t *Table[M]) Sweep(now time.Time) {
	var list []*Room[M]
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for _, r := range s.rooms {
			if r.hist.TTL > 0 {
				list = append(list, r)
			}
		}
		s.mu.RUnlock()
	}
	for _, r := range list {
		r.pubMu.Lock()
		t.trim(r, now.UnixNano())
		empty := r.st.n == 0
		r.pubMu.Unlock()
		if empty && r.count.Load() == 0 {
			t.removeIfEmpty(r)
		}
	}
}
