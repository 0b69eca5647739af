package engine

import (
	"time"

	"github.com/openspeed/wsd/frame"
)

// setPhase moves the state machine and keeps the public ReadyState in step. On-loop only.
func (c *Conn) setPhase(p phase) {
	c.phase = p
	switch {
	case p == phaseOpen:
		c.state.Store(uint32(StateOpen))
	case p >= phaseClosing && p < phaseClosed:
		c.state.Store(uint32(StateClosing))
	case p == phaseClosed:
		c.state.Store(uint32(StateClosed))
	}
}

// fail fails the connection because of err (a *frame.ProtocolError, a handler panic): the error handler
// runs, a close frame with the implied code is queued, and the TCP connection is closed as soon as that
// frame is written (RFC 6455 7.1.7: no waiting for a peer that broke the protocol). Until then the
// peer's bytes are read leniently and ignored; CloseTimeout bounds the wait for the write. On-loop only.
func (c *Conn) fail(err error) {
	if c.phase >= phaseFailing {
		return
	}
	c.x().failure = err
	c.skipRest()
	if c.flags&flagPeerClosed == 0 {
		c.fireError(err)
	}
	if c.flags&(flagPeerClosed|flagCloseSent) != 0 {
		c.setPhase(phaseDraining) // our close frame is out already, or the handshake is complete
		c.closeWhenDrained()
		return
	}
	code := frame.CloseCodeOf(err)
	reason := ""
	if pe, ok := err.(*frame.ProtocolError); ok {
		reason = pe.Reason
	}
	c.queueClose(code, reason)
	c.startFailing()
}

// startFailing enters phaseFailing once our close frame is queued: closeFrameSent moves on to
// draining and the socket closes when the frame is written, at most CloseTimeout from now.
// On-loop only.
func (c *Conn) startFailing() {
	c.setPhase(phaseFailing)
	c.armDeadline(c.loop.app.cfg.CloseTimeout)
}

// skipRest makes the reader ignore the rest of a frame it is streaming and the message it belongs to,
// for a connection that has failed. On-loop only.
func (c *Conn) skipRest() {
	if rd := c.rd; rd != nil {
		rd.skip = true
		rd.msgOp = 0
	}
}

// queueClose queues our close frame unless one is queued already. On-loop only.
func (c *Conn) queueClose(code frame.CloseCode, reason string) {
	_ = c.enqueueClose(code, reason)
}

// onCloseFrame handles the peer's close frame.
func (c *Conn) onCloseFrame(payload []byte) {
	code, reason, err := frame.ParseClose(payload)
	if err != nil {
		c.fail(err)
		return
	}
	x := c.x()
	x.peerCode, x.peerReason = code, string(reason)
	c.flags |= flagPeerClosed
	if c.flags&flagCloseSent != 0 {
		c.setPhase(phaseDraining)
		c.closeWhenDrained()
		return
	}
	if c.phase == phaseOpen {
		// Echo the code (an empty close answers an empty close). If our own close frame is queued but not
		// written yet, it is the answer: closeFrameSent finishes the handshake when it goes out.
		c.queueClose(code, "")
		c.setPhase(phaseClosing)
	}
}

// closeFrameSent runs when our close frame has been handed to gnet. Closing the TCP connection waits
// for the peer's close frame (or EOF, at most CloseTimeout) only when the server started the close of
// a healthy connection; after the peer's close, or when the server failed the connection, the socket
// is closed once the frame is written (afterWrite calls closeWhenDrained). On-loop only.
func (c *Conn) closeFrameSent() {
	c.flags |= flagCloseSent
	switch {
	case c.flags&flagPeerClosed != 0 || c.phase == phaseFailing:
		c.setPhase(phaseDraining)
	case c.phase == phaseOpen:
		c.setPhase(phaseClosing)
		c.armDeadline(c.loop.app.cfg.CloseTimeout)
	}
}

// closeWhenDrained closes the TCP connection once gnet has written everything; until then it polls on
// the timer wheel, at most CloseTimeout. On-loop only.
func (c *Conn) closeWhenDrained() {
	if c.phase != phaseDraining {
		return
	}
	if c.gc.OutboundBuffered() == 0 {
		c.closeTCP()
		return
	}
	if c.deadline == 0 {
		c.armDeadline(c.loop.app.cfg.CloseTimeout)
	}
	c.loop.schedule(c, c.loop.app.now()+1)
}

// closeTCP asks gnet to close the socket; our OnClose runs on the loop soon after. On-loop only.
func (c *Conn) closeTCP() {
	if c.flags&flagTCPClosing != 0 {
		return
	}
	c.flags |= flagTCPClosing
	c.loop.unschedule(c)
	_ = c.gc.Close()
}

// onClosed runs when gnet has closed the socket, whatever the reason: it releases everything the
// connection holds and fires the close handler of an upgraded connection. On-loop only.
func (c *Conn) onClosed(err error) {
	if c.phase == phaseClosed {
		return
	}
	c.setPhase(phaseClosed)
	c.discardQueue()
	c.loop.unschedule(c)
	c.releaseReader(true)
	c.hs = nil
	a := c.loop.app
	a.conns.Add(-1)
	if a.ips != nil {
		a.ips.add(remoteIP(c.gc.RemoteAddr()), -1)
	}
	c.loop.stats.closed.Add(1)
	if c.flags&flagUpgraded != 0 {
		a.codecConns[c.codecIdx()].Add(-1)
		if c.mode&modeDeflate != 0 {
			c.releaseDeflate()
		}
		info := c.closeInfo(err)
		c.loop.stats.closes[closeSlot(info.Code)].Add(1)
		c.fireClose(info)
		a.table.LeaveAll(member{c})
	}
	a.connClosed()
}

func (c *Conn) closeInfo(err error) CloseInfo {
	info := CloseInfo{Code: frame.CloseAbnormal}
	if x := c.ext; x != nil {
		if c.flags&flagPeerClosed != 0 {
			info.Code, info.Reason = x.peerCode, x.peerReason
		}
		info.Err = x.failure
	}
	if info.Err == nil && err != nil && info.Code == frame.CloseAbnormal {
		info.Err = err
	}
	return info
}

// onTimer runs when the connection's timer is due. On-loop only.
func (c *Conn) onTimer(now uint32) {
	expired := c.deadline != 0 && int32(now-c.deadline) >= 0
	switch c.phase {
	case phaseHTTP:
		c.httpTimer(now, expired)
	case phaseOpen:
		c.openTimer(now)
	case phaseClosing, phaseFailing:
		if expired {
			c.closeTCP()
		}
	case phaseDraining:
		if expired || c.gc.OutboundBuffered() == 0 {
			c.closeTCP()
			return
		}
		c.loop.schedule(c, now+1)
	}
}

// armDeadline sets the current phase's deadline d from now and schedules the timer for it. On-loop only.
func (c *Conn) armDeadline(d time.Duration) {
	c.deadline = c.loop.app.now() + ticksFor(d)
	c.loop.schedule(c, c.deadline)
}
