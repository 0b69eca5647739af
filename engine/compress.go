package engine

import (
	"errors"
	"unicode/utf8"
	"unsafe"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/frame/deflate"
	"github.com/valyala/bytebufferpool"
)

// Compression configures permessage-deflate (RFC 7692). The zero value is off. Clients that ask for a
// server window below 32 KiB (server_max_window_bits < 15) are accepted and get Huffman-only compressed
// messages, which fit any window, whatever ServerContextTakeover says (docs/compression.md).
type Compression struct {
	// Enabled negotiates permessage-deflate with clients that offer it.
	Enabled bool
	// Threshold: messages shorter than this many bytes are sent uncompressed (RSV1 clear), to this
	// route's connections, broadcasts included (a broadcast is compressed once, at the smallest threshold
	// of the routes that compress, and members under their own route's threshold get it plain).
	// Default: 256 (below it compressing costs more CPU than it saves bandwidth).
	Threshold int
	// ServerContextTakeover keeps the server's compression context across messages for connections
	// whose client allows it: better ratio on similar messages, but a compressor per connection (see
	// docs/compression.md for the measured memory) and broadcasts compressed per member instead of once.
	// Default false: every message is compressed on its own, so a broadcast is compressed once.
	ServerContextTakeover bool
	// ClientContextTakeover lets the client keep its context; the server then holds an inflater per
	// connection. Default false: the answer requires client_no_context_takeover and no inflate state is
	// kept between messages.
	ClientContextTakeover bool
}

const defaultThreshold = 256

// Connection mode bits (Conn.mode), fixed at the upgrade before the connection is handed out.
const (
	modeCodec          uint8 = 1 << iota // codec index (0 JSON, 1 MessagePack)
	modeDeflate                          // permessage-deflate negotiated
	modeServerTakeover                   // compress at write time with the connection's own context
	modeClientTakeover                   // inflate with the connection's own context
	modeSmallWindow                      // server window below 32 KiB: compress Huffman-only (never takeover)
)

func (c *Conn) codecIdx() int { return int(c.mode & modeCodec) }

// deflateState is a connection's own compression context (context takeover).
type deflateState struct {
	w *deflate.Writer
	r *deflate.Reader
}

// negotiateDeflate answers the client's permessage-deflate offers for a route that enables it and sets
// the connection's mode. It returns the Sec-WebSocket-Extensions answer ("" when declined).
func (c *Conn) negotiateDeflate(ws *wsRoute, offers []string) string {
	if !ws.compress.Enabled || len(offers) == 0 {
		return ""
	}
	pol := deflate.Policy{ServerContextTakeover: ws.compress.ServerContextTakeover,
		ClientContextTakeover: ws.compress.ClientContextTakeover}
	params, answer, ok := deflate.Negotiate(offers, pol)
	if !ok {
		return ""
	}
	c.mode |= modeDeflate
	if params.SmallWindow() {
		c.mode |= modeSmallWindow // Negotiate answered server_no_context_takeover too
	}
	if !params.ServerNoContextTakeover {
		c.mode |= modeServerTakeover // the compressor is made at the first compressed write
	}
	if !params.ClientNoContextTakeover {
		c.mode |= modeClientTakeover // the inflater is made at the first compressed message
	}
	return answer
}

// contextState returns the connection's own compression context, creating what the negotiated mode
// needs on first use, so a connection that never sends or receives a compressed message holds none.
// On-loop only.
func (c *Conn) contextState() *deflateState {
	x := c.x()
	if x.deflate == nil {
		x.deflate = new(deflateState)
	}
	pools := &c.loop.app.deflate
	if c.mode&modeServerTakeover != 0 && x.deflate.w == nil {
		x.deflate.w = pools.NewWriter()
	}
	if c.mode&modeClientTakeover != 0 && x.deflate.r == nil {
		x.deflate.r = pools.NewReader()
	}
	return x.deflate
}

// releaseDeflate returns a closed connection's compression state. On-loop only.
func (c *Conn) releaseDeflate() {
	if x := c.ext; x != nil && x.deflate != nil {
		if x.deflate.w != nil {
			x.deflate.w.Release()
		}
		if x.deflate.r != nil {
			x.deflate.r.Release()
		}
		x.deflate = nil
	}
}

// compressible reports whether a message of n bytes to this connection is compressed when queued.
func (c *Conn) compressible(op frame.Opcode, n int) bool {
	return c.mode&(modeDeflate|modeServerTakeover) == modeDeflate && op.IsData() &&
		c.route != nil && n >= c.route.compress.Threshold
}

// sendCompressed queues payload compressed on its own (no context takeover), Huffman-only when the
// client asked for a server window below 32 KiB. Safe from any goroutine.
func (c *Conn) sendCompressed(op frame.Opcode, payload []byte, kind itemKind) error {
	a := c.loop.app
	buf := a.bufs.Get()
	if c.mode&modeSmallWindow != 0 {
		buf.B = a.deflate.CompressHuffman(buf.B, payload)
	} else {
		buf.B = a.deflate.Compress(buf.B, payload)
	}
	wire := frame.Finish(buf.B, op, true, frame.Rsv1)
	return c.enqueue(buf, len(buf.B)-len(wire), kind)
}

// stringBytes views s as bytes without copying (read-only).
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// errBadDeflate fails a connection that sent compressed data that does not inflate.
var errBadDeflate = &frame.ProtocolError{Code: frame.CloseInvalidPayload, Reason: "invalid compressed data"}

// inflate decompresses a whole compressed message into a pooled buffer, stopping at the route's
// MaxMessageSize (1009) so a decompression bomb costs at most that much. On-loop only.
func (c *Conn) inflate(src []byte) (*bytebufferpool.ByteBuffer, error) {
	a := c.loop.app
	out := a.msgs.Get()
	var err error
	if c.mode&modeClientTakeover != 0 {
		out.B, err = c.contextState().r.Decompress(out.B[:0], src, c.route.maxMessage)
	} else {
		out.B, err = a.deflate.Decompress(out.B[:0], src, c.route.maxMessage)
	}
	if err != nil {
		a.msgs.Put(out)
		if errors.Is(err, deflate.ErrTooLarge) {
			return nil, frame.ErrMessageTooBig
		}
		return nil, errBadDeflate
	}
	return out, nil
}

// deliverCompressed inflates a complete compressed message, checks text, and delivers it.
func (c *Conn) deliverCompressed(op frame.Opcode, src []byte) {
	out, err := c.inflate(src)
	if err != nil {
		c.fail(err)
		return
	}
	c.deliverInflated(op, out)
}

func (c *Conn) deliverInflated(op frame.Opcode, out *bytebufferpool.ByteBuffer) {
	defer c.loop.app.msgs.Put(out)
	if op == frame.OpText && !utf8.Valid(out.B) {
		c.fail(frame.ErrInvalidUTF8)
		return
	}
	c.deliver(op, out.B)
}

// takeoverFrame compresses a queued data frame with the connection's own context (server context
// takeover) at write time, in queue order. It returns b unchanged when the frame is not to be
// compressed. The result is valid until the next call. On-loop only.
func (c *Conn) takeoverFrame(b []byte) []byte {
	h, hs, _, err := frame.ParseHeader(b)
	if err != nil || hs == 0 || !h.Op.IsData() || h.Rsv != 0 || int(h.Length) < c.route.compress.Threshold {
		return b
	}
	l := c.loop
	out := frame.Begin(l.cbuf[:0])
	out = c.contextState().w.Compress(out, b[hs:])
	l.cbuf = out
	return frame.Finish(out, h.Op, true, frame.Rsv1)
}
