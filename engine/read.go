package engine

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/openspeed/wsd/frame"
	"github.com/valyala/bytebufferpool"
)

// errTooManyFragments fails a message with more frames than RouteOptions/Config.MaxFragments.
var errTooManyFragments = &frame.ProtocolError{Code: frame.ClosePolicyViolation, Reason: "too many fragments"}

// reader is a connection's state between frames or messages: a data frame whose payload is still
// arriving, and a fragmented message being reassembled. A connection holds one only while such a frame
// or message is in progress; it goes back to the App's pool after.
type reader struct {
	hdr       frame.Header // the frame whose payload is streaming in
	remaining int64        // payload bytes of hdr still to come
	maskPos   int          // mask offset for the next payload byte
	skip      bool         // drop hdr's payload (closing) instead of delivering it

	msgOp  frame.Opcode // opcode of the message being assembled; 0 when none
	zip    bool         // the message is compressed (RSV1 on its first frame)
	msgLen int64
	frags  int // continuation frames of the message so far
	msg    *bytebufferpool.ByteBuffer
	utf8   frame.UTF8
}

func (c *Conn) reader() *reader {
	if c.rd == nil {
		rd, _ := c.loop.app.readers.Get().(*reader)
		if rd == nil {
			rd = new(reader)
		}
		c.rd = rd
	}
	return c.rd
}

// releaseReader returns the reader to the pool once nothing is in progress (or unconditionally when
// force is set, on close).
func (c *Conn) releaseReader(force bool) {
	rd := c.rd
	if rd == nil || (!force && (rd.remaining > 0 || rd.msgOp != 0)) {
		return
	}
	if rd.msg != nil {
		c.loop.app.msgs.Put(rd.msg)
	}
	*rd = reader{}
	c.loop.app.readers.Put(rd)
	c.rd = nil
}

// readFrames consumes frames from b (all unconsumed inbound bytes) and returns how many bytes it used.
// Complete frames are unmasked in place and delivered without copying; a data frame whose payload has not
// fully arrived is streamed into the reader so gnet never buffers a large payload. On-loop only.
func (c *Conn) readFrames(b []byte) int {
	c.touch()
	n := 0
	for n < len(b) && c.phase >= phaseOpen && c.phase < phaseDraining {
		var m int
		before := c.phase
		if c.rd != nil && c.rd.remaining > 0 {
			m = c.readPayload(b[n:])
		} else if c.phase == phaseFailing {
			m = c.skipFrame(b[n:])
		} else {
			m = c.readFrame(b[n:])
		}
		if m == 0 && c.phase == before {
			break // incomplete; a phase change re-reads the same bytes under the new rules
		}
		n += m
	}
	if c.phase >= phaseDraining {
		return len(b) // nothing more from this peer matters
	}
	return n
}

// readFrame handles the frame at the start of b; 0 means it is incomplete (or the connection just
// failed, in which case the caller re-reads b leniently).
func (c *Conn) readFrame(b []byte) int {
	var h frame.Header
	hs, _, err := h.Parse(b)
	if err != nil {
		c.fail(err)
		return 0
	}
	if hs == 0 {
		return 0
	}
	if err := c.checkHeader(&h); err != nil {
		c.fail(err)
		return 0
	}
	if total := int64(hs) + h.Length; total <= int64(len(b)) {
		payload := b[hs:total]
		frame.Mask(h.Mask, 0, payload)
		c.onFrame(&h, payload)
		return int(total)
	}
	if h.Op.IsControl() {
		return 0 // at most 131 bytes: wait for all of it
	}
	rd := c.reader()
	rd.hdr, rd.remaining, rd.maskPos = h, h.Length, 0
	rd.skip = c.phase != phaseOpen
	if !rd.skip && h.Op != frame.OpContinuation {
		c.beginMessage(h.Op, h.Rsv != 0)
	}
	return hs
}

// checkHeader applies the server's rules to a client frame header.
func (c *Conn) checkHeader(h *frame.Header) error {
	if !h.Masked {
		return frame.ErrUnmasked
	}
	if h.Rsv != 0 && (h.Rsv != frame.Rsv1 || c.mode&modeDeflate == 0 || !h.Op.IsData() ||
		h.Op == frame.OpContinuation) {
		return frame.ErrReservedBits // RSV1 only on the first frame of a message, when negotiated
	}
	if h.Op.IsControl() {
		return nil
	}
	inMsg := c.rd != nil && c.rd.msgOp != 0
	if h.Op == frame.OpContinuation && !inMsg {
		return frame.ErrUnexpectedContinuation
	}
	if h.Op != frame.OpContinuation && inMsg {
		return frame.ErrExpectedContinuation
	}
	if mf := c.route.maxFrame; mf > 0 && h.Length > mf {
		return frame.ErrMessageTooBig
	}
	if inMsg && c.route.maxFragments > 0 {
		c.rd.frags++
		if c.rd.frags >= c.route.maxFragments {
			return errTooManyFragments
		}
	}
	limit := c.route.maxMessage
	if limit >= 0 && (h.Rsv&frame.Rsv1 != 0 || (inMsg && c.rd.zip)) {
		// The cap is on the inflated message (enforced while inflating); incompressible data grows a
		// little when compressed, so the wire size may pass the cap by deflate's framing.
		limit += limit/1024 + 64
	}
	if limit >= 0 {
		size := h.Length
		if inMsg {
			size += c.rd.msgLen
		}
		if size > limit || size < 0 {
			return frame.ErrMessageTooBig
		}
	}
	return nil
}

// readPayload consumes streamed payload bytes of the current data frame.
func (c *Conn) readPayload(b []byte) int {
	rd := c.rd
	k := min(int64(len(b)), rd.remaining)
	chunk := b[:k]
	rd.remaining -= k
	if !rd.skip {
		rd.maskPos = frame.Mask(rd.hdr.Mask, rd.maskPos, chunk)
		c.appendFragment(chunk)
	}
	if rd.remaining == 0 && c.phase == phaseOpen && !rd.skip {
		c.endFragment(rd.hdr.Fin)
	}
	if c.rd != nil && c.rd.remaining == 0 {
		c.rd.skip = false
		c.releaseReader(false)
	}
	return int(k)
}

// onFrame handles one complete, unmasked frame.
func (c *Conn) onFrame(h *frame.Header, payload []byte) {
	switch h.Op {
	case frame.OpPing:
		c.onPing(payload)
		return
	case frame.OpPong:
		if c.phase != phaseOpen || c.allowControl() {
			c.firePong(payload)
		}
		return
	case frame.OpClose:
		c.onCloseFrame(payload)
		return
	}
	if c.phase != phaseOpen {
		return // closing: data is dropped
	}
	if h.Fin && h.Op != frame.OpContinuation && h.Rsv != 0 {
		c.deliverCompressed(h.Op, payload)
		return
	}
	if h.Fin && h.Op != frame.OpContinuation {
		if h.Op == frame.OpText && !utf8.Valid(payload) {
			c.fail(frame.ErrInvalidUTF8)
			return
		}
		c.deliver(h.Op, payload)
		return
	}
	if h.Op != frame.OpContinuation {
		c.beginMessage(h.Op, h.Rsv != 0)
	}
	c.appendFragment(payload)
	if c.phase == phaseOpen {
		c.endFragment(h.Fin)
	}
}

// beginMessage starts reassembling a fragmented (or streamed) message.
func (c *Conn) beginMessage(op frame.Opcode, zip bool) {
	rd := c.reader()
	rd.msgOp, rd.msgLen, rd.frags, rd.zip = op, 0, 0, zip
	rd.utf8.Reset()
	if rd.msg == nil {
		rd.msg = c.loop.app.msgs.Get()
	}
	rd.msg.B = rd.msg.B[:0]
}

// appendFragment adds payload bytes to the message being assembled, validating text as it goes so
// that invalid UTF-8 fails the connection as soon as it is seen.
func (c *Conn) appendFragment(p []byte) {
	rd := c.rd
	rd.msgLen += int64(len(p))
	if rd.msgOp == frame.OpText && !rd.zip && !rd.utf8.Write(p) {
		c.fail(frame.ErrInvalidUTF8)
		return
	}
	rd.msg.B = append(rd.msg.B, p...)
}

// endFragment finishes a frame of the message being assembled; on FIN the message is delivered.
func (c *Conn) endFragment(fin bool) {
	if !fin {
		return
	}
	rd := c.rd
	if rd.zip {
		op := rd.msgOp
		rd.msgOp = 0
		c.deliverCompressed(op, rd.msg.B)
		c.releaseReader(false)
		return
	}
	if rd.msgOp == frame.OpText && !rd.utf8.Complete() {
		c.fail(frame.ErrInvalidUTF8)
		return
	}
	op := rd.msgOp
	rd.msgOp = 0
	c.deliver(op, rd.msg.B)
	if c.rd != nil && c.rd.msg != nil && cap(c.rd.msg.B) > 64<<10 {
		c.loop.app.msgs.Put(c.rd.msg) // let the pool's calibration decide whether to keep a big buffer
		c.rd.msg = nil
	}
	c.releaseReader(false)
}

// onPing answers a ping with a pong carrying the same payload, then tells the handler. Pings are charged
// to the control-frame limit, not to RateLimit.
func (c *Conn) onPing(payload []byte) {
	if c.phase != phaseOpen || !c.allowControl() {
		return
	}
	_ = c.sendFrame(frame.OpPong, payload, itemData)
	c.firePing(payload)
}

// skipFrame consumes one frame while the connection is failing: only a close frame matters (it ends
// the closing handshake); headers are read leniently and payloads skipped.
func (c *Conn) skipFrame(b []byte) int {
	op, hs, length, ok := lenientHeader(b)
	if !ok {
		c.setPhase(phaseDraining) // unparseable: nothing more can be understood
		c.closeWhenDrained()
		return len(b)
	}
	if hs == 0 {
		return 0
	}
	if op == frame.OpClose {
		c.peerClosedWhileFailing(b)
		c.flags |= flagPeerClosed
		c.setPhase(phaseDraining)
		c.closeWhenDrained()
		return len(b)
	}
	if total := int64(hs) + length; total <= int64(len(b)) {
		return int(total)
	}
	rd := c.reader()
	rd.hdr, rd.remaining, rd.skip = frame.Header{}, length, true
	return hs
}

// lenientHeader decodes just the opcode and sizes of a frame header. hs == 0 means incomplete; ok is
// false when the length field is impossible.
func lenientHeader(b []byte) (op frame.Opcode, hs int, length int64, ok bool) {
	if len(b) < 2 {
		return 0, 0, 0, true
	}
	op = frame.Opcode(b[0] & 0x0f)
	hs = 2
	if b[1]&0x80 != 0 {
		hs += 4
	}
	switch l := b[1] & 0x7f; l {
	case 126:
		hs += 2
		if len(b) < hs {
			return op, 0, 0, true
		}
		length = int64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		hs += 8
		if len(b) < hs {
			return op, 0, 0, true
		}
		u := binary.BigEndian.Uint64(b[2:])
		if u>>63 != 0 {
			return op, 0, 0, false
		}
		length = int64(u)
	default:
		length = int64(l)
	}
	if len(b) < hs {
		return op, 0, 0, true
	}
	return op, hs, length, true
}

// peerClosedWhileFailing records the code and reason of the peer's close frame at the start of b,
// read while the connection was failing: 1005 (no status) when the frame is incomplete or invalid.
func (c *Conn) peerClosedWhileFailing(b []byte) {
	x := c.x()
	x.peerCode, x.peerReason = frame.CloseNoStatus, ""
	var h frame.Header
	hs, _, err := h.Parse(b)
	if err != nil || hs == 0 || !h.Masked || h.Length > frame.MaxControlPayload || int64(len(b)-hs) < h.Length {
		return
	}
	payload := b[hs : hs+int(h.Length)]
	frame.Mask(h.Mask, 0, payload)
	if code, reason, err := frame.ParseClose(payload); err == nil {
		x.peerCode, x.peerReason = code, string(reason)
	}
}
