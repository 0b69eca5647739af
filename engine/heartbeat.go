package engine

import (
	"time"

	"github.com/openspeed/wsd/frame"
)

// Heartbeat and drain watching share the connection's one timer while it is open. Inbound bytes only
// set a flag (no clock read per message); a check every PingInterval looks at the flag: active →
// clear it; silent → count the silent check and ping; silent checks covering IdleTimeout → close with
// 1001. A connection thus gets a ping between one and two intervals after its last inbound byte and
// every interval after that while it stays silent. A connection whose messages were dropped (slow
// consumer) is also checked every tick until its backlog falls to half of MaxBackpressure, when the
// drain event fires. Without heartbeat the timer only parks the connection on the wheel.

// parkTicks is how often an open connection without heartbeat is visited (one wheel lap).
const parkTicks = wheelSlots

// durTicks converts a configured duration to ticks; 0 when disabled (negative).
func durTicks(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return ticksFor(d)
}

// armHeartbeat schedules the first check after the upgrade. On-loop only.
func (c *Conn) armHeartbeat() {
	r := c.route
	first := r.pingTicks
	if first == 0 {
		first = r.idleTicks
	}
	if first == 0 {
		first = parkTicks
	}
	c.silent = 0
	c.deadline = c.loop.app.now() + first
	c.rearmOpen(c.loop.app.now())
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

// heartbeat is one check of the connection's liveness.
func (c *Conn) heartbeat(now uint32) {
	r := c.route
	interval := r.pingTicks
	if interval == 0 {
		interval = r.idleTicks
	}
	if interval == 0 {
		c.deadline = now + parkTicks
		return
	}
	if c.flags&flagActive != 0 {
		c.flags &^= flagActive
		c.silent = 0
	} else if c.silent < ^uint16(0) {
		c.silent++
	}
	if r.idleTicks > 0 && uint32(c.silent)*interval >= r.idleTicks {
		c.x().failure = ErrIdleTimeout
		c.closeWith(frame.CloseGoingAway, "idle timeout")
		c.deadline = 0
		return
	}
	if c.silent > 0 && r.pingTicks > 0 {
		_ = c.sendFrame(frame.OpPing, nil, itemData)
	}
	c.deadline = now + interval
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

// OnDrain sets the handler that runs (on the loop) when a connection that had messages dropped has
// written its backlog down to half of MaxBackpressure. Call it from a handler on the connection's loop.
func (c *Conn) OnDrain(fn func()) { c.x().onDrain = fn }
