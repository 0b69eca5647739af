package engine

import (
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/goccy/go-json"
)

// Reply answers a plain HTTP request after its handler returned (Context.Defer). Its methods write
// the response once, from any goroutine; later calls return an error and write nothing.
type Reply struct {
	c     *Conn
	state atomic.Uint32 // replyRunning → replyWaiting (handler returned) → replyDone
	resp  response      // what the request allows (keep-alive, HEAD, headers set before Defer)
}

const (
	replyRunning uint32 = iota // the handler is still running
	replyWaiting               // the handler returned; the connection waits for the answer
	replyDone                  // answered (or timed out)
)

// Defer lets the handler answer later: it returns a Reply whose JSON, String, Blob or Error writes the
// response from any goroutine, after the handler returned (or before). The request's bytes (Body,
// headers) are valid only until the handler returns: copy what the answer needs. Requests the client
// pipelined behind this one wait for the answer. An answer that does not come within
// Config.HandshakeTimeout is replaced by 503 and the connection closed. Call it from the handler, once.
func (c *Context) Defer() *Reply {
	c.responded = true
	r := &Reply{c: c.conn}
	r.resp = response{hdr: append([]field(nil), c.respHdr...),
		keepAlive: c.req.KeepAlive && !c.conn.closeAfterRequest(),
		http10:    c.req.Minor == 0, head: c.req.Method == http.MethodHead}
	c.conn.hs.reply = r
	return r
}

// JSON answers status with v encoded as JSON. Safe from any goroutine.
func (r *Reply) JSON(status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return r.Blob(status, "application/json", b)
}

// String answers status with s as text/plain. Safe from any goroutine.
func (r *Reply) String(status int, s string) error {
	return r.Blob(status, "text/plain; charset=utf-8", []byte(s))
}

// Error answers an error as a handler's returned error is answered: an *HTTPError with its status and
// message, anything else 500. Safe from any goroutine.
func (r *Reply) Error(err error) error {
	var he *HTTPError
	if errors.As(err, &he) {
		return r.String(he.Status, he.Message+"\n")
	}
	r.c.loop.app.cfg.Logger.Error("deferred handler error", "err", err)
	return r.String(http.StatusInternalServerError, "internal server error\n")
}

// Blob answers status with body (copied) of the given content type. Safe from any goroutine.
func (r *Reply) Blob(status int, contentType string, body []byte) error {
	if r.state.Load() == replyDone {
		return errResponded
	}
	resp := r.resp
	resp.status, resp.ctype, resp.body = status, contentType, body
	prev := r.state.Swap(replyDone)
	if prev == replyDone {
		return errResponded
	}
	r.c.writeResponse(resp)
	if prev == replyWaiting {
		c := r.c
		c.loop.execute(func() { c.resumeHTTP(r) })
	}
	return nil
}

// deferredWaiting reports, after the handler returned, whether the connection must wait for a
// deferred answer (and marks it waiting). On-loop only.
func (c *Conn) deferredWaiting() bool {
	r := c.hs.reply
	if r == nil {
		return false
	}
	if r.state.CompareAndSwap(replyRunning, replyWaiting) {
		return true
	}
	c.hs.reply = nil // answered during the handler
	return false
}

// resumeHTTP reads the requests pipelined behind a deferred one once it is answered. On-loop only.
func (c *Conn) resumeHTTP(r *Reply) {
	if c.hs == nil || c.hs.reply != r || c.phase != phaseHTTP {
		return
	}
	c.hs.reply = nil
	c.armDeadline(c.loop.app.cfg.HandshakeTimeout) // keep-alive idle time
	if c.gc.InboundBuffered() > 0 {
		_ = c.gc.Wake(nil)
	}
}

// deferredTimeout replaces an answer that did not come in time by 503. On-loop only.
func (c *Conn) deferredTimeout() bool {
	r := c.hs.reply
	if r == nil || !r.state.CompareAndSwap(replyWaiting, replyDone) {
		return false
	}
	c.hs.reply = nil
	c.httpError(http.StatusServiceUnavailable, "no answer in time")
	return true
}
