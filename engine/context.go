package engine

import (
	"net"
	"net/url"
	"strings"

	"github.com/openspeed/wsd/engine/internal/http1"
)

// Context is one HTTP request: a plain request to a GET/POST/... route, or the upgrade request of a
// WebSocket route.
//
// Goroutines: for a plain route, the handler runs on the connection's event loop and may call every
// method; the Context is valid until the handler returns, or, after Defer, until the answer is
// written, and the answer (JSON, String, Blob) may then come from any goroutine. For a WebSocket
// route the Context is handed to the open handler and is read-only from then on: its getters are safe
// from any goroutine for as long as anything references it (Conn.Context keeps it unless
// RouteOptions.ReleaseContext is set).
type Context struct {
	req    http1.Request
	conn   *Conn
	app    *App
	rt     *route
	params []string // raw (escaped) values in rt.names order
	pbuf   [4]string
	body   []byte

	respHdr   []field
	responded bool
	def       *deferral // set by Defer
}

type field struct{ name, value string }

// HandlerFunc serves a plain HTTP route. It runs on the event loop and must not block. Returning an
// error without having written a response answers 500 with the error text (an *HTTPError chooses its
// status).
type HandlerFunc func(ctx *Context) error

// HTTPError is an error with an HTTP status, for HandlerFunc results.
type HTTPError struct {
	Status  int
	Message string
}

// Error returns Message. Safe from any goroutine.
func (e *HTTPError) Error() string { return e.Message }

// Method is the request method ("GET", "POST", ...). Goroutines: see Context.
func (c *Context) Method() string { return c.req.Method }

// Path is the request path, still percent-encoded, without the query. Goroutines: see Context.
func (c *Context) Path() string { return c.req.Path }

// Param returns the path parameter name (":room" in the pattern; "*" for the catch-all), decoded, or ""
// when the route has no such parameter. Goroutines: see Context.
func (c *Context) Param(name string) string {
	if c.rt == nil {
		return ""
	}
	for i, n := range c.rt.names {
		if n == name && i < len(c.params) {
			v := c.params[i]
			if strings.IndexByte(v, '%') >= 0 {
				if d, err := url.PathUnescape(v); err == nil {
					return d
				}
			}
			return v
		}
	}
	return ""
}

// Query returns the first value of the query parameter key, decoded, or "". Goroutines: see
// Context.
func (c *Context) Query(key string) string {
	v, _ := queryValue(c.req.RawQuery, key)
	return v
}

// RawQuery is the query string as sent, without '?'. Goroutines: see Context.
func (c *Context) RawQuery() string { return c.req.RawQuery }

// Header returns the first value of the request header name (case-insensitive), or "".
// Goroutines: see Context.
func (c *Context) Header(name string) string { return c.req.Header(name) }

// RemoteAddr is the peer's address. For a WebSocket it is the Conn's (safe from any goroutine, also
// after the close).
func (c *Context) RemoteAddr() net.Addr {
	switch {
	case c.conn == nil:
		return nil
	case c.conn.remote != nil:
		return c.conn.remote // upgraded
	}
	return c.conn.gc.RemoteAddr() // on the loop, before or without an upgrade
}

// Body is the request body of a plain route (empty for GET and for upgrades). It is valid until the
// handler returns; copy it to keep it. Call it from the handler.
func (c *Context) Body() []byte { return c.body }

// queryValue finds key in a raw query string without building a map; it decodes only what it returns.
func queryValue(raw, key string) (string, bool) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			dk, err := url.QueryUnescape(k)
			if err != nil {
				continue
			}
			k = dk
		}
		if k != key {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			dv, err := url.QueryUnescape(v)
			if err != nil {
				return "", true
			}
			v = dv
		}
		return v, true
	}
	return "", false
}
