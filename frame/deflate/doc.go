// Package deflate is the RFC 7692 permessage-deflate wire layer: it
// negotiates the extension and turns message payloads into compressed
// payloads and back. It knows nothing of sockets, frames or event loops; the
// engine sets RSV1, fragments and enforces its policies around it.
//
// Entry points:
//
//   - Handshake: [Negotiate] reads the client's Sec-WebSocket-Extensions
//     offers under a [Policy] and returns the agreed [Params] and the exact
//     response header value.
//   - No context takeover (the default): [Pools.Compress] and
//     [Pools.Decompress], with compressors and inflaters pooled per server.
//     Nothing is held per connection, and one encoding of a broadcast goes
//     to every member that negotiated permessage-deflate with a 32 KiB
//     server window.
//   - Small server windows ([Params.SmallWindow]: server_max_window_bits
//     below 15): [Pools.CompressHuffman], Huffman-only blocks that refer
//     back to nothing, so one encoding fits every window.
//   - Context takeover (opt-in, per connection): [Pools.NewWriter] and
//     [Pools.NewReader] keep the LZ77 window across messages; Release them
//     when the connection closes.
//   - Errors: [ErrTooLarge] (1009) and [ErrCorrupt] (1007) are
//     *frame.ProtocolError sentinels, so frame.CloseCodeOf gives the close
//     code.
//
// # RFC 7692 in four lines
//
// A compressed message has RSV1 set on its first frame (never on
// continuations or control frames). Its payload, the concatenation of its
// frames' payloads, is raw DEFLATE (RFC 1951) ending with a sync flush whose
// last four bytes 0x00 0x00 0xff 0xff are removed by the sender (§7.2.1) and
// put back by the receiver (§7.2.2). With "no context takeover" each message
// is a fresh DEFLATE stream; otherwise it may refer back to the previous 32
// KiB of the same direction's stream (§7.1.1). Window sizes are negotiated
// with server_max_window_bits and client_max_window_bits (§7.1.2).
//
// # Choices
//
// Level: klauspost/compress level 1 (flate.BestSpeed). It has the smallest
// LZ compressor (about 810 KiB, against 1.2 MiB for levels 2 and 3 and 0.94
// to 1.1 MiB for levels 4 to 7), which matters for the pools and even more
// for context takeover. On chat-like JSON text levels 1 to 3 ran at the same
// speed within our (noisy, shared 2-core) benchmark runs and compress within
// 2 to 4% of each other (4 KiB: 0.29 of the input at level 1, 0.28 at
// levels 2 and 3); level 5 reaches 0.26 at clearly more CPU. Small messages
// gain little: a 256 B message costs a few microseconds, mostly Huffman
// table construction, to save about 40% of it, so the engine's threshold
// (send small messages uncompressed) should sit at a few hundred bytes.
//
// server_max_window_bits is accepted with every valid value (8 to 15) and
// echoed: the server then must not refer back farther than 2^bits bytes
// (RFC 7692 §7.1.2.1). Below 15, messages to that client are compressed with
// [Pools.CompressHuffman]: klauspost's flate.HuffmanOnly, whose blocks code
// every byte as a literal (or are stored), so they fit any window, even the
// 256 bytes of 8 bits. The answer then always carries
// server_no_context_takeover too (a server may add it unasked, §7.1.1.1):
// Huffman-only coding uses no context anyway, and the client may drop its
// window between messages. klauspost's NewWriterWindow would bound distances
// instead, but it runs the slower level 5 search, and one encoding per window
// size would break encode-once broadcasts; Huffman-only output is the same
// for every window, so a broadcast is compressed once for all small-window
// members (and once for all 32 KiB ones). The price is ratio: on the
// benchmark's JSON-ish text Huffman-only leaves 0.57 of 4 and 64 KiB messages
// (0.69 of 256 B ones) against 0.29 and 0.24 (0.57) at level 1, for 0.45 to
// 0.65 of the CPU (BenchmarkCompressHuffman against BenchmarkCompress;
// figures in docs/compression.md). Incompressible data is stored either way.
//
// client_max_window_bits is accepted and never answered: our inflater
// always has a 32 KiB window, so asking the client for less saves nothing
// here, and the absence of the parameter lets the client use any window.
//
// Context takeover is off unless the Policy allows it, and even then the
// client can refuse it with *_no_context_takeover, which is honoured.
//
// # Memory
//
// Measured by TestMemoryPerConnection (Go 1.26, amd64, klauspost/compress
// v1.20.4):
//
//   - No context takeover: nothing per connection. The Pools hold one
//     compressor (about 810 KiB; a Huffman-only one is about 320 KiB, most
//     of it klauspost's token buffer) and one inflater (about 37 KiB) per
//     goroutine compressing or inflating at the same moment (one per event
//     loop); sync.Pool frees idle ones after two garbage collections
//     (TestMemoryCompressors).
//   - Context takeover: a Writer or Reader is 24 B until its first message.
//     From then on a Writer holds a compressor, 828,060 B (about 809 KiB),
//     and a Reader holds an inflater, 38,224 B (about 37 KiB: the 32 KiB
//     window plus Huffman tables), until Release. Server context takeover
//     therefore costs about 0.8 GiB per thousand connections that have sent
//     a message: allow it only for few connections.
//
// # Decompression bombs
//
// Decompress counts the inflated bytes while inflating and stops at limit+1
// bytes with ErrTooLarge, without reading the rest of the input: 1 GiB of
// zeros (1.1 MB compressed) with a 1 MiB limit allocates about 1 MiB
// (TestDecompressionBomb). The output buffer grows in chunks (four times the
// compressed size first, then doubling), never past limit+1 bytes.
//
// # Allocation
//
// Compress, CompressHuffman, Decompress, Writer.Compress and
// Reader.Decompress allocate nothing once the pools are warm and dst has
// room for the result (BenchmarkCompress, BenchmarkCompressHuffman,
// BenchmarkDecompress, BenchmarkWriterContext, BenchmarkReaderContext
// report 0 allocs/op). Decompress reads its input in
// place (no copy of the compressed message). Negotiate allocates its
// response string; it runs once per handshake.
//
// # Concurrency
//
// Negotiate and the methods of Pools are safe for concurrent use. A Writer
// or a Reader belongs to one connection and is called by its owner only
// (the connection's event loop).
//
// # Caveats
//
//   - A Reader must see every compressed message of its connection in order;
//     after an error (ErrTooLarge, ErrCorrupt) the context is gone and it
//     fails every later message: close the connection.
//   - klauspost's inflater stops reading only with output or with an error
//     it keeps forever. When a message's closing sync block adds no output
//     (the empty message, or a sender that already flushed), the Reader's
//     input source ends the read with a private panic that Reader recovers
//     at once; nothing else panics, and only at a block boundary.
//   - An empty payload with RSV1 set is read as the empty message (the
//     canonical encoding is the single byte 0x00).
//   - klauspost accepts a few invalid streams that compress/flate rejects (a
//     block with an empty distance tree reuses the previous distance table).
//     Valid streams decode identically, and back-references never leave the
//     message's own history; FuzzDecompress checks that every message
//     compress/flate accepts decodes to the same bytes here.
//   - Data after a final (BFINAL) block is ignored; with context takeover a
//     BFINAL block ends the peer's stream and the next message starts a new
//     context (RFC 7692 §7.2.3.3).
package deflate
