package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openspeed/wsd/rooms"
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
)

// loop is the engine's state for one gnet event loop.
//
// Lock order: loop.mu is a leaf lock. It guards the dirty list (every connection's outbound queue
// lives in its entry there while it has frames queued; Conn.qidx and qflags), the item free list and
// the loop's counters of drops. Nothing that can block, and no other lock, is taken while it is held.
type loop struct {
	app *App
	el  gnet.EventLoop
	idx int // position in App.loops; the loop index rooms partition members by

	mu    sync.Mutex
	dirty []dirtyEntry // connections with queued frames (guarded by mu)
	spare []dirtyEntry // the previous dirty list, reused (on-loop only)
	free  *outItem     // recycled queue items (guarded by mu)
	stats loopStats

	// active is true while the loop runs one of our callbacks: frames queued meanwhile are flushed when
	// the outermost callback returns, so nobody needs to wake the loop. depth counts nesting (on-loop only).
	active    atomic.Bool
	depth     int
	scheduled atomic.Bool // a flush task is queued on the loop
	// flushing is true while flush runs (on-loop only). gnet runs our close callback synchronously when
	// a write fails, i.e. inside the flush; that callback's exit must not start a second flush, which
	// would write what the close handler queued before the rest of the batch in hand.
	flushing bool

	in    msg     // the received message being handed to a handler (on-loop only)
	wheel wheel   // timers (on-loop only, but wheel.next is read by the ticker)
	wbuf  []byte  // scratch for gathering small frames into one write
	cbuf  []byte  // scratch for context-takeover compression
	tmp   []*Conn // scratch for wheel firing

	// Shared frames released during a flush are counted here and released in one atomic operation:
	// a broadcast puts the same frame in consecutive queues.
	relFrame *rooms.Frame
	relN     int

	// readAt is when the read being handled came in, ns since the App started (on-loop; Conn.touch).
	readAt int64

	flushTask gnet.RunnableFunc
	tickTask  gnet.RunnableFunc
	queuedAt  atomic.Int64 // when the pending tick task was queued (ns since the App started)
	lag       atomic.Int64 // the wait of the last tick task (ns)
}

func newLoop(app *App, el gnet.EventLoop, idx int) *loop {
	l := &loop{app: app, el: el, idx: idx}
	l.wheel.init(app.now())
	l.flushTask = func(context.Context) error {
		l.scheduled.Store(false)
		l.enter()
		l.exit()
		return nil
	}
	l.tickTask = func(context.Context) error {
		l.recordLag(int64(time.Since(app.start)) - l.queuedAt.Load())
		l.enter()
		l.runTimers()
		l.exit()
		return nil
	}
	return l
}

// recordLag keeps the wait of the last tick task (from the ticker queueing it to the loop running it).
func (l *loop) recordLag(d int64) { l.lag.Store(d) }

// enter marks the start of a callback on the loop. On-loop only.
func (l *loop) enter() {
	l.depth++
	if l.depth == 1 {
		l.active.Store(true)
	}
}

// exit ends a callback; the outermost exit writes everything queued meanwhile, unless it ends a
// callback that gnet ran inside a flush: that flush writes it after its current batch. On-loop only.
func (l *loop) exit() {
	l.depth--
	if l.depth == 0 {
		l.active.Store(false)
		if !l.flushing {
			l.flush()
		}
	}
}

// execute runs fn on the loop from any goroutine. It reports false when the loop is gone.
func (l *loop) execute(fn func()) bool {
	err := l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		l.enter()
		fn()
		l.exit()
		return nil
	}))
	return err == nil
}

// wake makes sure queued frames get written: a running callback flushes them on exit; otherwise a
// flush task is queued once. Safe from any goroutine; called after the loop lock is released.
func (l *loop) wake() {
	if l.active.Load() || !l.scheduled.CompareAndSwap(false, true) {
		return
	}
	if l.el.Execute(context.Background(), l.flushTask) != nil {
		l.scheduled.Store(false) // engine stopping: gnet closes every connection anyway
	}
}

// outItem is one frame in a connection's outbound queue: either an owned pooled buffer or a reference
// to a shared (broadcast) frame.
type outItem struct {
	next   *outItem
	buf    *bytebufferpool.ByteBuffer
	off    int          // wire bytes are buf.B[off:]
	shared *rooms.Frame // set instead of buf for a frame queued to many connections
	kind   itemKind
	ctl    bool // buf is from App.ctl (a control frame), not App.bufs
}

type itemKind uint8

const (
	itemData  itemKind = iota // a data, ping or pong frame or an HTTP response
	itemClose                 // our close frame: the connection is closing once it is written
	itemLast                  // an HTTP response after which the connection closes
	itemRaw                   // an HTTP response on a connection that stays open
	itemKeep                  // data the slow-consumer policy never drops: a recovered publication, a reply
)

func (it *outItem) bytes() []byte {
	if it.shared != nil {
		return it.shared.Wire()
	}
	return it.buf.B[it.off:]
}

// newItem takes a queue item from the free list. Caller holds l.mu.
func (l *loop) newItem() *outItem {
	if l.free == nil {
		slab := make([]outItem, itemSlab) // grow by slabs: one allocation per itemSlab queued frames
		for i := range slab[:itemSlab-1] {
			slab[i].next = &slab[i+1]
		}
		l.free = &slab[0]
	}
	it := l.free
	l.free = it.next
	it.next = nil
	return it
}

const itemSlab = 256

// releaseItems returns a detached chain's buffers to their pools and its items to the free list.
// On-loop only; caller must not hold l.mu.
func (l *loop) releaseItems(head *outItem) {
	if head == nil {
		return
	}
	tail := head
	for it := head; it != nil; it = it.next {
		if it.shared != nil {
			l.releaseFrame(it.shared)
		} else if it.buf != nil {
			l.app.putBuf(it.buf, it.ctl)
		}
		it.shared, it.buf, it.off, it.kind, it.ctl = nil, nil, 0, itemData, false // a recycled item starts clean
		tail = it
	}
	l.mu.Lock()
	tail.next = l.free
	l.free = head
	l.mu.Unlock()
}

// releaseFrame batches releases of the same shared frame. On-loop only.
func (l *loop) releaseFrame(f *rooms.Frame) {
	if f != l.relFrame {
		l.flushReleases()
		l.relFrame = f
	}
	l.relN++
}

func (l *loop) flushReleases() {
	if l.relFrame != nil {
		l.relFrame.Release(l.relN)
		l.relFrame, l.relN = nil, 0
	}
}

// dirtyEntry is a connection with frames queued: its queue lives here, not in the Conn, so an idle
// connection pays nothing for it.
type dirtyEntry struct {
	c     *Conn
	head  *outItem // newest first
	bytes int64    // queued bytes
	flags uint8    // the connection's qflags when the entry was taken for writing
}

// flush writes the queues of all dirty connections, batch after batch until none is left. On-loop only;
// never re-entered (see loop.flushing): a write error makes gnet close a connection synchronously, which
// runs our close callback, which may queue more frames, even for connections of the batch in hand.
// Those land in a fresh dirty list and go out in the next batch, after everything queued before them.
func (l *loop) flush() {
	l.flushing = true
	for {
		l.mu.Lock()
		batch := l.dirty
		if len(batch) == 0 {
			l.mu.Unlock()
			l.flushing = false
			l.flushReleases()
			return
		}
		l.dirty, l.spare = l.spare[:0], nil // callbacks run by gnet during the batch queue into a fresh list
		for i := range batch {
			c := batch[i].c
			batch[i].flags = c.qflags
			c.qflags &^= qDirty | qDropped | qSlow
		}
		l.mu.Unlock()
		for i := range batch {
			l.flushEntry(&batch[i])
		}
		clear(batch)
		l.spare = batch[:0]
	}
}

// flushEntry writes one connection's queue and applies what was flagged meanwhile. A connection that
// gnet closed during the write gets no drop event (its close handler has run).
func (l *loop) flushEntry(e *dirtyEntry) {
	c, head := e.c, reverse(e.head)
	if e.flags&qSlow != 0 && c.phase == phaseOpen {
		l.releaseItems(head) // replaced by the close frame closeSlow queues
		c.closeSlow()
		return
	}
	c.writeQueue(head)
	if e.flags&qDropped != 0 && c.phase != phaseClosed {
		c.congested()
		c.fireDrop()
	}
}

// reverse turns a newest-first queue into writing order.
func reverse(head *outItem) *outItem {
	var prev *outItem
	for head != nil {
		next := head.next
		head.next = prev
		prev, head = head, next
	}
	return prev
}

// refreshBacklog records how much gnet still has to write for c, for the slow-consumer check of
// senders on any goroutine. On-loop only.
func (c *Conn) refreshBacklog() {
	c.outBuffered.Store(int32(min(c.gc.OutboundBuffered(), 1<<30)))
}
