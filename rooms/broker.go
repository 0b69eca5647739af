package rooms

import "sync/atomic"

// Broker carries rooms across nodes. The default (no broker) is a single node. None of its methods
// may block the caller: they are called from event loops and with room locks held. There are two
// kinds:
//
//   - A relay (Sequenced false) only carries publications: every node sequences what it delivers
//     itself, so positions are per node (each node's streams have their own epochs) and recovery
//     works only on the node a client was on.
//   - A sequencer (Sequenced true, NATS JetStream) is the authority for positions and history: a
//     publication is handed to it unsequenced, and every node, the publisher's included, receives it
//     back through Inbound.Deliver with its cluster-wide position, in the stream's order. Recovery then
//     works on every node, and across restarts.
type Broker interface {
	// Start connects the broker; publications from the cluster go to in. Called once, before any other
	// method.
	Start(in Inbound) error
	// Sequenced reports whether the broker sequences publications (see Broker). Constant.
	Sequenced() bool
	// Publish hands a publication to the cluster. A relay copies what it sends (p.Main and p.Alt wire
	// bytes, p.Position) before returning and keeps nothing. A sequencer takes p over: it finishes it
	// (Pub.Finish) once the cluster's stream has it and, when this node has interest in the room, once
	// it came back through Inbound.Deliver (which then does the finishing).
	Publish(p *Pub)
	// Interest tells the broker that this node now needs a room's publications (on) or no longer does
	// (off). The table calls it only at changes, in order. A sequencer answers every Interest(room,
	// true) call with exactly one Inbound.Sync, in call order, even when the interest turned off again
	// meanwhile (coalescing calls is fine as long as each gets its answer): the table trusts only the
	// answer to its last call, and delivers nothing of the room before it.
	Interest(room string, on bool)
	// RemoteCount is the number of members of room on the other nodes (eventually consistent).
	RemoteCount(room string) int
	// RemoteRooms lists the rooms the other nodes have members in, with their counts.
	RemoteRooms() map[string]int
	// History reads the cluster's history of room after since (a sequencer only; a relay answers with
	// an error) and calls done once, on any goroutine, with at most limit publications (oldest first).
	History(room string, since Position, limit int, done func(HistoryReply))
	// Presence tells the other nodes with interest in the room that a member of this node joined or
	// left it (for their presence lists and events).
	Presence(ch PresenceChange)
	// RemotePresence lists the members of room on the other nodes that take part in presence
	// (eventually consistent).
	RemotePresence(room string) []Client
	// Close disconnects.
	Close() error
}

// HistoryReply is a Broker's answer to History.
type HistoryReply struct {
	// Position is the stream's position when it was read.
	Position Position
	// Pubs are the publications after the requested offset, oldest first, contiguous (each one
	// reference owned by the receiver).
	Pubs []*Pub
	// Err is set when the history could not be read.
	Err error
}

// Inbound is the table as a broker sees it. Safe from any goroutine.
type Inbound interface {
	// NewPub returns an empty publication to fill with frames from FromWire.
	NewPub(room string) *Pub
	// FromWire copies a complete unmasked frame as another node sent it into a pooled Frame holding one
	// reference (nil when wire is not such a frame).
	FromWire(wire []byte) *Frame
	// Deliver delivers a publication from the cluster to this node's members and takes it over. From a
	// relay, p has no position: this node sequences it. From a sequencer, p carries its cluster-wide
	// position; the broker calls Deliver for each room in the stream's order.
	Deliver(p *Pub)
	// PresenceEvent delivers a presence change of another node's member to this node's members.
	PresenceEvent(ch PresenceChange)
	// Sync answers an Interest(room, true) call: pos is the sequencer's position of room, read after
	// the broker started receiving the room's publications, and the deliveries that follow continue
	// from pos.Offset+1, in order and without gaps. err reports that the position could not be read
	// (joins waiting for it then complete without recovery, reason "failed").
	Sync(room string, pos Position, err error)
}

// tableStats are the table's counters.
type tableStats struct {
	historyBytes   atomic.Int64
	historyEntries atomic.Int64
	notKept        atomic.Uint64 // publications the history could not keep
	recovered      atomic.Uint64 // joins from a position that missed nothing
	failed         atomic.Uint64 // joins from a position that could not recover
	replayed       atomic.Uint64 // publications replayed by recoveries
	broadcasts     atomic.Uint64 // publications made on this node that reached a member of this node
	deliveries     atomic.Uint64 // frames queued to members by publications
	refetched      atomic.Uint64 // history reads from a sequencing broker retried
}

// Stats is a snapshot of the table's counters.
type Stats struct {
	HistoryBytes   int64  // bytes kept by all histories (payloads plus per-entry overhead)
	HistoryEntries int64  // publications kept by all histories
	NotKept        uint64 // publications a history could not keep (over a size cap or the budget)
	Recovered      uint64 // joins from a position that missed nothing
	RecoveryFailed uint64 // joins from a position that could not recover
	Replayed       uint64 // publications replayed by recoveries
	Broadcasts     uint64 // publications made on this node that reached at least one member of it
	Deliveries     uint64 // frames queued to members by publications
}

// Stats returns the table's counters.
func (t *Table[M]) Stats() Stats {
	s := &t.stats
	return Stats{HistoryBytes: s.historyBytes.Load(), HistoryEntries: s.historyEntries.Load(),
		NotKept: s.notKept.Load(), Recovered: s.recovered.Load(), RecoveryFailed: s.failed.Load(),
		Replayed: s.replayed.Load(), Broadcasts: s.broadcasts.Load(), Deliveries: s.deliveries.Load()}
}

// Start starts the table's broker (if any) with the table as its Inbound.
func (t *Table[M]) Start() error {
	if t.broker == nil {
		return nil
	}
	return t.broker.Start(t)
}

// Close closes the table's broker (if any).
func (t *Table[M]) Close() error {
	if t.broker == nil {
		return nil
	}
	return t.broker.Close()
}

// FromWire implements Inbound.
func (t *Table[M]) FromWire(wire []byte) *Frame { return t.opts.Frames.FromWire(wire) }
