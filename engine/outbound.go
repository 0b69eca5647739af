package engine

import (
	"errors"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/rooms"
	"github.com/valyala/bytebufferpool"
)

// ErrBackpressure: the engine's own queue for the connection is already MaxBackpressure deep, so the
// message was not queued (policy "drop"), or the connection is being closed with 1008 (policy "close").
// The policy also acts when the queue is written, against gnet's backlog: a message can be accepted by
// Send and still be dropped for a slow connection then (the drop event fires). It is also CloseInfo.Err
// of a connection closed by the SlowClose policy.
var ErrBackpressure = errors.New("engine: connection over its outbound limit (slow consumer)")

// Queue flags of a connection (Conn.qflags, guarded by loop.mu).
const (
	qDirty   uint8 = 1 << iota // on the loop's dirty list
	qClosed                    // a close frame (or final response) is queued, or the connection is gone
	qDropped                   // messages were dropped since the last flush: fire the drop event
	qSlow                      // over the limit with policy close: close with 1008 on the loop
)

// enqueue appends one owned frame buffer of App.bufs (wire bytes buf.B[off:]) to c's outbound queue
// and makes sure the loop writes it. It takes ownership of buf in every case. Safe from any goroutine.
func (c *Conn) enqueue(buf *bytebufferpool.ByteBuffer, off int, kind itemKind) error {
	return c.enqueueFrom(buf, off, kind, false)
}

// enqueueFrom is enqueue for a buffer of App.ctl (ctl true) or App.bufs, which it goes back to.
func (c *Conn) enqueueFrom(buf *bytebufferpool.ByteBuffer, off int, kind itemKind, ctl bool) error {
	l := c.loop
	n := len(buf.B) - off
	l.mu.Lock()
	err := c.admit(n, kind)
	if err != nil {
		l.mu.Unlock()
		l.app.putBuf(buf, ctl)
		l.wake()
		return err
	}
	it := l.newItem()
	it.buf, it.off, it.kind, it.ctl = buf, off, kind, ctl
	c.push(it, n)
	if kind == itemClose || kind == itemLast {
		c.qflags |= qClosed
	}
	l.mu.Unlock()
	l.wake()
	return nil
}

// putBuf returns an outbound buffer to the pool it came from (App.ctl when ctl).
func (a *App) putBuf(b *bytebufferpool.ByteBuffer, ctl bool) {
	if ctl {
		a.ctl.Put(b)
		return
	}
	a.bufs.Put(b)
}

// admit decides whether a data frame may be queued. What gnet has not written yet is judged on the
// loop, with fresh numbers, when the queue is written (writeQueue); here only the engine's own queue
// is bounded, so that a sender faster than the loop cannot grow it past MaxBackpressure (as in
// uWebSockets, the backlog decides, so one message larger than the limit still goes to a connection
// that has caught up). Close frames and HTTP responses always pass: an answer counts in the queue like
// a frame, and the reader holds the connection instead (holdHTTP). Caller holds loop.mu.
func (c *Conn) admit(n int, kind itemKind) error {
	if c.qflags&qClosed != 0 {
		return ErrClosed
	}
	if kind != itemData || c.route == nil {
		return nil // close frames, HTTP responses and recoveries always pass
	}
	limit := c.route.maxBackpressure
	if limit <= 0 || c.queued() < limit {
		return nil
	}
	if c.route.slowClose {
		c.qflags |= qSlow | qClosed
	} else {
		c.qflags |= qDropped
		c.loop.stats.drops.Add(1)
	}
	c.markDirty()
	return ErrBackpressure
}

// push links it at the head of c's queue (newest first; flush reverses it) and marks c dirty.
// Caller holds loop.mu.
func (c *Conn) push(it *outItem, n int) {
	e := c.markDirty()
	it.next = e.head
	e.head = it
	e.bytes += int64(n)
}

// markDirty puts c on its loop's dirty list and returns its entry. Caller holds loop.mu.
func (c *Conn) markDirty() *dirtyEntry {
	l := c.loop
	if c.qflags&qDirty == 0 {
		c.qflags |= qDirty
		c.qidx = int32(len(l.dirty))
		l.dirty = append(l.dirty, dirtyEntry{c: c})
	}
	return &l.dirty[c.qidx]
}

// queued is the number of bytes queued for c and not yet written. Caller holds loop.mu.
func (c *Conn) queued() int64 {
	if c.qflags&qDirty == 0 {
		return 0
	}
	return c.loop.dirty[c.qidx].bytes
}

// takeQueue detaches c's queued frames (c stays on the dirty list). Caller holds loop.mu.
func (c *Conn) takeQueue() *outItem {
	if c.qflags&qDirty == 0 {
		return nil
	}
	e := &c.loop.dirty[c.qidx]
	head := e.head
	e.head, e.bytes = nil, 0
	return head
}

// sendFrame encodes payload as one complete server frame and queues it. Safe from any goroutine.
func (c *Conn) sendFrame(op frame.Opcode, payload []byte, kind itemKind) error {
	if c.qflagsClosed() {
		return ErrClosed
	}
	if (kind == itemData || kind == itemKeep) && c.compressible(op, len(payload)) {
		return c.sendCompressed(op, payload, kind)
	}
	buf, off, ctl := c.loop.app.frameBuf(op, payload)
	return c.enqueueFrom(buf, off, kind, ctl)
}

// frameBuf builds one complete server frame of op around payload in a pooled buffer and returns it with
// the offset of its wire bytes. A control frame (at most 139 bytes) takes a buffer of App.ctl (ctl
// true): App.bufs hands out buffers as large as the data frames it usually sees (often tens of KiB),
// and a heartbeat that pings many connections in one tick must not hold one of those each.
// Safe from any goroutine.
func (a *App) frameBuf(op frame.Opcode, payload []byte) (buf *bytebufferpool.ByteBuffer, off int, ctl bool) {
	pool, ctl := &a.bufs, op.IsControl()
	if ctl {
		pool = &a.ctl
	}
	buf = pool.Get()
	buf.B = append(buf.B, payload...)
	wire := frame.Finish(buf.B, op, true, 0)
	return buf, len(buf.B) - len(wire), ctl
}

// closeBuf is frameBuf for a close frame with code and reason (CloseNoStatus: an empty one).
func (a *App) closeBuf(code frame.CloseCode, reason string) (*bytebufferpool.ByteBuffer, int, bool) {
	var p [frame.MaxControlPayload]byte
	return a.frameBuf(frame.OpClose, frame.AppendClose(p[:0], code, reason))
}

// enqueueClose queues our close frame with code and reason. Safe from any goroutine.
func (c *Conn) enqueueClose(code frame.CloseCode, reason string) error {
	buf, off, ctl := c.loop.app.closeBuf(code, reason)
	return c.enqueueFrom(buf, off, itemClose, ctl)
}

// sendString is sendFrame for a string payload (no conversion copy).
func (c *Conn) sendString(op frame.Opcode, payload string) error {
	return c.sendFrame(op, stringBytes(payload), itemData) // the bytes are copied before it returns
}

// sendValue queues v encoded with the connection's codec (JSON text or MessagePack binary).
// Safe from any goroutine.
func (c *Conn) sendValue(v any) error {
	if c.qflagsClosed() {
		return ErrClosed
	}
	codec := codecs[c.codecIdx()]
	buf := c.loop.app.bufs.Get()
	b, err := codec.Append(buf.B, v)
	if err != nil {
		c.loop.app.bufs.Put(buf)
		return err
	}
	buf.B = b
	op := codecOpcode(codec)
	if c.compressible(op, len(b)-frame.MaxServerHeaderSize) {
		err := c.sendCompressed(op, b[frame.MaxServerHeaderSize:], itemData)
		c.loop.app.bufs.Put(buf)
		return err
	}
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
	if kind == itemData {
		kind = itemRaw
	}
	return c.enqueue(buf, frame.MaxServerHeaderSize, kind)
}

// discardQueue drops everything queued and refuses further frames. On-loop only.
func (c *Conn) discardQueue() {
	l := c.loop
	l.mu.Lock()
	c.qflags |= qClosed
	head := c.takeQueue()
	l.mu.Unlock()
	l.releaseItems(head)
}

// closeSlow replaces what is queued by a close frame with 1008 "slow consumer" and fails the connection:
// the socket is closed once that frame is written (at most CloseTimeout). On-loop only.
func (c *Conn) closeSlow() {
	l := c.loop
	buf, off, ctl := l.app.closeBuf(frame.ClosePolicyViolation, "slow consumer")
	l.mu.Lock()
	head := c.takeQueue()
	it := l.newItem()
	it.buf, it.off, it.kind, it.ctl = buf, off, itemClose, ctl
	c.push(it, len(buf.B)-off)
	c.qflags |= qClosed
	l.mu.Unlock()
	l.releaseItems(head)
	c.x().failure = ErrBackpressure
	// The connection has failed (RFC 6455 7.1.7): once the 1008 is written the socket closes without
	// waiting for the peer's close frame, and what it still sends is skipped (as in fail).
	c.skipRest()
	c.startFailing()
	l.stats.slowCloses.Add(1)
}

// enqueueFrames queues a publication to each member of one loop except skip, in one critical
// section: each member gets the frame of its variant (Conn.frameFor). kind itemKeep (a recovery)
// bypasses the slow-consumer bound. It returns how many it queued. Safe from any goroutine.
func (l *loop) enqueueFrames(members []member, skip *Conn, p *rooms.Pub, kind itemKind) int {
	n := 0
	var last *rooms.Frame
	run := 0
	l.mu.Lock()
	for _, m := range members {
		c := m.c
		f := c.frameFor(p)
		if c == skip || f == nil || c.admit(len(f.Wire()), kind) != nil {
			continue
		}
		it := l.newItem()
		it.shared, it.kind = f, kind
		c.push(it, len(f.Wire()))
		if f != last {
			if run > 0 {
				last.Retain(run)
			}
			last, run = f, 0
		}
		run++
		n++
	}
	if run > 0 {
		last.Retain(run)
	}
	l.mu.Unlock()
	l.wake()
	return n
}
