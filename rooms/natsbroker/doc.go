// Package natsbroker connects the rooms of several wsd nodes through NATS (rooms.Broker).
//
// Entry points:
//
//	var app *engine.App
//	b, err := natsbroker.New(natsbroker.Options{
//		URL:        "nats://nats:4222",
//		NodeID:     "ws-1",
//		LocalCount: func(room string) int { return app.LocalCount(room) },
//	})
//	app = engine.New(engine.Config{Broker: b}) // app.Start calls b.Start, app.Shutdown calls b.Close
//
// # How it works
//
// Every room has one subject, <prefix>.room.<Escape(room)>. A node subscribes to a room's subject
// while it has members in the room (Interest on at the first local join, off at the last leave), so
// the NATS server forwards a room's messages only to the nodes that need them. Every broadcast is
// delivered to the local members first, then published once, whether or not other nodes have members:
// the server drops messages nobody subscribed to. A message carries the id of the node that sent it
// and the encoded frames (each variant's wire bytes, not re-encoded); a receiving node delivers them to
// all its members of the room (the sender's exclusion only matters on the sender's node, where the
// sender is), and ignores messages from itself.
//
// Room counts across the cluster come from presence reports: every node publishes its local count of
// every room it has members in on <prefix>.presence each PresenceInterval; every node keeps the last
// report of each other node for PresenceTTL. RemoteCount and RemoteRooms read that table; they never
// wait for the network, which is why the engine may call them from event loops. Counts, and a member
// cap checked against them, are eventually consistent. docs/cluster.md says why and what that means.
//
// # Goroutines and blocking
//
// The rooms.Broker methods are called from event loops with room locks held: none of them blocks or
// calls nats.go. Interest and Publish append to a queue that one broker goroutine applies (latest
// Interest per room wins, broadcasts in call order); a full publish queue drops the broadcast for the
// other nodes and counts it. Messages from other nodes are delivered by a fixed set of receive workers
// (at most 8), each owning the rooms that hash to it, so a room's messages keep NATS's order and the
// number of goroutines does not grow with the number of rooms.
//
// # Failures
//
// Start does not wait for NATS: an unreachable server is retried forever in the background, local
// delivery works meanwhile. While disconnected, nats.go buffers what is published (ReconnectBufSize,
// 8 MiB by default) and sends it after reconnecting; past that buffer broadcasts are dropped and
// counted. After a reconnect nats.go re-subscribes every room subscription. Messages published by other
// nodes while this node was disconnected are lost for it: delivery across nodes is at most once.
package natsbroker
