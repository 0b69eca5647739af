package engine

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/goccy/go-json"
)

// errResponded is returned by response methods called twice.
var errResponded = errors.New("engine: response already written")

// SetHeader adds a response header for the response the handler is about to write (CR and LF are
// removed from name and value). Call it from the handler, or from any goroutine after Defer.
func (c *Context) SetHeader(name, value string) {
	c.respHdr = append(c.respHdr, field{stripCRLF(name), stripCRLF(value)})
}

// JSON answers status with v encoded as JSON (goccy/go-json). Call it from the handler, or from any
// goroutine after Defer.
func (c *Context) JSON(status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Blob(status, "application/json", b)
}

// String answers status with s as text/plain. Call it from the handler, or from any goroutine after
// Defer.
func (c *Context) String(status int, s string) error {
	return c.Blob(status, "text/plain; charset=utf-8", []byte(s))
}

// Blob answers status with body of the given content type. The body is copied. Call it from the
// handler, or from any goroutine after Defer.
func (c *Context) Blob(status int, contentType string, body []byte) error {
	if c.def != nil {
		return c.answerDeferred(status, contentType, body)
	}
	if c.responded {
		return errResponded
	}
	c.responded = true
	c.conn.writeResponse(response{
		status:    status,
		ctype:     contentType,
		body:      body,
		hdr:       c.respHdr,
		keepAlive: c.req.KeepAlive && !c.conn.closeAfterRequest(),
		http10:    c.req.Minor == 0,
		head:      c.req.Method == http.MethodHead,
	})
	return nil
}

// noContent answers status with no body.
func (c *Context) noContent(status int) error { return c.Blob(status, "", nil) }

type response struct {
	status    int
	ctype     string
	body      []byte
	hdr       []field
	keepAlive bool
	http10    bool // an HTTP/1.0 client keeps the connection only when told so
	head      bool // HEAD: headers as for GET, no body
}

// writeResponse queues an HTTP/1.1 response. On-loop only.
func (c *Conn) writeResponse(r response) {
	buf := c.loop.app.bufs.Get()
	b := append(buf.B, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(r.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(r.status)...)
	b = append(b, "\r\n"...)
	for _, f := range r.hdr {
		b = appendField(b, f.name, f.value)
	}
	if r.ctype != "" {
		b = appendField(b, "Content-Type", r.ctype)
	}
	if r.status >= 200 && r.status != http.StatusNoContent && r.status != http.StatusNotModified {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(r.body)), 10)
		b = append(b, "\r\n"...)
	}
	switch {
	case !r.keepAlive:
		b = append(b, "Connection: close\r\n"...)
	case r.http10:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	if !r.head {
		b = append(b, r.body...)
	}
	buf.B = b
	kind := itemData
	if !r.keepAlive {
		kind = itemLast
		if c.hs != nil {
			c.hs.last = true
		}
	}
	_ = c.sendRaw(buf, kind)
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// reject counts a refused request and tells Config.OnReject. On-loop only.
func (c *Conn) reject(status int) {
	reason := rejectReasonOf(status)
	c.loop.stats.rejected[reason].Add(1)
	if fn := c.loop.app.cfg.OnReject; fn != nil {
		path := ""
		if c.hs != nil && c.hs.ctx != nil {
			path = c.hs.ctx.req.Path
		}
		fn(reason, status, c.gc.RemoteAddr(), path)
	}
}

func stripCRLF(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return strings.NewReplacer("\r", "", "\n", "").Replace(s)
	}
	return s
}

// httpError answers a request the server rejects, with a short text body, and closes the connection
// after it. On-loop only.
func (c *Conn) httpError(status int, msg string, hdr ...field) {
	c.reject(status)
	c.writeResponse(response{
		status: status,
		ctype:  "text/plain; charset=utf-8",
		body:   []byte(msg + "\n"),
		hdr:    hdr,
	})
}
