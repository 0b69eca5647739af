// Package engine is an embeddable WebSocket and HTTP server built on gnet event loops: no goroutine per
// connection, frames parsed straight out of gnet's read buffers, outbound frames pooled and written
// with one write per connection per loop iteration. Users import only this package (and
// rooms/natsbroker to build a cluster broker).
//
// Entry points:
//
//	app := engine.New(engine.Config{})                        // zero value = sane defaults
//	app.WS("/chat/:room", func(ws *engine.Conn, ctx *engine.Context) {  // the plugin's app.ws
//		ws.Join(ctx.Param("room"))
//		ws.OnMessage(func(m engine.Message) { ws.Broadcast(ws.Room(), m) })
//	})
//	app.Route("/ws", engine.Handlers{Message: ..., Options: ...})   // shared handlers, options
//	app.GET("/rooms/:room", func(ctx *engine.Context) error { return ctx.JSON(200, v) })
//	err := app.Run(ctx, ":3000")                              // until ctx is done, then drains
//
// # Threading model
//
// Every connection belongs to one event loop for its whole life, and every callback of a connection
// (open, message, custom events, ping, pong, error, close, drop, drain, and the HTTP handler of a plain
// request) runs on that loop, one at a time, in arrival order — the model of Node's event loop, which
// the API mirrors. Handlers must not block: blocking work goes to a goroutine, which may call ws.Send
// (or answer a deferred HTTP request, Context.Defer) when done. Each method says which goroutine may
// call it: the Conn methods that send, join, leave, publish or close are safe from any goroutine; the
// ones that register callbacks or set per-connection state (On, OnX, SetData, SetUser) are for the
// connection's own handlers. A send queues its frame on the connection's outbound queue under the
// loop's lock, and the loop writes the queue when the callback it is running returns (or, for a call
// from another goroutine, in a task queued on the loop). So frames reach the peer in the order the
// calls were made, a close never overtakes frames queued before it, and the frames queued for one
// connection during one callback go out in a single write. Nothing but the owning loop touches a gnet
// connection.
//
// # Rooms, positions, recovery
//
// Conn.Join, Leave, Broadcast (all but the sender) and BroadcastAll, and App.Publish, work on a room
// table shared by every route. Every publication of a room gets a Position (an offset, contiguous per
// room, and the epoch of the room's stream) and is kept in the room's history within bounds
// (Config.History, HistoryBudget); it is encoded once per variant the members need (codec,
// compression, the route's Render) and queued to each loop's members in one critical section per
// room, so every member sees a room's publications in the same order. Conn.JoinFrom rejoins a room
// from the Position of the last publication a client received and replays what it missed, in order,
// before any later publication — or says why it cannot (Recovery). Routes with RouteOptions.Presence
// list their connections in App.Presence. Config.Broker shares rooms between nodes
// (rooms/natsbroker); with NATS JetStream positions and history are the cluster's.
//
// # Events, codecs, compression, backpressure
//
// A text message that is a JSON object with a string "type" that has a handler (Conn.On,
// Handlers.Events) is a custom event; MessagePack replaces JSON when the client negotiates the
// "msgpack" subprotocol. permessage-deflate is negotiated per route (Compression); a broadcast is
// compressed once for all the members that take it. Every connection's backlog is bounded by
// MaxBackpressure (SlowDrop or SlowClose; a plain HTTP connection whose answers reach it is not read
// until they drain, and at most 32 pipelined requests are answered per read).
//
// # Lifetimes
//
// Bytes handed to a handler (Message.Data, Event.Raw and Field, ping and pong payloads, Context.Body)
// point into the engine's buffers and are valid only until the handler returns; copy them (or
// Event.Detach) to keep them. Send and Publish copy their argument before returning. A Context of a
// plain HTTP route is valid until its handler returns; the Context of a WebSocket upgrade lives as long
// as it is referenced (RouteOptions.ReleaseContext drops the connection's reference after Open).
//
// # Protocol
//
// The engine implements RFC 6455 as a server: client frames must be masked, RSV bits must be zero
// unless permessage-deflate (RFC 7692) was negotiated (RSV1 on the first frame of a compressed
// message), control frames are at most 125 bytes and never fragmented and may arrive between the
// fragments of a message, text must be valid UTF-8 (checked as fragments arrive, so an invalid sequence
// fails the connection at once with 1007), a message over MaxMessageSize is refused with 1009 as soon
// as a frame header announces it. A ping is answered with a pong automatically; pings and pongs are not
// messages (RateLimit does not count them) but have their own limit, ControlLimit (1008 past it). A
// connection the server fails is closed at TCP level as soon as its close frame is written; only a
// close the server starts for a healthy peer waits for the peer's answer. A bad request gets a precise
// HTTP status before any upgrade: 400 (malformed request or upgrade headers, an upgrade request with a
// body), 403 (origin), 404, 405, 408 (request not finished within HandshakeTimeout), 411, 413, 414,
// 426 (not an upgrade, or a WebSocket version other than 13), 429 (requests pipelined past
// MaxHeaderBytes + MaxBodyBytes while the answers are not read), 431, 503 (over MaxConnections, or no
// deferred answer in time), 505. Nothing pipelined after a request whose answer closes the connection
// (Connection: close, HTTP/1.0) is run.
//
// # Caveats
//
//   - gnet has no TLS: run wsd behind a TLS-terminating proxy (see docs/).
//   - Routes are registered before Start, from one goroutine; the route table is read-only afterwards.
//   - Plain HTTP support is deliberately small: Content-Length bodies only (chunked request bodies get
//     411), no compression, no HTTP/2. It exists for the API next to the WebSocket routes.
//   - Shutdown stops accepting by refusing new connections; the listening socket stays bound until the
//     event loops stop.
//   - Running out of file descriptors does not stop the server: accept backs off and retries while the
//     open connections are served (gnet is patched for this, third_party/gnet). Keep MaxConnections
//     below the descriptor limit so that sockets are refused at the cap instead. If the event loops
//     stop for another reason, every connection is dropped, Done is closed and Run and Err report
//     ErrEngineStopped.
package engine
