package engine

import (
	"time"

	"github.com/openspeed/wsd/frame"
)

// Heartbeat and drain watching share the connection's one timer while it is open. Inbound bytes only
// set a flag (no clock read per message); a check every PingInterval looks at the flag: active →
// clear it; silent → ping; still silent when IdleTimeout has passed since the last activity check →
// close with 1001. A connection whose messages were dropped (slow consumer) is also checked every tick
// until its backlog falls to half of MaxBackpressure, when the drain event fires.

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
	c.deadline = 0
	if first > 0 {
		c.deadline = c.loop.app.now() + first
	}
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
		c.loop.unschedule(c)
		return
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
	switch {
	case c.flags&flagActive != 0:
		c.flags &^= flagActive | flagPinged
		c.deadline = now + max(r.pingTicks, 1)
		if r.pingTicks == 0 {
			c.deadline = now + r.idleTicks
		}
	case c.flags&flagPinged == 0 && r.pingTicks > 0:
		c.flags |= flagPinged
		_ = c.sendFrame(frame.OpPing, nil, itemData)
		c.deadline = now + r.pingTicks
		if r.idleTicks > r.pingTicks {
			c.deadline = now + r.idleTicks - r.pingTicks
		}
		if r.idleTicks == 0 {
			c.flags &^= flagPinged // no timeout: keep pinging every interval
		}
	case r.idleTicks > 0:
		c.x().failure = ErrIdleTimeout
		_ = c.Close(frame.CloseGoingAway, "idle timeout")
		c.deadline = 0
	default:
		c.deadline = now + r.pingTicks
	}
}

// checkDrain fires the drain event once the backlog of a congested connection is back to half of its
// limit.
func (c *Conn) checkDrain() {
	l := c.loop
	c.refreshBacklog()
	l.mu.Lock()
	backlog := int64(c.outBytes) + int64(c.outBuffered.Load())
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

func (c *Conn) fireDrain() {
	if x := c.ext; x != nil && x.onDrain != nil {
		defer c.recoverPanic("drain")
		x.onDrain()
		return
	}
	if fn := c.route.h.Drain; fn != nil {
		defer c.recoverPanic("drain")
		fn(c)
	}
}
