package engine

import (
	"time"

	"github.com/openspeed/wsd/frame"
)

// Heartbeat and drain watching share the connection's one timer while it is open. Every read of
// inbound bytes records the current wheel tick in Conn.lastIn (Conn.touch: one monotonic clock read
// per read event, not per message, shared with the rate limits). The heartbeat is due at the next of: a
// ping PingInterval, 2 × PingInterval, ... after the last inbound byte, and the close IdleTimeout after
// it (1001 "idle timeout"). When it comes due and bytes arrived meanwhile, it is simply due again from
// the new lastIn, so a busy connection costs one timer visit per interval. Deadlines fall on the
// first tick boundary past the duration, so a ping or a close never comes early and is late by at
// most one tick (50 ms) plus scheduling. A connection whose messages were dropped (slow consumer)
// is also checked every tick until its backlog falls to half of MaxBackpressure, when the drain
// event fires. Without heartbeat the timer only parks the connection on the wheel.

// parkTicks is how often an open connection without heartbeat is visited (one wheel lap).
const parkTicks = wheelSlots

// durTicks converts a configured duration to ticks; 0 when disabled (negative).
func durTicks(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return ticksFor(d)
}

// beats reports whether the route pings or times out silent connections.
func (w *wsRoute) beats() bool { return w.pingTicks|w.idleTicks != 0 }

// touch runs for each read of a WebSocket's inbound bytes: on routes with a heartbeat or a limit it
// reads the clock once, for the heartbeat (Conn.lastIn), for the limits charged by the frames of this
// read (loop.readAt), and to grant the first control frame after a second of silence for free
// (flagCtlFree). On-loop only.
func (c *Conn) touch() {
	if !c.route.clocked {
		return
	}
	ns := int64(time.Since(c.loop.app.start))
	tick := uint32(time.Duration(ns)/tickDur) + 1 // as App.now
	c.loop.readAt = ns
	if tick-c.lastIn >= ctlFreeTicks {
		c.flags |= flagCtlFree
	} else {
		c.flags &^= flagCtlFree
	}
	c.lastIn = tick
}

// armHeartbeat schedules the first check after the upgrade. On-loop only.
func (c *Conn) armHeartbeat() {
	now := c.loop.app.now()
	c.lastIn = now
	c.deadline = c.nextBeat(now)
	c.rearmOpen(now)
}

// nextBeat is the first tick after now at which the heartbeat has something to do: the next ping or
// the idle close, whichever comes first. A duration of d ticks after a byte that arrived during tick
// lastIn has surely passed once tick lastIn+d+1 has begun: pings are due at lastIn + k·PingInterval + 1
// (k = 1, 2, ...), the close at lastIn + IdleTimeout + 1.
func (c *Conn) nextBeat(now uint32) uint32 {
	r := c.route
	if !r.beats() {
		return now + parkTicks
	}
	silent := c.silence(now)
	next := uint32(0)
	if r.idleTicks > 0 {
		next = r.idleTicks + 1
	}
	if p := r.pingTicks; p > 0 {
		k := max(1, (silent+p-1)/p) // the first k with k·p+1 > silent
		if ping := k*p + 1; next == 0 || ping < next {
			next = ping
		}
	}
	return c.lastIn + next
}

// silence is the number of ticks since the last inbound bytes.
func (c *Conn) silence(now uint32) uint32 {
	return uint32(max(int32(now-c.lastIn), 0))
}

// rearmOpen schedules the open connection's timer at its next heartbeat check, or at the next tick
// while it is congested.
func (c *Conn) rearmOpen(now uint32) {
	due := c.deadline
	if c.flags&flagCongested != 0 && (due == 0 || int32(due-(now+1)) > 0) {
		due = now + 1
	}
	if due == 0 {
		due = now + parkTicks
	}
	c.loop.schedule(c, due)
}

// openTimer runs when an open connection's timer is due. On-loop only.
func (c *Conn) openTimer(now uint32) {
	if c.flags&flagCongested != 0 {
		c.checkDrain()
	}
	if c.deadline != 0 && int32(now-c.deadline) >= 0 {
		c.heartbeat(now)
	}
	if c.phase == phaseOpen {
		c.rearmOpen(now)
	}
}

// heartbeat pings or closes a silent connection, as due. It runs only when the deadline nextBeat
// chose has come, so each ping is sent once.
func (c *Conn) heartbeat(now uint32) {
	r := c.route
	silent := c.silence(now)
	if r.idleTicks > 0 && silent > r.idleTicks {
		c.x().failure = ErrIdleTimeout
		c.closeWith(frame.CloseGoingAway, "idle timeout")
		c.deadline = 0
		return
	}
	if r.pingTicks > 0 && silent > r.pingTicks {
		_ = c.sendFrame(frame.OpPing, nil, itemData)
	}
	c.deadline = c.nextBeat(now)
}

// checkDrain fires the drain event once the backlog of a congested connection is back to half of its
// limit.
func (c *Conn) checkDrain() {
	l := c.loop
	c.refreshBacklog()
	l.mu.Lock()
	backlog := c.queued() + int64(c.outBuffered.Load())
	l.mu.Unlock()
	if backlog > c.route.maxBackpressure/2 {
		return
	}
	c.flags &^= flagCongested
	c.fireDrain()
}

// congested marks the connection after a drop and starts watching its backlog. On-loop only.
func (c *Conn) congested() {
	if c.flags&flagCongested != 0 || c.phase != phaseOpen {
		return
	}
	c.flags |= flagCongested
	c.rearmOpen(c.loop.app.now())
}
