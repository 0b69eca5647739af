// Package natsbroker connects the rooms of several wsd nodes through NATS (rooms.Broker).
//
// Entry points:
//
//	var app *engine.App
//	b, err := natsbroker.New(natsbroker.Options{
//		URL:        "nats://nats:4222",
//		NodeID:     "ws-1",
//		History:    natsbroker.HistoryJetStream, // or auto (the default), or off
//		LocalCount: func(room string) int { return app.LocalCount(room) },
//	})
//	app = engine.New(engine.Config{Broker: b}) // app.Start calls b.Start, app.Shutdown calls b.Close
//
// The broker runs in one of two modes, chosen by Start (Options.History) and logged once:
//
//   - JetStream (a sequencer, Sequenced true): a NATS JetStream stream is the authority for every
//     room's offsets, epochs and history. A client that rejoins with its last position recovers what
//     it missed on any node, and across node restarts.
//   - relay (core NATS, Sequenced false): nodes only exchange publications; every node numbers what
//     it delivers itself, so recovery works only on the node the client was on ("live fan-out only:
//     clients cannot recover across nodes").
//
// # Relay mode
//
// Every room has one subject, <prefix>.room.<Escape(room)>. A node subscribes to a room's subject
// while it has members in the room (Interest), so the NATS server forwards a room's messages only to
// the nodes that need them. Every broadcast is delivered to the local members first, then published
// once; a message carries the id of the node that sent it and the encoded frames (each encoding's
// wire bytes, not re-encoded); a receiving node delivers them to its members (sequencing them
// itself) and ignores messages from itself. Delivery across nodes is at most once: messages
// published while a node is disconnected, or before its subscription reached the server (about one
// round trip after its first member joined), are lost for it.
//
// # JetStream mode
//
// A room's publications are stored on <prefix>.js.<token> in one stream (Options.Stream, file or
// memory storage, retention from the HistorySize, HistoryTTL and HistoryBytes options), which
// republishes every stored message on <prefix>.live.<token> (RePublish, nats-server 2.9 or later).
// A node subscribes to a room's live subject while it has interest in the room.
//
// Offsets: a node commits its publications of a room as one stored message (one commit in flight
// per room; what is published meanwhile goes into the next commit together: group commit). The
// message's headers claim offsets after the room's last stored message (Wsd-Offset, Wsd-Epoch) and
// carry Nats-Expected-Last-Subject-Sequence: JetStream stores it only if the room's last message is
// still the one the node knew, so two nodes can never claim the same offsets; the loser reads the
// room's last message (a direct get) and retries. Offsets are contiguous per room, in the stream's
// order.
//
// Epochs: a room's epoch is random, chosen by the first commit (or epoch marker: an empty stored
// message the first node to sync an empty room writes, so that every node reports the same epoch
// for it) after the room had no stored message: its history was all expired, discarded, purged, or
// the stream was recreated. Offsets start again at 1 in a new epoch.
//
// Delivery: a node delivers a stored message only when it continues the position it delivered last
// (the next offset, or offset 1 of a new epoch). Anything else means live messages were missed (a
// slow consumer, a reconnect, a subscription that reached a NATS cluster late): the node reads the
// room's stored messages after its position back from the stream (direct gets) before it delivers
// the rest. Its own publications come back too (the echo) and are delivered then, with their done
// callbacks: a publication reaches no member, not even on its own node, before it is stored. After
// every reconnect and slow-consumer event, and once a second after a room's sync, the node reads
// each room's last message and catches up if behind.
//
// Interest: every Interest(room, true) is answered with Inbound.Sync: the room's last stored message
// is read after the live subscription is in place, and deliveries continue from there. History
// reads a room's publications after a position with an ordered consumer on its stored subject.
//
// # Presence
//
// Counts (RemoteCount, RemoteRooms) come from per-room count reports every node publishes on
// <prefix>.presence each PresenceInterval (kept for PresenceTTL). Presence lists (RemotePresence)
// and events (Inbound.PresenceEvent) come from <prefix>.members: every local join or leave of a
// member that takes part in presence goes out in a numbered delta; a node that misses one (or sees
// a node it does not know, or starts) asks that node for a snapshot, sent to its inbox; every node
// beats once per PresenceInterval, and a node that stops beating for PresenceTTL is dropped with its
// members; a node that closes says goodbye. The traffic follows joins and leaves, never the number
// of members. Both work in either mode. docs/cluster.md has the figures.
//
// # Goroutines and blocking
//
// The rooms.Broker methods are called from event loops with room locks held: none of them blocks or
// calls nats.go. Interest, Publish and Presence append to queues that the broker's control goroutine
// applies; JetStream requests (commits, reads) go out without waiting, and their replies come back on
// one inbox subscription. Messages from other nodes are delivered by a fixed set of receive workers
// (at most 8), each owning the rooms that hash to it, so a room's messages keep their order and the
// number of goroutines does not grow with the number of rooms. History reads run on goroutines of
// their own, at most 8 at once.
//
// # Failures
//
// In relay mode an unreachable server is retried forever in the background and local delivery
// works meanwhile. In JetStream mode a publication is delivered only once stored: while NATS or
// JetStream is unavailable, publications wait (up to PublishQueue bytes, for PublishTimeout) and
// then fail with an error; a commit whose reply was lost is resolved by reading the stream back, so
// it is never stored twice. docs/cluster.md lists the guarantees of both modes.
package natsbroker
