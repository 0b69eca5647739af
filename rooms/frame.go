package rooms

import (
	"sync"
	"sync/atomic"

	"github.com/openspeed/wsd/frame"
	"github.com/valyala/bytebufferpool"
)

// Frame is one encoded WebSocket frame shared by many outbound queues. It starts with one reference
// (its creator's); every queue that holds it adds one; the buffer returns to its pool when the last
// reference is released. Safe from any goroutine.
type Frame struct {
	refs atomic.Int32
	buf  *bytebufferpool.ByteBuffer
	wire []byte
	op   frame.Opcode
	rsv  uint8
	fp   *FramePool
}

// Wire is the frame's bytes on the wire. Valid while the caller holds a reference.
func (f *Frame) Wire() []byte { return f.wire }

// Payload is the frame's payload (the wire bytes after the header).
func (f *Frame) Payload() []byte { return f.wire[len(f.wire)-f.payloadLen():] }

// Opcode is the frame's opcode.
func (f *Frame) Opcode() frame.Opcode { return f.op }

// Rsv is the frame's RSV bits (frame.Rsv1 for a compressed message).
func (f *Frame) Rsv() uint8 { return f.rsv }

func (f *Frame) payloadLen() int { return len(f.buf.B) - frame.MaxServerHeaderSize }

// Retain adds n references.
func (f *Frame) Retain(n int) { f.refs.Add(int32(n)) }

// Release drops n references; the last one recycles the frame.
func (f *Frame) Release(n int) {
	if f.refs.Add(-int32(n)) != 0 {
		return
	}
	fp := f.fp
	fp.bufs.Put(f.buf)
	f.buf, f.wire, f.fp = nil, nil, nil
	fp.frames.Put(f)
}

// FramePool recycles Frames and their buffers. The zero value is ready; one per server.
type FramePool struct {
	bufs   *frame.Pool
	frames sync.Pool
}

// NewFramePool returns a pool whose frames take their buffers from bufs (buffers with header room).
func NewFramePool(bufs *frame.Pool) *FramePool { return &FramePool{bufs: bufs} }

// Retained returns f, or a copy in a buffer of its own size when f's pooled buffer is much larger than
// the frame (a pool calibrated on larger messages hands out larger buffers): what a history keeps for
// minutes then costs what it holds. The caller gets one reference either way.
func (p *FramePool) Retained(f *Frame) *Frame {
	if n := len(f.buf.B); cap(f.buf.B) <= n+n/2+256 {
		f.Retain(1)
		return f
	}
	buf := &bytebufferpool.ByteBuffer{B: make([]byte, len(f.buf.B))}
	copy(buf.B, f.buf.B)
	c := p.frameOf(buf)
	c.wire = buf.B[len(buf.B)-len(f.wire):]
	c.op, c.rsv = f.op, f.rsv
	return c
}

// Size is what the frame holds in memory: its buffer's capacity.
func (f *Frame) Size() int { return cap(f.buf.B) }

// frameOf returns a pooled Frame over buf holding one reference.
func (p *FramePool) frameOf(buf *bytebufferpool.ByteBuffer) *Frame {
	f, _ := p.frames.Get().(*Frame)
	if f == nil {
		f = new(Frame)
	}
	f.buf, f.fp = buf, p
	f.refs.Store(1)
	return f
}

// Buffer returns an empty buffer with header room reserved: append the payload, then call Finish.
func (p *FramePool) Buffer() *bytebufferpool.ByteBuffer { return p.bufs.Get() }

// FromWire copies a complete unmasked final frame (as another node sent it) into a pooled Frame holding
// one reference. It returns nil when wire is not such a frame.
func (p *FramePool) FromWire(wire []byte) *Frame {
	h, hs, _, err := frame.ParseHeader(wire)
	if err != nil || hs == 0 || h.Masked || !h.Fin || int64(len(wire)-hs) != h.Length || h.Op.IsControl() {
		return nil
	}
	buf := p.Buffer()
	buf.B = append(buf.B, wire[hs:]...)
	return p.FinishRsv(buf, h.Op, h.Rsv)
}

// Finish stamps the header of a final frame with opcode op onto buf (from Buffer) and returns it as a
// Frame holding one reference.
func (p *FramePool) Finish(buf *bytebufferpool.ByteBuffer, op frame.Opcode) *Frame {
	return p.FinishRsv(buf, op, 0)
}

// FinishRsv is Finish with RSV bits (frame.Rsv1 for a compressed message).
func (p *FramePool) FinishRsv(buf *bytebufferpool.ByteBuffer, op frame.Opcode, rsv uint8) *Frame {
	f := p.frameOf(buf)
	f.op, f.rsv = op, rsv
	f.wire = frame.Finish(buf.B, op, true, rsv)
	return f
}
