// Package client is an allocation-lean WebSocket load client over raw sockets, for the wsd load tests
// and benchmarks.
//
// Entry points:
//
//   - [ParseURL] and [Dialer]: connect and upgrade, optionally from a given source address (each
//     source address has its own ephemeral ports, so 127.0.0.2, 127.0.0.3, ... get past 64k
//     connections to one server port). [Dialer.DialRaw] returns the bare net.Conn for idle use,
//     [Dialer.Dial] a [Conn] with a read buffer.
//   - [Conn]: ReadFrame/ReadMessage (pings answered, close answered and returned as [*CloseError]),
//     Write of prebuilt frames, Close with a closing handshake.
//   - [Message]: a prebuilt masked frame whose first [StampSize] payload bytes are restamped in place
//     with the send time and a sequence number; [ReadStamp] decodes them on the receiving side, so
//     latency is measured across processes with the wall clock.
//   - [IdlePool]: many silent connections without a goroutine or buffer each; Sweep drains them
//     without blocking and answers pings.
//   - [Recorder] and [Histogram]: a lock-free log-bucketed latency histogram (about 1.6 % precision,
//     HdrHistogram-like quantiles), mergeable and JSON-friendly.
//
// Caveats: ws:// only (wsd has no TLS; terminate TLS in front). No extensions (permessage-deflate):
// server frames with RSV bits fail. A Conn's reads belong to one goroutine; its writes may come from
// one other goroutine (net.Conn writes are atomic per call), but WriteMessage shares scratch space
// with the pongs ReadFrame sends, so concurrent writers use prebuilt Messages or SendClose.
package client
