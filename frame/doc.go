// Package frame implements the RFC 6455 WebSocket wire format on byte
// slices: it knows nothing of sockets, event loops, rooms or JSON.
//
// Entry points:
//
//   - Reading: [ParseHeader] decodes a frame header from whatever bytes
//     have arrived and says how many more it needs; [Header.Parse] does the
//     same in place and is the faster form for hot paths. [Mask] unmasks
//     the payload in place, chunk by chunk; [UTF8] validates text across
//     chunks and fragments; [ParseClose] checks a close payload.
//   - Writing: [Begin] reserves header room, the caller appends the payload,
//     [Finish] stamps the header in place and returns the wire frame; [Pool]
//     hands out buffers with the room already reserved. [AppendClose] builds
//     a close payload; [AppendFrame] and [AppendHeader] build whole (masked)
//     frames for clients and tests.
//   - Errors: every protocol violation is one of the sentinel
//     [*ProtocolError] values (ErrReservedOpcode, ErrInvalidUTF8, ...) and
//     carries the [CloseCode] it implies; [CloseCodeOf] maps any error to a
//     close code.
//
// # Zero allocation, never blocking
//
// The package is built for an event-loop server that parses frames straight
// out of its network read buffers. ParseHeader, Header.Parse, Mask,
// UTF8.Write, UTF8.Complete, ParseClose, PutHeader and Finish never
// allocate, never block and never retain the slices they are given; errors
// are the preallocated sentinels, so compare them with errors.Is or ==. A
// header split anywhere (even after one byte) is handled by parsing again
// once more bytes have arrived: the parser reports the missing count, and
// reports protocol errors as soon as the offending byte is present.
//
// # Concurrency
//
// Functions and the methods of Opcode and CloseCode are pure: safe for
// concurrent use (on distinct buffers). A UTF8 validator and a Header are
// values owned by one goroutine. Pool is safe for concurrent use.
//
// # Caveats
//
//   - ParseHeader enforces only what a header alone can violate. RSV bits
//     (ErrReservedBits), masking direction (ErrUnmasked), fragmentation
//     order (ErrUnexpectedContinuation, ErrExpectedContinuation) and size
//     limits (ErrMessageTooBig) are the caller's policy; the sentinels exist
//     so that every layer reports violations the same way.
//   - Header.Length may be anything up to 1<<63-1: bound it against the
//     message size limit before buffering or allocating anything.
//   - Non-minimal length encodings are accepted, as most servers do.
//   - A UTF8 validator spans a whole message: keep one per connection,
//     Reset it when a text message starts, and do not feed it the control
//     frames that may arrive between fragments.
//   - Slices returned by ParseClose and Finish alias their input.
//   - The RFC 7692 (permessage-deflate) side of the wire format is limited
//     to carrying the RSV1 bit; compression itself is not implemented here.
package frame
