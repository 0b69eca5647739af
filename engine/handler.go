package engine

import (
	"sync/atomic"

	"github.com/openspeed/wsd/frame"
	"github.com/panjf2000/gnet/v2"
)

// handler is the gnet event handler. gnet calls OnOpen, OnTraffic and OnClose of a connection on the
// connection's event loop; each one brackets its work with loop.enter/exit so frames queued during the
// callback are written (coalesced per connection) when it returns.
type handler struct {
	gnet.BuiltinEventEngine
	app    *App
	booted atomic.Bool
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.booted.Store(true)
	h.app.boot(eng)
	return gnet.None
}

// OnOpen admits a socket gnet has just accepted, or refuses it at once when it is over MaxConnections
// or MaxConnectionsPerIP (connlimit.go), before it can hold a descriptor for HandshakeTimeout.
func (h *handler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	a := h.app
	if a.draining.Load() {
		return nil, gnet.Close
	}
	l := a.loopFor(gc.EventLoop())
	if !a.admit(gc) {
		return a.refuse(l, gc), gnet.Close
	}
	c := &Conn{gc: gc, loop: l, tidx: -1}
	gc.SetContext(c)
	l.enter()
	l.stats.opened.Add(1)
	c.armDeadline(a.cfg.HandshakeTimeout)
	l.exit()
	return nil, gnet.None
}

func (h *handler) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*Conn)
	if c == nil {
		return gnet.Close
	}
	l := c.loop
	l.enter()
	c.onTraffic()
	l.exit()
	return gnet.None
}

func (h *handler) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, _ := gc.Context().(*Conn)
	if c == nil {
		return gnet.None
	}
	l := c.loop
	l.enter()
	c.onClosed(err)
	l.exit()
	return gnet.None
}

// onTraffic consumes what the peer sent: HTTP requests until the upgrade, frames after it. Bytes that
// do not yet form a complete unit, and requests held back (holdHTTP), stay in gnet's buffer for the
// next call. On-loop only.
func (c *Conn) onTraffic() {
	if c.phase == phaseOpen {
		c.refreshBacklog()
	}
	buf, _ := c.gc.Peek(-1)
	n, served := 0, 0
read:
	for n < len(buf) {
		var m int
		switch {
		case c.phase == phaseHTTP:
			if c.holdHTTP(served) {
				break read
			}
			m = c.readHTTP(buf[n:])
			served++
		case c.phase < phaseDraining:
			m = c.readFrames(buf[n:])
		default:
			m = len(buf) - n // closing down: the rest is ignored
		}
		if m == 0 {
			break
		}
		n += m
	}
	if n > 0 && c.phase != phaseClosed {
		_, _ = c.gc.Discard(n) // never Discard(0): gnet treats it as "everything"
	}
}

// shutdown closes the connection for App.Shutdown. On-loop only.
func (c *Conn) shutdown(code frame.CloseCode, reason string) {
	switch c.phase {
	case phaseHTTP:
		if (c.hs == nil || !c.hs.busy()) && c.gc.InboundBuffered() == 0 {
			c.closeTCP()
			return
		}
		if c.hs == nil {
			c.hs = c.newHandshake()
		}
		c.hs.closeAfter = true // a request is arriving: answer it, then close
	case phaseOpen:
		c.closeWith(code, reason)
	}
}
