// Package engine is an embeddable WebSocket and HTTP server built on gnet event loops: no goroutine per
// connection, frames parsed straight out of gnet's read buffers, outbound frames pooled and written
// with one write per connection per loop iteration.
//
// Entry points:
//
//	app := engine.New(engine.Config{})                   // zero value = sane defaults
//	app.WS("/chat/:room", func(ws *engine.Conn, ctx *engine.Context) { ... })   // seed style
//	app.Route("/rooms/:room", engine.Handlers{Message: ...})                   // shared handlers
//	app.GET("/rooms/:room/info", func(ctx *engine.Context) error { return ctx.JSON(200, info) })
//	err := app.Listen(":3000")                           // blocks; app.Shutdown(ctx) drains
//
// # Threading model
//
// Every connection belongs to one event loop for its whole life, and every callback of a connection
// (open, message, ping, pong, error, close, and the HTTP handler of a plain request) runs on that loop,
// one at a time, in arrival order — the model of Node's event loop, which the API mirrors. Handlers must
// not block: blocking work goes to a goroutine, which may call ws.Send when done. Every method of Conn
// is safe from any goroutine: a call queues its frame on the connection's outbound queue under the
// loop's lock, and the loop writes the queue when the callback it is running returns (or, for a call
// from another goroutine, in a task queued on the loop). So frames reach the peer in the order the
// calls were made, a Close never overtakes frames queued before it, and the frames queued for one
// connection during one callback go out in a single write. Nothing but the owning loop touches a gnet
// connection.
//
// # Rooms, events, compression
//
// Conn.Join, Leave, Broadcast (all but the sender) and BroadcastAll, and App.Publish from any
// goroutine, work on the room table of package rooms: a broadcast is encoded once and queued to each
// loop's members in one critical section, in call order. Every connection's backlog is bounded by
// MaxBackpressure (SlowDrop or SlowClose; a plain HTTP connection whose answers reach it is not read
// until they drain, and at most 32 pipelined requests are answered per read). A text message that is
// a JSON object with a string "type" that has a handler (Conn.On, Handlers.Events) is a custom event
// (package dispatch); MessagePack replaces JSON when the client negotiates the "msgpack" subprotocol.
// permessage-deflate is negotiated per route (Compression). Config.Broker shares rooms between nodes
// (rooms/natsbroker).
//
// # Lifetimes
//
// Bytes handed to a handler (Message.Data, ping and pong payloads, Context.Body) point into the
// engine's buffers and are valid only until the handler returns; copy them to keep them. Send copies
// its argument before returning. A Context of a plain HTTP route is valid until its handler returns; the
// Context of a WebSocket upgrade lives as long as it is referenced.
//
// # Protocol
//
// The engine implements RFC 6455 as a server: client frames must be masked, RSV bits must be zero
// (no extension is negotiated yet), control frames are at most 125 bytes and never fragmented and may
// arrive between the fragments of a message, text must be valid UTF-8 (checked as fragments arrive, so
// an invalid sequence fails the connection at once with 1007), a message over MaxMessageSize is refused
// with 1009 as soon as a frame header announces it. A ping is answered with a pong automatically; pings
// and pongs are not messages (RateLimit does not count them) but have their own limit, ControlLimit
// (1008 past it). A connection the server fails is closed at TCP level as soon as its close frame is
// written; only a close the server starts for a healthy peer waits for the peer's answer. A bad
// request gets a precise HTTP status before any upgrade: 400 (malformed request or upgrade headers, an
// upgrade request with a body), 403 (origin), 404, 405, 408 (request not finished within
// HandshakeTimeout), 411, 413, 414, 426 (not an upgrade, or a WebSocket version other than 13), 429
// (requests pipelined past MaxHeaderBytes + MaxBodyBytes while the answers are not read), 431, 505.
// Nothing pipelined after a request whose answer closes the connection (Connection: close, HTTP/1.0)
// is run.
//
// # Caveats
//
//   - gnet has no TLS: run wsd behind a TLS-terminating proxy (see docs/).
//   - Routes are registered before Start; the route table is read-only afterwards.
//   - Plain HTTP support is deliberately small: Content-Length bodies only (chunked request bodies get
//     411), no compression, no HTTP/2. It exists for the API next to the WebSocket routes.
//   - Shutdown stops accepting by refusing new connections; the listening socket stays bound until the
//     event loops stop.
//   - Running out of file descriptors does not stop the server: accept backs off and retries while the
//     open connections are served (gnet is patched for this, third_party/gnet). Keep MaxConnections
//     below the descriptor limit so that sockets are refused at the cap instead. If the event loops
//     stop for another reason, every connection is dropped, Done is closed and Listen, Run and Err
//     report ErrEngineStopped.
package engine
