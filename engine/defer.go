package engine

import (
	"net/http"
	"sync/atomic"
)

// deferral is a Context's state after Defer: the answer may come from any goroutine.
type deferral struct {
	state atomic.Uint32 // deferRunning → deferWaiting (handler returned) → deferDone
	resp  response      // what the request allows (keep-alive, HEAD, headers set before Defer)
}

const (
	deferRunning uint32 = iota // the handler is still running
	deferWaiting               // the handler returned; the connection waits for the answer
	deferDone                  // answered (or timed out)
)

// Defer lets the handler answer after it returns: JSON, String and Blob of this Context
// then write the response from any goroutine, once (later calls return an error). The request's
// bytes (Body, headers, Query and Param) are valid only until the handler returns: copy what the
// answer needs first. Requests the client pipelined behind this one wait for the answer. An answer
// that does not come within Config.HandshakeTimeout is replaced by 503 and the connection closed.
// Call it from the handler, once.
func (c *Context) Defer() {
	if c.def != nil || c.responded {
		return
	}
	c.def = &deferral{resp: response{hdr: append([]field(nil), c.respHdr...),
		keepAlive: c.req.KeepAlive && !c.conn.closeAfterRequest(),
		http10:    c.req.Minor == 0, head: c.req.Method == http.MethodHead}}
	c.responded = true // the engine does not answer for the handler
	c.conn.hs.deferred = c
}

// answerDeferred writes a deferred answer. Safe from any goroutine.
func (c *Context) answerDeferred(status int, contentType string, body []byte) error {
	d := c.def
	resp := d.resp
	resp.status, resp.ctype, resp.body = status, contentType, body
	prev := d.state.Swap(deferDone)
	if prev == deferDone {
		return errResponded
	}
	conn := c.conn
	conn.writeResponse(resp)
	if prev == deferWaiting {
		conn.loop.execute(func() { conn.resumeHTTP(c) })
	}
	return nil
}

// deferredWaiting reports, after the handler returned, whether the connection must wait for a
// deferred answer (and marks it waiting). On-loop only.
func (c *Conn) deferredWaiting() bool {
	ctx := c.hs.deferred
	if ctx == nil {
		return false
	}
	if ctx.def.state.CompareAndSwap(deferRunning, deferWaiting) {
		return true
	}
	c.hs.deferred = nil // answered during the handler
	return false
}

// resumeHTTP reads the requests pipelined behind a deferred one once it is answered. On-loop only.
func (c *Conn) resumeHTTP(ctx *Context) {
	if c.hs == nil || c.hs.deferred != ctx || c.phase != phaseHTTP {
		return
	}
	c.hs.deferred = nil
	c.armDeadline(c.loop.app.cfg.HandshakeTimeout) // keep-alive idle time
	if c.gc.InboundBuffered() > 0 {
		_ = c.gc.Wake(nil)
	}
}

// deferredTimeout replaces an answer that did not come in time by 503. On-loop only.
func (c *Conn) deferredTimeout() bool {
	ctx := c.hs.deferred
	if ctx == nil || !ctx.def.state.CompareAndSwap(deferWaiting, deferDone) {
		return false
	}
	c.hs.deferred = nil
	c.httpError(http.StatusServiceUnavailable, "no answer in time")
	return true
}
