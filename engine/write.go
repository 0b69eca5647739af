package engine

// writeQueue hands a detached queue to gnet and releases it, applying the slow-consumer policy with
// gnet's current backlog: once it has reached MaxBackpressure, data frames are dropped (SlowDrop) or
// the connection is closed with 1008 (SlowClose). Small frames are gathered into the loop's scratch
// buffer so a batch costs one write syscall (x/sys/unix.Writev allocates its iovec array on every call;
// copying a few small frames is cheaper); large frames are written from their own buffers.
// On-loop only.
func (c *Conn) writeQueue(head *outItem) {
	l := c.loop
	if c.phase == phaseClosed {
		l.releaseItems(head)
		return
	}
	w := batchWriter{c: c, buf: l.wbuf[:0], backlog: c.gc.OutboundBuffered()}
	if c.route != nil {
		w.limit = c.route.maxBackpressure
	}
	for it := head; it != nil; it = it.next {
		w.add(it)
	}
	w.flushBuf()
	l.stats.messagesOut.Add(uint64(w.frames))
	l.stats.bytesOut.Add(uint64(w.bytes))
	if cap(w.buf) > 2*scratchMax {
		w.buf = nil // a huge batch: do not keep its buffer
	}
	l.wbuf = w.buf[:0]
	l.releaseItems(head)
	if c.phase == phaseClosed {
		return
	}
	c.refreshBacklog()
	c.afterWrite(w)
}

// afterWrite moves the state machine after a batch: close handshake steps, slow-consumer actions.
func (c *Conn) afterWrite(w batchWriter) {
	if w.kinds&(1<<itemClose) != 0 {
		c.closeFrameSent()
	}
	if w.kinds&(1<<itemLast) != 0 {
		c.setPhase(phaseDraining)
	}
	if c.phase == phaseDraining {
		c.closeWhenDrained()
	}
	if w.slow && c.phase == phaseOpen {
		c.closeSlow()
		return
	}
	if w.dropped > 0 {
		c.loop.stats.drops.Add(uint64(w.dropped))
		c.congested()
		c.fireDrop()
	}
}

// Batching thresholds: frames of at least directWrite bytes are written from their own buffer; the
// scratch buffer is written out when it would pass scratchMax.
const (
	directWrite = 16 << 10
	scratchMax  = 128 << 10
)

// batchWriter writes one connection's queue.
type batchWriter struct {
	c       *Conn
	buf     []byte
	limit   int64 // MaxBackpressure; <= 0: none
	backlog int   // gnet's backlog after the last write
	kinds   itemKind
	dropped int
	slow    bool
	frames  int // frames and bytes handed to gnet
	bytes   int
}

func (w *batchWriter) add(it *outItem) {
	if it.kind == itemData && w.limit > 0 && int64(w.backlog+len(w.buf)) >= w.limit {
		if w.c.route.slowClose {
			w.slow = true
		} else {
			w.dropped++
		}
		return
	}
	w.kinds |= 1 << it.kind
	b := it.bytes()
	if (it.kind == itemData || it.kind == itemKeep) && w.c.mode&modeServerTakeover != 0 {
		b = w.c.takeoverFrame(b)
		w.flushBuf() // takeoverFrame's result lives in a scratch buffer: write it now
		w.write(b)
		w.count(it, b)
		return
	}
	w.count(it, b)
	if len(b) >= directWrite || len(w.buf)+len(b) > scratchMax {
		w.flushBuf()
	}
	if len(b) >= directWrite || (len(w.buf) == 0 && it.next == nil) {
		w.write(b) // big, or a single frame: no copy
		return
	}
	w.buf = append(w.buf, b...)
}

// count adds a WebSocket frame (not an HTTP response) to the written totals.
func (w *batchWriter) count(it *outItem, b []byte) {
	if it.kind == itemData || it.kind == itemClose || it.kind == itemKeep {
		w.frames++
		w.bytes += len(b)
	}
}

func (w *batchWriter) flushBuf() {
	if len(w.buf) > 0 {
		w.write(w.buf)
		w.buf = w.buf[:0]
	}
}

// write hands bytes to gnet (written at once when possible, else buffered by gnet).
func (w *batchWriter) write(b []byte) {
	c := w.c
	if len(b) == 0 || c.phase == phaseClosed {
		return
	}
	_, _ = c.gc.Write(b)
	if c.phase != phaseClosed {
		w.backlog = c.gc.OutboundBuffered()
	}
}
