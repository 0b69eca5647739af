package natsbroker

import (
	"sync/atomic"
	"time"
)

// Stats are the broker's counters since New, for metrics. All counts are cumulative except Rooms,
// Nodes, RemoteMembers, Connected and JetStream.
type Stats struct {
	Published        uint64 // relay: broadcasts handed to NATS
	PublishFailures  uint64 // publications not sent (relay) or not stored (JetStream): queue full, NATS down, closed, too large, timeout
	Received         uint64 // room messages received from NATS (relay subjects, or live subjects in JetStream mode)
	Delivered        uint64 // publications handed to the engine (Inbound.Deliver)
	DroppedOwn       uint64 // relay: room messages ignored because this node sent them
	DecodeErrors     uint64 // room messages and presence messages that could not be decoded
	Reconnects       uint64 // successful reconnections to NATS
	Disconnects      uint64 // connections to NATS lost
	SlowConsumer     uint64 // times NATS dropped messages because a receive worker fell behind
	PresenceSent     uint64 // counts reports, presence deltas, snapshots and beats published
	PresenceReceived uint64 // counts reports received from other nodes
	Commits          uint64 // JetStream: commit attempts (stored messages, each one or more publications)
	Conflicts        uint64 // JetStream: commits refused because another node stored first (then retried)
	CaughtUp         uint64 // JetStream: stored messages read back to fill a gap in the live subject
	Duplicates       uint64 // JetStream: live or read-back messages skipped as already delivered
	HistoryReads     uint64 // JetStream: History reads (recoveries reaching past this node's history)
	Rooms            int    // rooms this node is subscribed to now
	Nodes            int    // other nodes whose counts reports are fresh
	RemoteMembers    int    // members of other nodes known to presence now
	Connected        bool   // connected to a NATS server now
	JetStream        bool   // the broker runs in JetStream mode (Sequenced)
}

type counters struct {
	published, publishFailures, received, delivered, droppedOwn, decodeErrors atomic.Uint64
	reconnects, disconnects, slowConsumer, presenceSent, presenceReceived     atomic.Uint64
	commits, conflicts, caughtUp, duplicates, historyReads                    atomic.Uint64
	rooms                                                                     atomic.Int64
}

// Stats returns the current counters. Safe from any goroutine.
func (b *Broker) Stats() Stats {
	c := &b.stats
	return Stats{
		Published:        c.published.Load(),
		PublishFailures:  c.publishFailures.Load(),
		Received:         c.received.Load(),
		Delivered:        c.delivered.Load(),
		DroppedOwn:       c.droppedOwn.Load(),
		DecodeErrors:     c.decodeErrors.Load(),
		Reconnects:       c.reconnects.Load(),
		Disconnects:      c.disconnects.Load(),
		SlowConsumer:     c.slowConsumer.Load(),
		PresenceSent:     c.presenceSent.Load(),
		PresenceReceived: c.presenceReceived.Load(),
		Commits:          c.commits.Load(),
		Conflicts:        c.conflicts.Load(),
		CaughtUp:         c.caughtUp.Load(),
		Duplicates:       c.duplicates.Load(),
		HistoryReads:     c.historyReads.Load(),
		Rooms:            int(c.rooms.Load()),
		Nodes:            b.pres.fresh(time.Now()),
		RemoteMembers:    b.remote.size(),
		Connected:        b.Connected(),
		JetStream:        b.Sequenced(),
	}
}
