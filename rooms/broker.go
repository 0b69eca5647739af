package rooms

// Broker carries rooms across nodes. The default (no broker) is a single node. An implementation
// (rooms/natsbroker) publishes each broadcast to the other nodes that have members in the room and
// hands what they publish to Inbound. None of its methods may block the caller: they are called from
// event loops and with room locks held.
type Broker interface {
	// Start connects the broker; messages from other nodes go to in. Called once, before any other method.
	Start(in Inbound) error
	// Publish sends a broadcast already delivered to this node's members to the other nodes: the room and
	// the encodings (Frames; the broker sends their wire bytes, it does not re-encode).
	Publish(room string, fs Frames)
	// Interest tells the broker that this node now has members in room (on) or no longer has (off), so it
	// subscribes to the room only while local members exist.
	Interest(room string, on bool)
	// RemoteCount is the number of members of room on the other nodes (eventually consistent).
	RemoteCount(room string) int
	// RemoteRooms lists the rooms the other nodes have members in, with their counts.
	RemoteRooms() map[string]int
	// Close disconnects.
	Close() error
}

// Inbound receives broadcasts from other nodes: room and the wire bytes of each encoding variant
// (index as in Frames; nil where absent). The bytes are valid only during the call.
type Inbound interface {
	DeliverRemote(room string, variants [][]byte)
}

// SetBroker connects the table to other nodes; call it before the table is used. nil: single node.
func (t *Table[M]) SetBroker(b Broker) { t.broker = b }

// Broker returns the table's broker, or nil.
func (t *Table[M]) Broker() Broker { return t.broker }

// interest reports a room's local membership turning on or off to the broker.
func (t *Table[M]) interest(name string, on bool) {
	if t.broker != nil {
		t.broker.Interest(name, on)
	}
}
