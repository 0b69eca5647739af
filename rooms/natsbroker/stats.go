package natsbroker

import (
	"sync/atomic"
	"time"
)

// Stats are the broker's counters since New, for metrics. All counts are cumulative except Rooms,
// Nodes and Connected.
type Stats struct {
	Published        uint64 // broadcasts handed to NATS
	PublishFailures  uint64 // broadcasts not sent: queue full, NATS reconnect buffer full, closed
	Received         uint64 // room messages received from NATS
	Delivered        uint64 // room messages handed to the engine (Inbound.DeliverRemote)
	DroppedOwn       uint64 // room messages ignored because this node sent them
	DecodeErrors     uint64 // room messages and presence reports that could not be decoded
	Reconnects       uint64 // successful reconnections to NATS
	Disconnects      uint64 // connections to NATS lost
	SlowConsumer     uint64 // times NATS dropped messages because a receive worker fell behind
	PresenceSent     uint64 // presence reports (chunks) published
	PresenceReceived uint64 // presence reports (chunks) received from other nodes
	Rooms            int    // rooms this node is subscribed to now
	Nodes            int    // other nodes whose presence reports are fresh
	Connected        bool   // connected to a NATS server now
}

type counters struct {
	published, publishFailures, received, delivered, droppedOwn, decodeErrors atomic.Uint64
	reconnects, disconnects, slowConsumer, presenceSent, presenceReceived     atomic.Uint64
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
		Rooms:            int(c.rooms.Load()),
		Nodes:            b.pres.fresh(time.Now()),
		Connected:        b.Connected(),
	}
}
