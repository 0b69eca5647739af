package engine

import "net/http"

// An HTTP connection's answers count against its outbound budget (Config.MaxBackpressure; a connection
// has no route before the upgrade) exactly like a WebSocket's frames: they sit in the same queue and
// gnet's outbound buffer. An answer cannot be dropped, so the reader is held instead: once the backlog
// reaches the budget, no further request is parsed until it has drained to half of it. gnet reads every
// readable socket and cannot pause one, so what a held peer keeps sending piles up in gnet's inbound
// buffer; past one request's worth (MaxHeaderBytes + MaxBodyBytes) the connection is answered 429 and
// closed. gnet tells nobody when an outbound buffer empties, so a held connection's timer polls its
// backlog every tick (the peer may have stopped sending: no OnTraffic would come).
//
// Each OnTraffic call also answers at most maxRequestsPerRead requests of one connection; the rest
// waits for a gnet wake task (OnTraffic again) queued behind the tasks already waiting for the loop
// (broadcasts, other connections' wakes). gnet v2.9.7 runs tasks queued while it drains its task queue
// in the same round, so the chain of wakes ends only when the connection's buffered requests are
// answered or its answers fill the budget (then it is held): the work one connection gets between two
// polls is bounded by a read (64 KiB of requests) plus the budget, and tasks are interleaved with it.

// maxRequestsPerRead bounds the requests of one connection answered per OnTraffic call.
const maxRequestsPerRead = 32

// holdHTTP reports whether c must stop parsing requests for now; served is the number of requests
// answered in the current call. Once gnet holds a budget's worth of unwritten answers, c is held until
// they drain; when the answers of this call (still in the engine's queue, written when the callback
// returns) fill the budget, or maxRequestsPerRead were answered, parsing resumes in a wake task after
// the write. On-loop only.
func (c *Conn) holdHTTP(served int) bool {
	hs := c.hs
	if hs == nil || hs.last {
		return false
	}
	if budget := c.loop.app.cfg.MaxBackpressure; budget > 0 {
		out := int64(c.gc.OutboundBuffered())
		if hs.paused && out > budget/2 || !hs.paused && out >= budget {
			c.pauseHTTP(out)
			return true
		}
		hs.paused = false
		if served > 0 && c.backlog() >= budget {
			_ = c.gc.Wake(nil)
			return true
		}
	}
	if served >= maxRequestsPerRead {
		_ = c.gc.Wake(nil) // OnTraffic again once the loop has served the others
		return true
	}
	return false
}

// pauseHTTP stops reading c until its backlog drains, and closes it with 429 when the requests it
// pipelined meanwhile exceed one request's worth. On-loop only.
func (c *Conn) pauseHTTP(backlog int64) {
	hs, l := c.hs, c.loop
	if !hs.paused {
		hs.paused, hs.held = true, backlog
		l.stats.readPauses.Add(1)
		l.schedule(c, l.app.now()+1)
	}
	cfg := &l.app.cfg
	if int64(c.gc.InboundBuffered()) > int64(cfg.MaxHeaderBytes)+cfg.MaxBodyBytes {
		l.stats.pipelineOverflows.Add(1)
		c.deadline = 0 // the close waits at most CloseTimeout for the answers to drain
		c.httpError(http.StatusTooManyRequests, "too many pipelined requests")
	}
}

// httpTimer runs when the timer of a connection in the HTTP phase is due: its request or keep-alive
// deadline, or a poll of a held connection. On-loop only.
func (c *Conn) httpTimer(now uint32, expired bool) {
	switch {
	case expired:
		c.handshakeTimeout()
	case c.hs != nil && c.hs.paused && !c.hs.last:
		c.pollHeld(now)
	case c.deadline != 0:
		c.loop.schedule(c, c.deadline) // a poll tick after the hold ended elsewhere
	}
}

// pollHeld checks a held connection's backlog: it resumes reading (serving the requests already
// buffered) once the backlog is down to half the budget. A peer that reads is not idle: its deadline
// moves while the backlog shrinks. On-loop only.
func (c *Conn) pollHeld(now uint32) {
	hs, l := c.hs, c.loop
	backlog := c.backlog()
	if backlog < hs.held {
		c.deadline = now + ticksFor(l.app.cfg.HandshakeTimeout)
	}
	hs.held = backlog
	if backlog > l.app.cfg.MaxBackpressure/2 {
		l.schedule(c, now+1)
		return
	}
	hs.paused = false
	l.schedule(c, c.deadline)
	c.onTraffic()
}

// backlog is what is queued for c and not yet written: the engine's queue plus gnet's outbound
// buffer. On-loop only.
func (c *Conn) backlog() int64 {
	l := c.loop
	l.mu.Lock()
	q := c.queued()
	l.mu.Unlock()
	return q + int64(c.gc.OutboundBuffered())
}
