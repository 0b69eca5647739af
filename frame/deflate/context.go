package deflate

import (
	"errors"
	"io"
)

// Writer is a per-connection compressor that keeps its context across
// messages (server context takeover): later messages may refer back to the
// last 32 KiB of earlier ones, so every message compressed by a Writer must
// be sent, in order, on its connection alone.
//
// A Writer takes no flate state until its first Compress, then holds one
// compressor (see the package doc for its size) until Release. Not safe for
// concurrent use: the connection's owner calls it.
type Writer struct {
	pools    *Pools
	c        *compressor // nil until the first message and after Release
	released bool
}

// NewWriter returns a Writer whose compressor comes from, and returns to, p.
// It allocates only the small Writer itself. Safe for concurrent use.
func (p *Pools) NewWriter() *Writer {
	return &Writer{pools: p}
}

// Compress appends the raw DEFLATE encoding of src as the next message of
// the connection, with the trailing 0x00 0x00 0xff 0xff of its sync flush
// removed, to dst and returns the extended slice. It does not retain dst or
// src. It panics after Release.
func (w *Writer) Compress(dst, src []byte) []byte {
	if w.c == nil {
		if w.released {
			panic("deflate: Writer.Compress after Release")
		}
		w.c = w.pools.getCompressor()
		w.c.fw.Reset(&w.c.out)
	}
	return w.c.compress(dst, src)
}

// Release returns the compressor to the pool; the context is lost, so the
// Writer must not be used again. Call it when the connection closes.
// Idempotent.
func (w *Writer) Release() {
	if w.c != nil {
		w.pools.compressors.Put(w.c)
		w.c = nil
	}
	w.released = true
}

// Reader is a per-connection inflater that keeps the peer's context across
// messages (client context takeover): it must see every compressed message
// of its connection, in order.
//
// A Reader takes no flate state until its first Decompress, then holds one
// inflater (see the package doc for its size) until Release or an error.
// Not safe for concurrent use: the connection's owner calls it.
type Reader struct {
	pools  *Pools
	in     *inflater // nil until the first message, after Release or an error
	broken bool      // an error or Release lost the context
	ended  bool      // the peer ended its DEFLATE stream (a BFINAL block)
}

// errBoundary is returned by Reader.read when the inflater stopped at the
// block boundary after a message; it never leaves the package.
var errBoundary = errors.New("deflate: message boundary")

// NewReader returns a Reader whose inflater comes from, and returns to, p.
// It allocates only the small Reader itself. Safe for concurrent use.
func (p *Pools) NewReader() *Reader {
	return &Reader{pools: p}
}

// Decompress appends the next inflated message of the connection to dst
// and returns the extended slice. src is one whole compressed message (the
// concatenated payloads of its frames); an empty src is the empty message.
// Limits and errors are those of Pools.Decompress, except that after any
// error the context is lost: the inflater goes back to the pool and every
// later call returns ErrCorrupt (the connection must be failed anyway).
// A message that ends the peer's DEFLATE stream with a BFINAL block (RFC
// 7692 §7.2.3.3) restarts the context for the next one. It does not retain
// dst or src.
func (r *Reader) Decompress(dst, src []byte, limit int64) ([]byte, error) {
	if r.broken {
		return dst, ErrCorrupt
	}
	if len(src) == 0 {
		return dst, nil
	}
	if r.in == nil {
		r.in = r.pools.getInflater()
		r.restart()
	}
	r.in.src.reset(src, syncTail)
	dst, err := readMessage(dst, limit, len(src), r)
	r.in.src.reset(nil, nil)
	if err != nil {
		r.Release()
		return dst, err
	}
	if r.ended {
		r.restart()
	}
	return dst, nil
}

// Release returns the inflater to the pool; the context is lost, so the
// Reader must not be used again (Decompress then returns ErrCorrupt). Call
// it when the connection closes. Idempotent.
func (r *Reader) Release() {
	if r.in != nil {
		r.pools.inflaters.Put(r.in)
		r.in = nil
	}
	r.broken = true
}

// restart starts a new DEFLATE stream with an empty window.
func (r *Reader) restart() {
	r.in.src.reset(nil, nil)
	r.in.src.stopAtBoundary = true
	_ = r.in.rs.Reset(&r.in.src, nil) // never fails without a checkpoint
	r.ended = false
}

// readChunk inflates the next part of the message. The message ends at the
// empty stored block of the sync tail: once the source is exhausted by that
// block and the inflater's output is drained, or when the inflater asks for
// the next block header (the boundary panic).
func (r *Reader) readChunk(p []byte) (int, bool, error) {
	n, err := r.read(p)
	switch {
	case err == errBoundary:
		return 0, true, nil
	case err == io.EOF:
		r.ended = true
		return n, true, nil
	case err != nil:
		return n, true, ErrCorrupt
	case n < len(p) && r.in.src.storedEnd && r.in.src.exhausted():
		return n, true, nil
	}
	return n, false, nil
}

// read calls the inflater, turning the source's boundary panic into
// errBoundary. klauspost's Read returns only with output or with an error
// that it keeps forever; a message whose sync tail adds no output (the
// empty message, or one whose output was already flushed) would otherwise
// cost the context. Read copies nothing before it panics: it asks for input
// only when it has no output left.
func (r *Reader) read(p []byte) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(boundaryPanic); !ok {
				panic(v)
			}
			n, err = 0, errBoundary
		}
	}()
	return r.in.fr.Read(p)
}
