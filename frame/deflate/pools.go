package deflate

import (
	"io"
	"math"
	"slices"
	"sync"

	"github.com/klauspost/compress/flate"

	"github.com/openspeed/wsd/frame"
)

// level is the compression level of every compressor: klauspost's level 1
// (flate.BestSpeed), whose compressor is the smallest of the LZ77 levels and
// no slower than levels 2 and 3. See the package doc.
const level = flate.BestSpeed

// Sentinel errors. They are *frame.ProtocolError values carrying the close
// code the engine sends, so frame.CloseCodeOf maps them; compare with
// errors.Is or ==. Never mutated; safe to share.
var (
	// ErrTooLarge: the inflated message exceeds the limit (1009). Inflating
	// stopped at limit+1 bytes.
	ErrTooLarge error = &frame.ProtocolError{Code: frame.CloseMessageTooBig, Reason: "inflated message too big"}
	// ErrCorrupt: the compressed data is not valid DEFLATE, or a context
	// takeover Reader was used after an earlier error (1007).
	ErrCorrupt error = &frame.ProtocolError{Code: frame.CloseInvalidPayload, Reason: "invalid compressed data"}
)

// minChunk is the smallest growth of the output buffer while inflating.
const minChunk = 512

// Pools holds pooled compressors and decompressors: one Pools per server
// (keep it in the server's state, never in a package variable). The zero
// value is ready; a Pools must not be copied after first use. Safe for
// concurrent use: any goroutine may call Compress, CompressHuffman,
// Decompress, NewWriter and NewReader.
type Pools struct {
	compressors sync.Pool // *compressor at level
	huffman     sync.Pool // *compressor at flate.HuffmanOnly
	inflaters   sync.Pool // *inflater
}

// compressor is a flate writer that appends its output to a byte slice.
type compressor struct {
	fw  *flate.Writer
	out appendWriter
}

// appendWriter is the io.Writer under a compressor: it appends to b.
type appendWriter struct{ b []byte }

// Write appends p to w.b; it never fails.
func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// inflater is a flate reader over a source.
type inflater struct {
	fr  io.Reader      // klauspost's decompressor
	rs  flate.Resetter // the same value
	src source
}

// getCompressor takes a compressor from the pool or builds one. Its context
// is whatever it last compressed: Reset it before use.
func (p *Pools) getCompressor() *compressor {
	if c, _ := p.compressors.Get().(*compressor); c != nil {
		return c
	}
	c := new(compressor)
	c.fw, _ = flate.NewWriter(&c.out, level) // err is nil for a valid level
	return c
}

// getHuffman takes a Huffman-only compressor from the pool or builds one.
// It holds no context worth keeping, but Reset it before use anyway.
func (p *Pools) getHuffman() *compressor {
	if c, _ := p.huffman.Get().(*compressor); c != nil {
		return c
	}
	c := new(compressor)
	c.fw, _ = flate.NewWriter(&c.out, flate.HuffmanOnly) // err is nil for a valid level
	return c
}

// getInflater takes an inflater from the pool or builds one. Reset it
// before use.
func (p *Pools) getInflater() *inflater {
	if in, _ := p.inflaters.Get().(*inflater); in != nil {
		return in
	}
	in := new(inflater)
	fr := flate.NewReader(&in.src)
	in.fr, in.rs = fr, fr.(flate.Resetter)
	return in
}

// compress appends the DEFLATE encoding of src, ended by a sync flush whose
// 0x00 0x00 0xff 0xff is then removed (RFC 7692 §7.2.1), to dst. The
// compressor keeps its context: the caller resets it or not.
func (c *compressor) compress(dst, src []byte) []byte {
	c.out.b = dst
	// appendWriter never fails, so neither do Write and Flush.
	_, _ = c.fw.Write(src)
	_ = c.fw.Flush()
	out := c.out.b
	c.out.b = nil // do not keep the caller's buffer
	return out[:len(out)-len(syncTail)]
}

// Compress appends the raw DEFLATE encoding of src as one message without
// context takeover (the payload of a frame with RSV1 set, or of the frames
// of a fragmented message) to dst and returns the extended slice. The empty
// message encodes as the single byte 0x00 (RFC 7692 §7.2.3.6).
//
// The output depends on src alone, so one encoding can be sent to every
// connection that negotiated server_no_context_takeover. It does not retain
// dst or src. Safe for concurrent use; allocation-free once the pool is warm
// and dst has room.
func (p *Pools) Compress(dst, src []byte) []byte {
	c := p.getCompressor()
	c.fw.Reset(&c.out)
	dst = c.compress(dst, src)
	p.compressors.Put(c)
	return dst
}

// CompressHuffman is Compress with Huffman-only blocks: every byte is coded
// as a literal (or the block is stored), never as a back-reference, so the
// output fits every LZ77 window, down to the 256 bytes of
// server_max_window_bits=8 (RFC 7692 §7.1.2.1). It compresses less than
// Compress (text to about half to two thirds of its size instead of about a
// third) at less CPU. Messages to a peer whose Params.SmallWindow is true
// must be compressed with it.
//
// Like Compress, the output depends on src alone, so one encoding can be
// sent to every such connection, and it does not retain dst or src. Safe
// for concurrent use; allocation-free once the pool is warm and dst has
// room.
func (p *Pools) CompressHuffman(dst, src []byte) []byte {
	c := p.getHuffman()
	c.fw.Reset(&c.out)
	dst = c.compress(dst, src)
	p.huffman.Put(c)
	return dst
}

// Decompress appends the inflated message to dst and returns the extended
// slice. src is one whole compressed message (the concatenated payloads of
// its frames, without the 0x00 0x00 0xff 0xff the sender removed) from a peer
// without context takeover. An empty src is read as the empty message.
//
// It stops and returns ErrTooLarge as soon as the output would exceed limit
// bytes (limit < 0: no limit), without inflating the rest: dst grows by at
// most about limit bytes (decompression-bomb defence). Malformed data
// returns ErrCorrupt. On error the returned slice is dst's original length
// (with any capacity grown meanwhile). Data after a final (BFINAL) block is
// ignored.
//
// It does not retain dst or src. Safe for concurrent use; allocation-free
// once the pool is warm and dst has room for the message.
func (p *Pools) Decompress(dst, src []byte, limit int64) ([]byte, error) {
	if len(src) == 0 {
		return dst, nil
	}
	in := p.getInflater()
	in.src.reset(src, finalTail)
	in.src.stopAtBoundary = false
	_ = in.rs.Reset(&in.src, nil) // never fails without a checkpoint
	dst, err := readMessage(dst, limit, len(src), (*oneShot)(in))
	in.src.reset(nil, nil)
	p.inflaters.Put(in)
	return dst, err
}

// chunkReader inflates the next part of a message into p; end reports that
// the message is complete.
type chunkReader interface {
	readChunk(p []byte) (n int, end bool, err error)
}

// oneShot reads a message that ends with finalTail: the inflater reports
// io.EOF at its end.
type oneShot inflater

func (o *oneShot) readChunk(p []byte) (int, bool, error) {
	n, err := o.fr.Read(p)
	switch err {
	case nil:
		return n, false, nil
	case io.EOF:
		return n, true, nil
	}
	return n, true, ErrCorrupt
}

// readMessage appends what r inflates to dst until the end of the message,
// growing dst in chunks and never reading more than limit+1 bytes.
func readMessage(dst []byte, limit int64, hint int, r chunkReader) ([]byte, error) {
	start := len(dst)
	room := int64(math.MaxInt64) // output bytes we may still read
	if limit >= 0 && limit < math.MaxInt64 {
		room = limit + 1
	}
	for {
		if len(dst) == cap(dst) {
			dst = grow(dst, len(dst)-start, hint, room)
		}
		p := dst[len(dst):cap(dst)]
		if int64(len(p)) > room {
			p = p[:room]
		}
		n, end, err := r.readChunk(p)
		dst = dst[:len(dst)+n]
		room -= int64(n)
		switch {
		case room == 0 && limit >= 0:
			return dst[:start], ErrTooLarge
		case err != nil:
			return dst[:start], err
		case end:
			return dst, nil
		}
	}
}

// grow makes room for the next chunk: at least as much as the output so
// far (doubling), a few times the compressed size for the first chunk, and
// never more than room.
func grow(dst []byte, out, hint int, room int64) []byte {
	n := max(out, 4*hint, minChunk)
	if int64(n) > room {
		n = int(room)
	}
	return slices.Grow(dst, n)
}
