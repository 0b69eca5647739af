package engine

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/openspeed/wsd/engine/internal/http1"
)

// handshake is a connection's HTTP state while it is not a WebSocket: the resumable request parser and
// the request being read. Upgraded connections drop it.
type handshake struct {
	parser     http1.Parser
	ctx        *Context
	headerLen  int      // > 0: the header block is parsed, the body is still arriving
	closeAfter bool     // shutting down: close after the current request
	last       bool     // an answer that closes the connection is queued: nothing after it is parsed
	paused     bool     // not read until the answers drain (httphold.go)
	held       int64    // the backlog at the last check while paused
	deferred   *Context // a request whose deferred answer the connection waits for (Context.Defer)
}

func (c *Conn) newHandshake() *handshake {
	return &handshake{parser: http1.Parser{MaxHeaderBytes: c.loop.app.cfg.MaxHeaderBytes}}
}

// busy reports whether a request is partly read.
func (h *handshake) busy() bool { return h.headerLen > 0 }

func (c *Conn) closeAfterRequest() bool {
	return c.hs != nil && c.hs.closeAfter || c.loop.app.draining.Load()
}

// readHTTP consumes at most one HTTP request from b and returns the bytes used (0: incomplete).
// On-loop only.
func (c *Conn) readHTTP(b []byte) int {
	a := c.loop.app
	if c.hs == nil {
		c.hs = c.newHandshake()
	}
	hs := c.hs
	if hs.last {
		return len(b) // pipelined after an answer with Connection: close: ignored
	}
	if hs.deferred != nil {
		return 0 // waiting for a deferred answer: the next requests stay buffered
	}
	if hs.ctx == nil {
		hs.ctx = &Context{conn: c, app: a}
	}
	ctx := hs.ctx
	if hs.headerLen == 0 {
		n, err := hs.parser.Parse(b, &ctx.req)
		if err != nil {
			var he *http1.Error
			status := http.StatusBadRequest
			if errors.As(err, &he) {
				status = he.Status
			}
			c.httpError(status, http.StatusText(status))
			return len(b)
		}
		if n == 0 {
			return 0
		}
		hs.headerLen = n
	}
	n := hs.headerLen
	ep, vals := a.router.match(ctx.req.Path, ctx.pbuf[:0])
	ctx.params = vals
	if isUpgrade(&ctx.req) {
		if rt := ep.get(methodWS); rt != nil {
			c.upgrade(rt, ctx)
			return n
		}
	}
	return c.readPlain(b, ep)
}

// readPlain serves a plain HTTP request once its body has arrived.
func (c *Conn) readPlain(b []byte, ep *endpoint) int {
	hs, ctx, a := c.hs, c.hs.ctx, c.loop.app
	req := &ctx.req
	if req.Chunked {
		c.httpError(http.StatusLengthRequired, "chunked request bodies are not supported; send Content-Length")
		return len(b)
	}
	size := max(req.ContentLength, 0)
	if size > a.cfg.MaxBodyBytes {
		c.httpError(http.StatusRequestEntityTooLarge, "request body too large")
		return len(b)
	}
	total := hs.headerLen + int(size)
	if len(b) < total {
		return 0 // the body is still arriving (it stays in gnet's buffer)
	}
	ctx.body = b[hs.headerLen:total]
	c.serveHTTP(ep, ctx)
	c.hs.ctx, c.hs.headerLen = nil, 0
	c.hs.parser.Reset()
	if c.deferredWaiting() {
		c.armDeadline(a.cfg.HandshakeTimeout) // bounds the wait for the answer
		return total
	}
	if c.phase == phaseHTTP {
		c.armDeadline(a.cfg.HandshakeTimeout) // keep-alive idle time
	}
	return total
}

// serveHTTP routes a plain request to its handler or answers 404/405/426.
func (c *Conn) serveHTTP(ep *endpoint, ctx *Context) {
	method := ctx.req.Method
	rt := ep.get(method)
	if rt == nil && method == http.MethodHead {
		rt = ep.get(http.MethodGet)
	}
	switch {
	case ep == nil:
		c.plainError(ctx, http.StatusNotFound, "not found")
		return
	case rt == nil && ep.get(methodWS) != nil && (method == http.MethodGet || method == http.MethodHead):
		ctx.SetHeader("Upgrade", "websocket")
		ctx.SetHeader("Sec-WebSocket-Version", "13")
		c.plainError(ctx, http.StatusUpgradeRequired, "this route speaks WebSocket only")
		return
	case rt == nil:
		ctx.SetHeader("Allow", ep.allowed())
		c.plainError(ctx, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	ctx.rt = rt
	c.runHTTPHandler(rt, ctx)
}

// plainError answers a routing error, keeping the connection alive when the request allows it.
func (c *Conn) plainError(ctx *Context, status int, msg string) {
	c.reject(status)
	_ = ctx.String(status, msg+"\n")
}

func (e *endpoint) get(method string) *route {
	if e == nil {
		return nil
	}
	return e.methods[method]
}

// isUpgrade reports whether req asks for a WebSocket (Upgrade: websocket).
func isUpgrade(req *http1.Request) bool {
	return req.HasToken("Upgrade", "websocket")
}

// upgrade validates a WebSocket upgrade request (RFC 6455 section 4.2.1), answers 101 and opens the
// connection, or answers the precise HTTP error and closes.
func (c *Conn) upgrade(rt *route, ctx *Context) {
	req := &ctx.req
	ctx.rt = rt
	ws := rt.ws
	status, msg, hdr := checkUpgrade(req)
	if status == 0 && !ws.checkOrigin(ctx) {
		status, msg = http.StatusForbidden, "origin not allowed"
	}
	proto := ""
	if status == 0 {
		proto = selectSubprotocol(req, ws.protocols)
		if proto == "" && ws.opts.RequireSubprotocol {
			status, msg = http.StatusBadRequest, "no supported subprotocol offered; supported: "+
				strings.Join(ws.protocols, ", ")
		}
	}
	var data any
	if status == 0 && ws.opts.Upgrade != nil {
		data, status, msg = c.runUpgradeHook(ws, ctx)
	}
	if status != 0 {
		c.httpError(status, msg, append(hdr, ctx.respHdr...)...)
		return
	}
	if ext := c.negotiateDeflate(ws, req.Values("Sec-WebSocket-Extensions")); ext != "" {
		ctx.respHdr = append(ctx.respHdr, field{"Sec-WebSocket-Extensions", ext})
	}
	c.accept(req.Header("Sec-WebSocket-Key"), proto, ctx.respHdr)
	if data != nil {
		c.x().data = data
	}
	c.open(rt, ctx, proto)
}

// runUpgradeHook runs the route's Upgrade hook; a panic or an error rejects the upgrade.
func (c *Conn) runUpgradeHook(ws *wsRoute, ctx *Context) (data any, status int, msg string) {
	defer func() {
		if r := recover(); r != nil {
			c.loop.app.cfg.Logger.Error("upgrade hook panic", "route", ws.pattern, "panic", r)
			data, status, msg = nil, http.StatusInternalServerError, "internal server error"
		}
	}()
	data, err := ws.opts.Upgrade(ctx)
	if err == nil {
		return data, 0, ""
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return nil, he.Status, he.Message
	}
	return nil, http.StatusForbidden, "forbidden"
}

// checkUpgrade applies the handshake rules; status 0 means the request is acceptable.
func checkUpgrade(req *http1.Request) (int, string, []field) {
	switch {
	case req.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, "WebSocket upgrade must use GET", []field{{"Allow", "GET"}}
	case req.Major < 1 || (req.Major == 1 && req.Minor < 1):
		return http.StatusBadRequest, "WebSocket upgrade needs HTTP/1.1", nil
	case req.ContentLength > 0 || req.Chunked:
		// A body is signalled by Content-Length or Transfer-Encoding (RFC 7230 3.3). The opening
		// handshake is a GET (RFC 6455 4.1), whose body has no meaning (RFC 7231 4.3.1, RFC 9110
		// 9.3.1), and after the 101 every byte is a frame: the body would be read as one.
		return http.StatusBadRequest, "a WebSocket upgrade request must not have a body", nil
	case req.Header("Host") == "":
		return http.StatusBadRequest, "missing Host header", nil
	case !req.HasToken("Connection", "upgrade"):
		return http.StatusBadRequest, "missing Connection: Upgrade", nil
	case req.Header("Sec-WebSocket-Version") != "13":
		return http.StatusUpgradeRequired, "unsupported WebSocket version; this server speaks 13",
			[]field{{"Sec-WebSocket-Version", "13"}}
	case !validKey(req.Header("Sec-WebSocket-Key")):
		return http.StatusBadRequest, "missing or malformed Sec-WebSocket-Key", nil
	}
	return 0, "", nil
}

// validKey checks that key is the base64 encoding of 16 bytes.
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var dst [18]byte
	n, err := base64.StdEncoding.Decode(dst[:], []byte(key))
	return err == nil && n == 16
}

// selectSubprotocol picks the first protocol the client offers (in its order) that the route supports.
func selectSubprotocol(req *http1.Request, supported []string) string {
	if len(supported) == 0 {
		return ""
	}
	for _, v := range req.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			for _, s := range supported {
				if p == s {
					return s
				}
			}
		}
	}
	return ""
}

const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey computes Sec-WebSocket-Accept for key.
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(websocketGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// accept queues the 101 answer.
func (c *Conn) accept(key, proto string, extra []field) {
	buf := c.loop.app.bufs.Get()
	b := append(buf.B, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"...)
	b = appendField(b, "Sec-WebSocket-Accept", acceptKey(key))
	if proto != "" {
		b = appendField(b, "Sec-WebSocket-Protocol", proto)
	}
	for _, f := range extra {
		b = appendField(b, f.name, f.value)
	}
	buf.B = append(b, "\r\n"...)
	_ = c.sendRaw(buf, itemData)
}

// handshakeTimeout ends a connection whose request did not arrive in time: 408 when a request was
// started, a silent close for an idle keep-alive connection.
func (c *Conn) handshakeTimeout() {
	if c.hs != nil && c.deferredTimeout() {
		return
	}
	if c.gc.InboundBuffered() > 0 || (c.hs != nil && c.hs.busy()) {
		c.httpError(http.StatusRequestTimeout, "request not completed in time")
		return
	}
	c.closeTCP()
}

// runHTTPHandler calls a plain route's handler and answers for it when it did not.
func (c *Conn) runHTTPHandler(rt *route, ctx *Context) {
	err := c.callHTTP(rt, ctx)
	if ctx.responded {
		if err != nil {
			c.loop.app.cfg.Logger.Warn("handler error after response", "route", rt.pattern, "err", err)
		}
		return
	}
	if err == nil {
		_ = ctx.noContent(http.StatusNoContent)
		return
	}
	var he *HTTPError
	if errors.As(err, &he) {
		_ = ctx.String(he.Status, he.Message+"\n")
		return
	}
	c.loop.app.cfg.Logger.Error("handler error", "route", rt.pattern, "err", err)
	_ = ctx.String(http.StatusInternalServerError, "internal server error\n")
}
