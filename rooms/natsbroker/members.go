package natsbroker

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openspeed/wsd/rooms"
)

// Presence lists across nodes. Every node keeps the members (rooms.Client) that take part in
// presence of every other node, per room, so that any node answers RemotePresence at once. The
// traffic is proportional to joins and leaves, never to the number of members:
//
//   - every local join or leave goes into a delta; the control goroutine publishes what accumulated
//     as one message on <prefix>.members, numbered per node (seq 1, 2, 3, ... within one
//     incarnation of the node, a random number new at every Start);
//   - every PresenceInterval a node publishes a beat (its incarnation and last seq), alongside its
//     counts report;
//   - a node that misses a delta (a seq gap, a beat ahead of what it applied), sees a node it does not
//     know, or starts, asks for a snapshot: the node answers with all its members, chunked, straight
//     to the asker's inbox, numbered with the seq it is consistent with; later deltas apply on top;
//   - a node that says goodbye (Close), or whose beats stop for PresenceTTL (a crash, lost NATS), is
//     dropped with all its members.
//
// Changes of another node's members reach this node's members as presence events
// (Inbound.PresenceEvent): deltas as they apply, snapshots and drops as the difference they make.
//
// Wire format of a <prefix>.members message:
//
//	version   1 byte (membersVersion)
//	kind      1 byte: membersDelta, membersState, membersBeat, membersSync, membersBye
//	origin    1 byte length n, then n bytes: the sender's node id
//	inc       uvarint: the sender's incarnation
//	seq       uvarint: delta: its number; state and beat: the last delta it includes
//	flags     1 byte: membersLast on the last chunk of a state
//	entries   to the end (delta and state): 1 byte (1 joined, 0 left), then three uvarint-length
//	          strings: room, user, connection id. membersSync carries the asked node's id (empty:
//	          every node) as its single entry's room, and the inbox to answer to as its user.
const (
	membersVersion = 1
	membersDelta   = 1
	membersState   = 2
	membersBeat    = 3
	membersSync    = 4
	membersBye     = 5
	membersLast    = 1
	maxHeld        = 4096 // deltas a node holds while waiting for a snapshot
)

// memberEntry is one join or leave.
type memberEntry struct {
	joined bool
	room   string
	c      rooms.Client
}

// membersMsg is a decoded <prefix>.members message.
type membersMsg struct {
	kind    byte
	origin  string
	inc     uint64
	seq     uint64
	last    bool
	entries []memberEntry
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func readString(d []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(d)
	if k <= 0 || n > uint64(len(d)-k) {
		return "", nil, false
	}
	return string(d[k : k+int(n)]), d[k+int(n):], true
}

// membersHeader starts a message.
func membersHeader(dst []byte, kind byte, node string, inc, seq uint64, flags byte) []byte {
	dst = append(dst, membersVersion, kind, byte(len(node)))
	dst = append(dst, node...)
	dst = binary.AppendUvarint(dst, inc)
	dst = binary.AppendUvarint(dst, seq)
	return append(dst, flags)
}

func appendEntry(dst []byte, e memberEntry) []byte {
	j := byte(0)
	if e.joined {
		j = 1
	}
	dst = append(dst, j)
	dst = appendString(dst, e.room)
	dst = appendString(dst, e.c.User)
	return appendString(dst, e.c.Conn)
}

func decodeMembers(d []byte) (membersMsg, error) {
	var m membersMsg
	if len(d) < 3 || d[0] != membersVersion || len(d) < 3+int(d[2]) {
		return m, errEnvelope
	}
	m.kind, m.origin, d = d[1], string(d[3:3+int(d[2])]), d[3+int(d[2]):]
	var k int
	if m.inc, k = binary.Uvarint(d); k <= 0 {
		return m, errEnvelope
	}
	d = d[k:]
	if m.seq, k = binary.Uvarint(d); k <= 0 || len(d) < k+1 {
		return m, errEnvelope
	}
	m.last, d = d[k]&membersLast != 0, d[k+1:]
	for len(d) > 0 {
		e := memberEntry{joined: d[0] == 1}
		var ok1, ok2, ok3 bool
		e.room, d, ok1 = readString(d[1:])
		if ok1 {
			e.c.User, d, ok2 = readString(d)
		}
		if ok2 {
			e.c.Conn, d, ok3 = readString(d)
		}
		if !ok3 {
			return m, errEnvelope
		}
		m.entries = append(m.entries, e)
	}
	return m, nil
}

// localMembers are this node's members that take part in presence, and the deltas not sent yet.
type localMembers struct {
	mu      sync.Mutex
	inc     uint64
	seq     uint64
	rooms   map[string]map[string]string // room → connection id → user
	pending []memberEntry
	asks    []string // inboxes that asked for a snapshot
}

// change records a local join or leave (rooms.Broker.Presence). It reports whether a delta is now
// pending.
func (l *localMembers) change(ch rooms.PresenceChange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.rooms[ch.Room]
	if ch.Joined {
		if m == nil {
			m = make(map[string]string)
			l.rooms[ch.Room] = m
		}
		m[ch.Client.Conn] = ch.Client.User
	} else if m != nil {
		delete(m, ch.Client.Conn)
		if len(m) == 0 {
			delete(l.rooms, ch.Room)
		}
	}
	l.pending = append(l.pending, memberEntry{joined: ch.Joined, room: ch.Room, c: ch.Client})
}

// flush encodes the pending deltas (chunked) and the snapshots asked for, consistent with the last
// delta: emit is called with each message and its subject ("" for <prefix>.members).
func (l *localMembers) flush(node string, emit func(subject string, data []byte)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.pending) > 0 {
		l.seq++
		buf := membersHeader(nil, membersDelta, node, l.inc, l.seq, 0)
		n := 0
		for n < len(l.pending) && len(buf) < presenceChunk {
			buf = appendEntry(buf, l.pending[n])
			n++
		}
		clear(l.pending[:n])
		l.pending = l.pending[n:]
		emit("", buf)
	}
	l.pending = nil
	for _, inbox := range l.asks {
		l.snapshot(node, inbox, emit)
	}
	l.asks = nil
}

// snapshot emits every local member to inbox. Caller holds l.mu.
func (l *localMembers) snapshot(node, inbox string, emit func(string, []byte)) {
	buf := membersHeader(nil, membersState, node, l.inc, l.seq, 0)
	head := len(buf)
	for room, m := range l.rooms {
		for conn, user := range m {
			if len(buf) > presenceChunk {
				emit(inbox, buf)
				buf = buf[:head]
			}
			buf = appendEntry(buf, memberEntry{joined: true, room: room, c: rooms.Client{User: user, Conn: conn}})
		}
	}
	buf[head-1] = membersLast
	emit(inbox, buf)
}

// beat is this node's beat message.
func (l *localMembers) beat(node string) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return membersHeader(nil, membersBeat, node, l.inc, l.seq, 0)
}

// ask queues a snapshot for inbox (sent by the next flush).
func (l *localMembers) ask(inbox string) {
	l.mu.Lock()
	l.asks = append(l.asks, inbox)
	l.mu.Unlock()
}

// remoteNode is what this node knows of another node's members.
type remoteNode struct {
	inc      uint64
	seq      uint64 // the last delta applied
	synced   bool   // rooms is complete up to seq
	rooms    map[string]map[string]string
	seen     time.Time
	asked    time.Time // when a snapshot was last asked for
	held     []membersMsg
	building map[string]map[string]string // chunks of a snapshot being received
}

// randomInc is a new incarnation number.
func randomInc() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) >> 1
}

// Presence implements rooms.Broker: it records a local member's join or leave; the control
// goroutine sends it to the other nodes with the next delta. It never blocks.
func (b *Broker) Presence(ch rooms.PresenceChange) {
	if b.closing.Load() {
		return
	}
	b.local.change(ch)
	b.kick()
}

// RemotePresence implements rooms.Broker: the members of room on the other nodes that take part in
// presence, as their last messages described them (nodes silent for PresenceTTL excluded). It reads
// local state under a read lock.
func (b *Broker) RemotePresence(room string) []rooms.Client {
	return b.remote.list(room, time.Now())
}

// onMembers handles a presence message, or a snapshot chunk on this node's inbox (nats.go goroutines).
func (b *Broker) onMembers(m *nats.Msg) {
	msg, err := decodeMembers(m.Data)
	if err != nil {
		b.stats.decodeErrors.Add(1)
		return
	}
	if msg.kind == membersSync {
		if len(msg.entries) == 1 && (msg.entries[0].room == "" || msg.entries[0].room == b.opts.NodeID) &&
			msg.origin != b.opts.NodeID {
			b.local.ask(msg.entries[0].c.User)
			b.kick()
		}
		return
	}
	b.deliverEvents(b.remote.apply(msg, time.Now()))
}

// deliverEvents hands presence changes of other nodes' members to this node's members.
func (b *Broker) deliverEvents(evs []event) {
	for _, ev := range evs {
		b.in.PresenceEvent(ev)
	}
}

// askSnapshot queues a request for node's members (every node's when node is "") for the control
// goroutine. Never blocks.
func (b *Broker) askSnapshot(node string) {
	q := &b.queue
	q.mu.Lock()
	q.asks = append(q.asks, node)
	q.mu.Unlock()
	b.kick()
}

// sendMembers publishes the pending deltas, the snapshots asked of this node and this node's own
// snapshot requests. Control goroutine.
func (b *Broker) sendMembers(asks []string) {
	b.local.flush(b.opts.NodeID, func(subject string, data []byte) {
		if subject == "" {
			subject = b.membSubj
		}
		if err := b.nc.Publish(subject, data); err == nil {
			b.stats.presenceSent.Add(1)
		}
	})
	for _, node := range asks {
		buf := membersHeader(nil, membersSync, b.opts.NodeID, b.local.inc, 0, 0)
		buf = appendEntry(buf, memberEntry{room: node, c: rooms.Client{User: b.inbox}})
		_ = b.nc.Publish(b.membSubj, buf)
	}
}
