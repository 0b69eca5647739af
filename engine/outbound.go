package engine

import (
	"sync/atomic"

	"github.com/goccy/go-json"

	"github.com/openspeed/wsd/frame"
	"github.com/valyala/bytebufferpool"
)

// Queue flags of a connection (Conn.qflags, guarded by loop.mu).
const (
	qDirty  uint8 = 1 << iota // on the loop's dirty list
	qClosed                   // a close frame (or final response) is queued, or the connection is gone: no more frames
)

// sharedFrame is one encoded frame queued to many connections (a broadcast). It is encoded once; each
// queue holds a reference and the buffer returns to the pool when the last loop has written it.
type sharedFrame struct {
	refs atomic.Int32
	buf  *bytebufferpool.ByteBuffer
	wire []byte
	app  *App
}

// newShared wraps a finished frame buffer; refs starts at 1 (the creator's reference).
func (a *App) newShared(buf *bytebufferpool.ByteBuffer, wire []byte) *sharedFrame {
	f, _ := a.shared.Get().(*sharedFrame)
	if f == nil {
		f = new(sharedFrame)
	}
	f.buf, f.wire, f.app = buf, wire, a
	f.refs.Store(1)
	return f
}

func (f *sharedFrame) retain() { f.refs.Add(1) }

// release drops one reference. Safe from any goroutine.
func (f *sharedFrame) release() {
	if f.refs.Add(-1) != 0 {
		return
	}
	a := f.app
	a.bufs.Put(f.buf)
	f.buf, f.wire, f.app = nil, nil, nil
	a.shared.Put(f)
}

// enqueue appends one owned frame buffer (wire bytes buf.B[off:]) to c's outbound queue and makes sure
// the loop writes it. It takes ownership of buf in every case. Safe from any goroutine.
func (c *Conn) enqueue(buf *bytebufferpool.ByteBuffer, off int, kind itemKind) error {
	l := c.loop
	l.mu.Lock()
	if c.qflags&qClosed != 0 {
		l.mu.Unlock()
		l.app.bufs.Put(buf)
		return ErrClosed
	}
	it := l.newItem()
	it.buf, it.off, it.kind = buf, off, kind
	c.push(it, len(buf.B)-off)
	if kind != itemData {
		c.qflags |= qClosed
	}
	l.mu.Unlock()
	l.wake()
	return nil
}

// enqueueShared queues a reference to a shared frame (retained here). Safe from any goroutine.
func (c *Conn) enqueueShared(f *sharedFrame) error {
	l := c.loop
	l.mu.Lock()
	if c.qflags&qClosed != 0 {
		l.mu.Unlock()
		return ErrClosed
	}
	f.retain()
	it := l.newItem()
	it.shared = f
	c.push(it, len(f.wire))
	l.mu.Unlock()
	l.wake()
	return nil
}

// push links it at the tail of c's queue and marks c dirty. Caller holds loop.mu.
func (c *Conn) push(it *outItem, n int) {
	if c.outTail == nil {
		c.outHead = it
	} else {
		c.outTail.next = it
	}
	c.outTail = it
	c.outBytes += int32(min(n, 1<<30))
	if c.qflags&qDirty == 0 {
		c.qflags |= qDirty
		c.dirtyNext = c.loop.dirty
		c.loop.dirty = c
	}
}

// sendFrame encodes payload as one complete server frame and queues it. Safe from any goroutine.
func (c *Conn) sendFrame(op frame.Opcode, payload []byte, kind itemKind) error {
	if c.qflagsClosed() {
		return ErrClosed
	}
	buf := c.loop.app.bufs.Get()
	buf.B = append(buf.B, payload...)
	wire := frame.Finish(buf.B, op, true, 0)
	return c.enqueue(buf, len(buf.B)-len(wire), kind)
}

// sendString is sendFrame for a string payload (no conversion copy).
func (c *Conn) sendString(op frame.Opcode, payload string) error {
	if c.qflagsClosed() {
		return ErrClosed
	}
	buf := c.loop.app.bufs.Get()
	buf.B = append(buf.B, payload...)
	wire := frame.Finish(buf.B, op, true, 0)
	return c.enqueue(buf, len(buf.B)-len(wire), itemData)
}

// qflagsClosed is a racy early-out used before encoding; enqueue re-checks under the lock.
func (c *Conn) qflagsClosed() bool {
	return c.state.Load() != uint32(StateOpen)
}

// sendRaw queues bytes that are not a WebSocket frame (an HTTP response) written after the header
// room of a buffer from App.bufs. kind itemLast closes the connection once they are written.
// Safe from any goroutine.
func (c *Conn) sendRaw(buf *bytebufferpool.ByteBuffer, kind itemKind) error {
	return c.enqueue(buf, frame.MaxServerHeaderSize, kind)
}

// discardQueue drops everything queued and refuses further frames. On-loop only.
func (c *Conn) discardQueue() {
	l := c.loop
	l.mu.Lock()
	c.qflags |= qClosed
	head := c.outHead
	c.outHead, c.outTail, c.outBytes = nil, nil, 0
	l.mu.Unlock()
	l.releaseItems(head)
}

// sendJSON queues v encoded as JSON in a text frame. Safe from any goroutine.
func (c *Conn) sendJSON(v any) error {
	if c.qflagsClosed() {
		return ErrClosed
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf := c.loop.app.bufs.Get()
	buf.B = append(buf.B, b...)
	wire := frame.Finish(buf.B, frame.OpText, true, 0)
	return c.enqueue(buf, len(buf.B)-len(wire), itemData)
}
