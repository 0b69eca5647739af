// Package rooms is the room table of the wsd engine: sharded membership, encode-once fan-out and the
// history ring of each room. It knows nothing of sockets, HTTP or JSON: the engine hands it members
// (its connections) through the Member constraint and receives fan-out batches through Fanout.
//
// # Structure
//
// Rooms are spread over 64 shards by a hash of their name; a shard is a map under its own lock. A room
// keeps its members in one slice per event loop, and each member remembers, in its Membership (stored
// inside the member itself, no map per connection), its index in each room's slice, so leaving is an
// O(1) swap-remove. A room is created by its first Join and removed when its last member leaves.
//
// # Fan-out
//
// Broadcast takes an already encoded, reference-counted Frame and calls Fanout.Deliver once per event
// loop that has members, with that loop's member slice: the engine queues the one frame to all of them
// in one critical section and wakes the loop once, so the cost per recipient is a queue link, with no
// allocation and no lock. Deliveries happen at call time, in call order, which is what keeps messages
// from one sender in order at every member, and a later direct send behind an earlier broadcast.
//
// # Lock order
//
//	shard.mu  →  Room.mu  →  Table.stripes[i]     (membership records)
//	Room.mu (read)  →  the engine's loop lock     (inside Fanout.Deliver)
//	Room.histMu is a leaf.
//
// A shard lock is never taken while a room lock is held. Fanout.Deliver must not call back into the
// table. Membership records are guarded by a striped lock chosen by the member's identity, taken only
// while the room lock is held.
package rooms
