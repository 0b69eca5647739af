// Package rooms is the room table of the wsd engine: sharded membership, the position and history of
// each room's stream, recovery, encode-once fan-out and presence. It knows nothing of sockets, HTTP or
// JSON: the engine hands it members (its connections) through the Member constraint and receives
// fan-out batches through Fanout. Users of the engine never import it (the engine re-exports the few
// names it needs); brokers (rooms/natsbroker) implement its Broker interface.
//
// # Structure
//
// Rooms are spread over 64 shards by a hash of their name; a shard is a map under its own lock. A room
// keeps its members in one slice per event loop, and each member remembers, in its Membership (stored
// inside the member itself, no map per connection), its index in each room's slice, so leaving is an
// O(1) swap-remove. A room is created by its first Join (or by a publication, when the table's
// default options keep history) and forgotten once it has neither members nor history: its stream
// then ends, and the next room of that name starts a new epoch.
//
// # Streams and history
//
// Every publication gets a Position: the next offset of its room (contiguous: 1, 2, 3, ...) in the
// room's epoch. The room keeps its last publications (a ring of frame references: no copy) within the
// room's HistoryOptions (count, bytes, age, largest entry) and the table's total budget; the ring
// always holds contiguous offsets, so a publication that cannot be kept drops what is older. JoinFrom
// checks a member's position against the ring and replays what it missed before adding it, under the
// room's publication lock, so that no publication is skipped or repeated however joins and
// publications interleave. With a sequencing Broker (JetStream) positions come from the cluster and
// history older than the ring is read from the broker.
//
// # Fan-out
//
// Publish calls Fanout.Prepare once per publication with the variants the room's members need (codec,
// compression, the route's envelope), then Fanout.Deliver once per event loop that has members, with
// that loop's member slice: the engine queues the right frame to each of them in one critical section
// and wakes the loop once, so the cost per recipient is a queue link, with no allocation and no lock.
// A room's publications are delivered one at a time (its publication lock), so every member sees them
// in the same order.
//
// # Lock order
//
//	shard.mu  →  Room.pubMu  →  Room.mu  →  Table.stripes[i]     (membership records)
//	Room.pubMu  →  Room.mu (read)  →  the engine's loop lock     (inside Fanout.Prepare/Deliver/Replay)
//
// Room.pubMu guards the stream (position, history ring), the joins waiting for a sequencing broker
// (waiters, failed, owed); Room.mu guards the members, their variants and pending (joins from a
// position in progress, which hold the room's interest; written under pubMu too); dead is written
// under both. A shard lock is never taken while a room lock is held: a room is looked up, then locked,
// and re-looked up when found dead. Fanout and Broker methods must not call back into the table while
// it holds a room lock; a broker's Inbound calls come from its own goroutines, without locks held.
package rooms
