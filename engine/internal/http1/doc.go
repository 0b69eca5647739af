// Package http1 finds and parses one HTTP/1.1 request header block (RFC 9112)
// out of bytes that arrive in arbitrary pieces on an event loop.
//
// Entry points: a [Parser] per connection, [Parser.Parse] on every read with
// all unconsumed bytes of the current request, [Parser.Reset] between
// requests. The result is a [Request]; a request the server must refuse is
// reported as an [*Error] that carries the HTTP status to answer with.
//
// The calling pattern on a gnet connection:
//
//	n, err := p.Parse(buf, &req) // buf: every unconsumed byte of this request
//	switch {
//	case err != nil: // answer err.(*http1.Error).Status, then close
//	case n == 0:     // incomplete: leave buf in gnet's buffer, wait for more
//	default:         // req is complete; discard buf[:n], body (if any) follows
//	}
//
// Properties the engine relies on:
//
//   - Resumable: the parser remembers how far it scanned, so feeding a request
//     one byte at a time costs O(total bytes), not O(bytes²). It never blocks.
//   - Bounded: the header block (request line through the final empty line)
//     may be at most [Parser.MaxHeaderBytes] bytes (default
//     [DefaultMaxHeaderBytes]) and hold at most [MaxFields] field lines.
//   - Deterministic: the outcome is a function of the bytes alone, never of
//     how they were split across reads.
//   - Owned: a complete header block is copied once; every string in the
//     [Request] points into that copy, so the caller may reuse or discard its
//     buffer at once. The strings stay valid for as long as they are referenced.
//   - Cheap: one allocation per request (the copy) while the request has at
//     most 16 field lines; one more beyond that. None per field.
//
// Leniency, per RFC 9112: up to 4 empty lines before the request line are
// ignored, and a bare LF is accepted as a line terminator. Everything else
// that RFC 9112 says a server must or may reject is rejected: obs-fold, bare
// CR, whitespace before the colon, control characters in values, conflicting
// or malformed Content-Length, Transfer-Encoding together with Content-Length
// or not ending in chunked (or sent in an HTTP/1.0 request), and a missing or
// repeated Host in HTTP/1.1. Bytes >= 0x80 are accepted in the request-target
// and in field values (raw UTF-8 paths are common in practice).
//
// The package knows nothing of sockets, routing or WebSocket; the engine
// decides what a parsed request means and how to answer an [*Error].
package http1
