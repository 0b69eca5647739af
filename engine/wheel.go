package engine

import (
	"sync/atomic"
	"time"
)

// Timers. Each connection has exactly one pending timer from OnOpen until gnet is asked to close it
// (what it means depends on the connection's phase: handshake deadline, close timeout, drain poll,
// heartbeat, or a parking timer when an open connection has no heartbeat), so the wheel is also the
// loop's list of its connections (Shutdown walks it). They live in one hashed timing
// wheel per loop: a connection sits in the slot of its due tick, found by index, so scheduling and
// cancelling are O(1) and cost no allocation once the slot slices have grown. One App goroutine sleeps
// until the earliest due tick over all loops and then queues a tick task on each loop that has
// something due; with nothing scheduled it sleeps until woken, so an idle server spends no CPU on timers.

const (
	tickDur    = 50 * time.Millisecond
	wheelSlots = 512 // 25.6 s per lap; later deadlines wait in their slot for a later lap
)

// ticksFor converts d to a whole number of ticks, at least 1.
func ticksFor(d time.Duration) uint32 {
	t := (d + tickDur - 1) / tickDur
	if t < 1 {
		t = 1
	}
	return uint32(t)
}

// now is the current tick: 50 ms units since the App was created, starting at 1 so that 0 can mean
// "no deadline". Tick arithmetic is wrap-safe (differences as int32). Safe from any goroutine.
func (a *App) now() uint32 {
	return uint32(time.Since(a.start)/tickDur) + 1
}

type wheel struct {
	slots [wheelSlots][]*Conn
	fired uint32 // every slot up to this tick has been processed
	count int

	next    atomic.Int64 // earliest tick worth a wake-up, or -1 when nothing is scheduled
	pending atomic.Bool  // a tick task is queued on the loop
}

func (w *wheel) init(now uint32) {
	w.fired = now
	w.next.Store(-1)
}

// schedule (re)arms c's timer for tick due. On-loop only.
func (l *loop) schedule(c *Conn, due uint32) {
	w := &l.wheel
	if c.tidx >= 0 {
		w.remove(c)
	}
	if int32(due-w.fired) <= 0 {
		due = w.fired + 1 // its slot was already passed in this lap
	}
	s := &w.slots[due%wheelSlots]
	c.tdue, c.tidx = due, int32(len(*s))
	*s = append(*s, c)
	w.count++
	if n := w.next.Load(); n < 0 || int32(due-uint32(n)) < 0 {
		w.next.Store(int64(due))
		l.app.pokeTicker()
	}
}

// unschedule cancels c's timer. On-loop only.
func (l *loop) unschedule(c *Conn) {
	if c.tidx >= 0 {
		l.wheel.remove(c)
	}
	c.deadline = 0
}

// remove takes c out of its slot by swap-remove.
func (w *wheel) remove(c *Conn) {
	s := &w.slots[c.tdue%wheelSlots]
	i, last := int(c.tidx), len(*s)-1
	if i > last || (*s)[i] != c {
		c.tidx = -1
		return
	}
	(*s)[i] = (*s)[last]
	(*s)[i].tidx = int32(i)
	(*s)[last] = nil
	*s = (*s)[:last]
	if cap(*s) > 256 && last < cap(*s)/4 {
		*s = append([]*Conn(nil), *s...)
	}
	c.tidx = -1
	w.count--
}

// all returns every connection on the wheel (a copy). On-loop only.
func (w *wheel) all() []*Conn {
	out := make([]*Conn, 0, w.count)
	for i := range w.slots {
		out = append(out, w.slots[i]...)
	}
	return out
}

// runTimers fires every slot between the last processed tick and now. On-loop only (the tick task).
func (l *loop) runTimers() {
	w := &l.wheel
	w.pending.Store(false)
	now := l.app.now()
	steps := int32(now - w.fired)
	if steps > wheelSlots {
		steps = wheelSlots // a full lap visits every slot once
	}
	for i := int32(1); i <= steps; i++ {
		l.fireSlot((w.fired+uint32(i))%wheelSlots, now)
	}
	w.fired = now
	w.updateNext()
	l.app.pokeTicker()
}

// fireSlot runs the timers of one slot that are due by now; the others stay for a later lap.
func (l *loop) fireSlot(slot, now uint32) {
	w := &l.wheel
	list := w.slots[slot]
	due := l.tmp[:0]
	j := 0
	for _, c := range list {
		if int32(now-c.tdue) >= 0 {
			c.tidx = -1
			due = append(due, c)
			continue
		}
		c.tidx = int32(j)
		list[j] = c
		j++
	}
	clear(list[j:])
	w.slots[slot] = list[:j]
	w.count -= len(due)
	for _, c := range due {
		if c.tidx < 0 && c.phase != phaseClosed { // not re-armed by an earlier timer of this batch
			c.onTimer(now)
		}
	}
	clear(due)
	l.tmp = due[:0]
}

// updateNext records the first non-empty slot after fired as the next wake-up.
func (w *wheel) updateNext() {
	if w.count == 0 {
		w.next.Store(-1)
		return
	}
	for i := uint32(1); i <= wheelSlots; i++ {
		if len(w.slots[(w.fired+i)%wheelSlots]) > 0 {
			w.next.Store(int64(w.fired + i))
			return
		}
	}
	w.next.Store(-1)
}

// pokeTicker wakes the timer goroutine so it recomputes its sleep. Safe from any goroutine.
func (a *App) pokeTicker() {
	select {
	case a.poke <- struct{}{}:
	default:
	}
}

// runTicker is the App's timer goroutine: it sleeps until the earliest due tick and queues a tick task
// on every loop that has something due. It returns when the engine has stopped (App.run closes
// stopTicker). A loop that refuses the task (gnet is stopping) is retried a tick later, not at once:
// its timers stay due, and retrying at once would spin.
func (a *App) runTicker() {
	defer close(a.tickerDone)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	refused := false
	for {
		if wait, ok := a.untilNextTick(); ok {
			if refused {
				wait = max(wait, tickDur)
			}
			t.Reset(wait)
		} else {
			t.Stop()
		}
		select {
		case <-a.stopTicker:
			return
		case <-a.poke:
		case <-t.C:
		}
		refused = a.queueTicks()
	}
}

// queueTicks queues a tick task on every loop with a due timer and none queued yet. It reports
// whether a loop refused one.
func (a *App) queueTicks() (refused bool) {
	now := a.now()
	a.sweepHistory()
	for _, l := range a.loopList() {
		w := &l.wheel
		n := w.next.Load()
		if n >= 0 && int32(now-uint32(n)) >= 0 && w.pending.CompareAndSwap(false, true) {
			l.queuedAt.Store(int64(time.Since(a.start)))
			if l.el.Execute(a.bg, l.tickTask) != nil {
				w.pending.Store(false)
				refused = true
			}
		}
	}
	return refused
}

// untilNextTick returns how long to sleep until the earliest due tick of the loops without a queued
// tick task.
func (a *App) untilNextTick() (time.Duration, bool) {
	var best uint32
	found := false
	for _, l := range a.loopList() {
		w := &l.wheel
		n := w.next.Load()
		if n < 0 || w.pending.Load() {
			continue
		}
		if !found || int32(uint32(n)-best) < 0 {
			best, found = uint32(n), true
		}
	}
	sweep, sweeping := a.untilSweep()
	if !found {
		return sweep, sweeping
	}
	at := time.Duration(best-1) * tickDur
	wait := max(at-time.Since(a.start), 0)
	if sweeping {
		wait = min(wait, sweep)
	}
	return wait, true
}

// sweepEvery is how often the ticker expires room histories (while any room keeps one).
const sweepEvery = time.Second

// untilSweep is the time until the next history sweep, when any history is kept.
func (a *App) untilSweep() (time.Duration, bool) {
	if a.table.Stats().HistoryEntries == 0 {
		return 0, false
	}
	return max(sweepEvery-time.Since(a.lastSweep), 0), true
}

// sweepHistory expires room histories once per sweepEvery. Ticker goroutine only.
func (a *App) sweepHistory() {
	if time.Since(a.lastSweep) < sweepEvery {
		return
	}
	a.lastSweep = time.Now()
	a.table.Sweep(a.lastSweep)
}
