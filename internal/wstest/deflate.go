package wstest

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"time"

	"github.com/openspeed/wsd/frame"
)

// Deflate is the permessage-deflate (RFC 7692) side of a raw test client. It is built on the standard
// library's compress/flate, an implementation independent of the server's, so a round trip checks
// the server's encoder and decoder against another one. Not safe for concurrent use.
type Deflate struct {
	clientTakeover bool // keep our compression context across messages
	serverTakeover bool // the server keeps its context: inflate with the previous output as dictionary
	w              *flate.Writer
	out            bytes.Buffer
	history        []byte // the last 32 KiB the server sent (server context takeover)
}

// windowSize is the LZ77 window of permessage-deflate without a smaller max_window_bits.
const windowSize = 32 << 10

// syncTail ends a sync flush; the sender removes it (RFC 7692 §7.2.1).
var syncTail = []byte{0x00, 0x00, 0xff, 0xff}

// finalTail is syncTail plus an empty final stored block, so that a one-shot inflater sees io.EOF.
var finalTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// NewDeflate returns a codec for a connection on which the client keeps its compression context
// (clientTakeover: client_no_context_takeover was not agreed) and the server keeps its own
// (serverTakeover: server_no_context_takeover was not agreed). It compresses at level
// flate.BestSpeed.
func NewDeflate(clientTakeover, serverTakeover bool) *Deflate {
	d := &Deflate{clientTakeover: clientTakeover, serverTakeover: serverTakeover}
	d.w, _ = flate.NewWriter(&d.out, flate.BestSpeed) // err is nil for a valid level
	return d
}

// Compress returns msg as the payload of a compressed message: raw DEFLATE ending with a sync flush
// whose 0x00 0x00 0xff 0xff is removed. The result is a new slice.
func (d *Deflate) Compress(msg []byte) []byte {
	d.out.Reset()
	if !d.clientTakeover {
		d.w.Reset(&d.out)
	}
	_, _ = d.w.Write(msg) // bytes.Buffer never fails
	_ = d.w.Flush()
	b := d.out.Bytes()
	if !bytes.HasSuffix(b, syncTail) {
		panic("wstest: compress/flate sync flush without its tail")
	}
	return bytes.Clone(b[:len(b)-len(syncTail)])
}

// Inflate decodes the payload of one compressed server message (the concatenation of its frames'
// payloads). With server context takeover it must see every compressed message of the connection,
// in order.
func (d *Deflate) Inflate(payload []byte) ([]byte, error) {
	src := io.MultiReader(bytes.NewReader(payload), bytes.NewReader(finalTail))
	var r io.ReadCloser
	if d.serverTakeover {
		r = flate.NewReaderDict(src, d.history)
	} else {
		r = flate.NewReader(src)
	}
	msg, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("inflate %d bytes: %w", len(payload), err)
	}
	if d.serverTakeover {
		d.history = append(d.history, msg...)
		if len(d.history) > windowSize {
			d.history = append(d.history[:0], d.history[len(d.history)-windowSize:]...)
		}
	}
	return msg, nil
}

// Frames encodes msg as one compressed message of op (RSV1 on its first frame only) in masked frames
// of at most size payload bytes each (size <= 0: one frame).
func (d *Deflate) Frames(op frame.Opcode, msg []byte, size int) []byte {
	return CompressedFrames(op, d.Compress(msg), size)
}

// CompressedFrames frames an already compressed payload as one message of op: masked frames of at most
// size payload bytes (size <= 0: one frame), RSV1 on the first.
func CompressedFrames(op frame.Opcode, payload []byte, size int) []byte {
	if size <= 0 {
		size = max(len(payload), 1)
	}
	var out []byte
	for first := true; first || len(payload) > 0; first = false {
		n := min(size, len(payload))
		fop, rsv := frame.OpContinuation, uint8(0)
		if first {
			fop, rsv = op, frame.Rsv1
		}
		out = append(out, FrameRsv(n == len(payload), rsv, fop, payload[:n])...)
		payload = payload[n:]
	}
	return out
}

// ReadData reads frames until a whole data message, skipping pongs and pings. It returns the opcode,
// the RSV bits of the first frame and the concatenated payloads, and fails the test on a close frame,
// on RSV bits on a continuation frame, or on a read error.
func (r *Raw) ReadData() (op frame.Opcode, rsv uint8, payload []byte) {
	r.t.Helper()
	first := true
	for {
		h, p, err := r.ReadFrame()
		if err != nil {
			r.t.Fatalf("read frame: %v", err)
		}
		switch {
		case h.Op == frame.OpClose:
			code, reason, _ := frame.ParseClose(p)
			r.t.Fatalf("got close %d %q while waiting for a message", code, reason)
		case h.Op.IsControl():
			if h.Rsv != 0 {
				r.t.Fatalf("server %v frame with RSV bits %#x", h.Op, h.Rsv)
			}
			continue
		case first:
			op, rsv, first = h.Op, h.Rsv, false
		case h.Rsv != 0:
			r.t.Fatalf("server continuation frame with RSV bits %#x", h.Rsv)
		}
		payload = append(payload, p...)
		if h.Fin {
			return op, rsv, payload
		}
	}
}

// ExpectDeflated reads the next data message and checks it against op and want: compressed (RSV1)
// when compressed is set, in which case d inflates it, else plain with no RSV bits.
func (r *Raw) ExpectDeflated(d *Deflate, op frame.Opcode, want []byte, compressed bool) {
	r.t.Helper()
	gotOp, rsv, p := r.ReadData()
	if gotOp != op {
		r.t.Fatalf("got a %v message, want %v", gotOp, op)
	}
	switch {
	case compressed && rsv != frame.Rsv1:
		r.t.Fatalf("%d-byte message: RSV bits %#x, want RSV1 (compressed)", len(want), rsv)
	case !compressed && rsv != 0:
		r.t.Fatalf("%d-byte message: RSV bits %#x, want none (below the threshold or not negotiated)", len(want), rsv)
	case compressed:
		var err error
		if p, err = d.Inflate(p); err != nil {
			r.t.Fatalf("%d-byte message: %v", len(want), err)
		}
	}
	if !bytes.Equal(p, want) {
		r.t.Fatalf("%v message of %d bytes differs from the %d bytes expected", op, len(p), len(want))
	}
}

// EchoLoop sends msg as a plain text message and checks its echo (the very next frame), again and
// again until stop is closed, at least once. It returns the first problem, or nil. Unlike the other
// methods it never fails the test itself, so it may run on its own goroutine while the test uses
// other connections.
func (r *Raw) EchoLoop(msg []byte, stop <-chan struct{}) error {
	req := Frame(true, frame.OpText, msg)
	for i := 0; ; i++ {
		select {
		case <-stop:
			if i > 0 {
				return nil
			}
		default:
		}
		_ = r.Conn.SetWriteDeadline(time.Now().Add(r.Timeout))
		if _, err := r.Conn.Write(req); err != nil {
			return err
		}
		h, p, err := r.ReadFrame()
		if err != nil || h.Op != frame.OpText || h.Rsv != 0 || !bytes.Equal(p, msg) {
			return fmt.Errorf("echo %d: %v frame rsv %#x %q, err %v", i, h.Op, h.Rsv, p, err)
		}
	}
}

// bitWriter writes a DEFLATE bit stream: fields LSB first, Huffman codes MSB first (RFC 1951 §3.1.1).
type bitWriter struct {
	b   []byte
	acc uint64
	n   uint // bits in acc (< 8 between calls)
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.n
	w.n += n
	for w.n >= 8 {
		w.b = append(w.b, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

func (w *bitWriter) code(c uint64, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.bits(c>>uint(i)&1, 1)
	}
}

func (w *bitWriter) zeros(n int64) {
	for ; n > 0 && w.n != 0; n-- {
		w.bits(0, 1)
	}
	w.b = append(w.b, make([]byte, n/8)...)
	for n %= 8; n > 0; n-- {
		w.bits(0, 1)
	}
}

// finish ends the stream as a sync flush without its last four bytes: the header bits of an empty
// stored block (the receiver's 0x00 0x00 0xff 0xff completes it), padded to a byte.
func (w *bitWriter) finish() []byte {
	w.bits(0, 3)
	if w.n > 0 {
		w.b = append(w.b, byte(w.acc))
		w.acc, w.n = 0, 0
	}
	return w.b
}

// DeflateBomb returns the payload of one compressed message (RFC 7692: DEFLATE data ending with a sync
// flush whose last four bytes are removed) that inflates to at least n zero bytes (n >= 1), at
// DEFLATE's maximum ratio of about 1032:1. It is written directly instead of compressing n bytes: one
// dynamic-Huffman block in which the length-258 code and the only distance code (distance 1) have one
// bit each, so every 258 zeros after the first cost two zero bits.
func DeflateBomb(n int64) []byte {
	pairs := (n - 1 + 257) / 258
	w := bitWriter{b: make([]byte, 0, pairs/4+64)}
	w.bits(0, 1)       // BFINAL: not the last block
	w.bits(2, 2)       // BTYPE: dynamic Huffman
	w.bits(286-257, 5) // HLIT: literal/length codes 0..285
	w.bits(0, 5)       // HDIST: one distance code
	w.bits(18-4, 4)    // HCLEN: code length codes 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1
	for _, l := range []uint64{0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2} {
		w.bits(l, 3)
	}
	// Code lengths, with the code length codes 18 (run of 11..138 zeros) -> 0, 1 -> 10, 2 -> 11.
	w.code(0b11, 2) // literal 0: 2 bits
	zeroRun := func(k uint64) { w.code(0, 1); w.bits(k-11, 7) }
	zeroRun(138)    // literals 1..138 unused
	zeroRun(117)    // literals 139..255 unused
	w.code(0b11, 2) // 256, end of block: 2 bits
	zeroRun(28)     // 257..284 unused
	w.code(0b10, 2) // 285, length 258: 1 bit
	w.code(0b10, 2) // distance code 0: 1 bit
	// The data, with the codes 285 -> 0, literal 0 -> 10, end of block -> 11, distance 0 -> 0.
	w.code(0b10, 2)    // literal 0
	w.zeros(2 * pairs) // (length 258, distance 1) pairs
	w.code(0b11, 2)    // end of block
	return w.finish()
}
