package natsbroker

import (
	"encoding/binary"
	"sync"
	"time"
)

// A presence report on the wire (the payload of a NATS message on <prefix>.presence):
//
//	version   1 byte (presenceVersion)
//	kind      1 byte: presenceSnapshot or presenceBye
//	origin    1 byte length n, then n bytes: the reporting node's id
//	epoch     uvarint: the number of the snapshot (new at every report; chunks of one report share it)
//	flags     1 byte: presenceLast on the last chunk of a snapshot
//	entries   repeated to the end: uvarint length, room name, uvarint local member count
//
// A snapshot larger than presenceChunk bytes is split into several messages. A receiver collects the
// chunks of the current epoch and replaces the node's counts when the last one arrives, so rooms that
// emptied on that node disappear one report later. A bye (sent by Close) forgets the node at once.
const (
	presenceVersion  = 1
	presenceSnapshot = 1
	presenceBye      = 2
	presenceLast     = 1
	presenceChunk    = 32 << 10
)

// nodeCounts is what one remote node last reported.
type nodeCounts struct {
	rooms    map[string]int // the last complete snapshot
	building map[string]int // chunks of epoch received so far
	epoch    uint64
	seen     time.Time // last report of any kind
}

// presence is the cluster's member counts as the other nodes report them. Safe from any goroutine;
// readers (RemoteCount, from event loops with room locks held) take only a read lock.
type presence struct {
	self string
	ttl  time.Duration

	mu    sync.RWMutex
	nodes map[string]*nodeCounts
}

func newPresence(self string, ttl time.Duration) *presence {
	return &presence{self: self, ttl: ttl, nodes: make(map[string]*nodeCounts)}
}

// presenceHeader is a decoded report without its entries.
type presenceHeader struct {
	kind   byte
	origin string
	epoch  uint64
	last   bool
}

// decodePresence parses a report: its header and its entries (room → count).
func decodePresence(data []byte) (presenceHeader, map[string]int, error) {
	var h presenceHeader
	if len(data) < 3 || data[0] != presenceVersion {
		return h, nil, errEnvelope
	}
	h.kind = data[1]
	n := int(data[2])
	data = data[3:]
	if len(data) < n {
		return h, nil, errEnvelope
	}
	h.origin, data = string(data[:n]), data[n:]
	epoch, k := binary.Uvarint(data)
	if k <= 0 || len(data) < k+1 {
		return h, nil, errEnvelope
	}
	h.epoch, h.last = epoch, data[k]&presenceLast != 0
	data = data[k+1:]
	entries := make(map[string]int)
	for len(data) > 0 {
		size, k := binary.Uvarint(data)
		if k <= 0 || size > uint64(len(data)-k) {
			return h, nil, errEnvelope
		}
		name := string(data[k : k+int(size)])
		data = data[k+int(size):]
		count, k := binary.Uvarint(data)
		if k <= 0 {
			return h, nil, errEnvelope
		}
		data = data[k:]
		entries[name] += int(count)
	}
	return h, entries, nil
}

// apply records one decoded report received at now. Reports from this node are ignored.
func (p *presence) apply(h presenceHeader, entries map[string]int, now time.Time) {
	if h.origin == p.self {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if h.kind == presenceBye {
		delete(p.nodes, h.origin)
		return
	}
	if h.kind != presenceSnapshot {
		return
	}
	st := p.nodes[h.origin]
	if st == nil {
		st = &nodeCounts{}
		p.nodes[h.origin] = st
	}
	st.seen = now
	if st.building == nil || st.epoch != h.epoch {
		st.building, st.epoch = entries, h.epoch
	} else {
		for name, n := range entries {
			st.building[name] += n
		}
	}
	if h.last {
		st.rooms, st.building = st.building, nil
	}
}

// count is the members of room on the nodes that reported within the TTL.
func (p *presence) count(room string, now time.Time) int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	n := 0
	for _, st := range p.nodes {
		if now.Sub(st.seen) <= p.ttl {
			n += st.rooms[room]
		}
	}
	return n
}

// rooms sums the fresh reports per room.
func (p *presence) rooms(now time.Time) map[string]int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make(map[string]int)
	for _, st := range p.nodes {
		if now.Sub(st.seen) > p.ttl {
			continue
		}
		for name, n := range st.rooms {
			if n > 0 {
				out[name] += n
			}
		}
	}
	return out
}

// fresh is the number of other nodes that reported within the TTL.
func (p *presence) fresh(now time.Time) int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	n := 0
	for _, st := range p.nodes {
		if now.Sub(st.seen) <= p.ttl {
			n++
		}
	}
	return n
}

// sweep forgets the nodes that stopped reporting.
func (p *presence) sweep(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, st := range p.nodes {
		if now.Sub(st.seen) > p.ttl {
			delete(p.nodes, id)
		}
	}
}

// presenceEncoder builds the chunks of one report.
type presenceEncoder struct {
	node  string
	epoch uint64
	buf   []byte
	emit  func([]byte) // called with each chunk; the bytes are reused after it returns
}

func (e *presenceEncoder) header(kind byte) {
	e.buf = append(e.buf[:0], presenceVersion, kind, byte(len(e.node)))
	e.buf = append(e.buf, e.node...)
	e.buf = binary.AppendUvarint(e.buf, e.epoch)
	e.buf = append(e.buf, 0)
}

// add appends one room, emitting the chunk so far first when it is full.
func (e *presenceEncoder) add(room string, n int) {
	if n <= 0 {
		return
	}
	if len(e.buf) == 0 {
		e.header(presenceSnapshot)
	} else if len(e.buf)+len(room)+2*binary.MaxVarintLen64 > presenceChunk {
		e.emit(e.buf)
		e.header(presenceSnapshot)
	}
	e.buf = binary.AppendUvarint(e.buf, uint64(len(room)))
	e.buf = append(e.buf, room...)
	e.buf = binary.AppendUvarint(e.buf, uint64(n))
}

// finish emits the last chunk (possibly with no entries: a node with no members still reports).
func (e *presenceEncoder) finish() {
	if len(e.buf) == 0 {
		e.header(presenceSnapshot)
	}
	e.buf[3+len(e.node)+uvarintLen(e.epoch)] = presenceLast
	e.emit(e.buf)
	e.buf = e.buf[:0]
}

// bye emits the report that removes this node from the others' counts.
func (e *presenceEncoder) bye() {
	e.header(presenceBye)
	e.buf[len(e.buf)-1] = presenceLast
	e.emit(e.buf)
	e.buf = e.buf[:0]
}

func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}
