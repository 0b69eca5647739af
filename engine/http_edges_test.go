package engine

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/openspeed/wsd/internal/wstest"
)

// Requests pipelined after one whose answer closes the connection are not run: the handler of the
// first runs once, the client gets one answer and EOF.
func TestHTTPNothingRunsAfterConnectionClose(t *testing.T) {
	var runs atomic.Int64
	_, addr := startApp(t, Config{}, func(a *App) {
		a.GET("/count", func(ctx *Context) error {
			runs.Add(1)
			return ctx.String(http.StatusOK, "counted")
		})
	})
	for _, first := range []string{
		wstest.Request("GET /count HTTP/1.1", "Host: t", "Connection: close"),
		wstest.Request("GET /count HTTP/1.0"), // HTTP/1.0 without keep-alive closes too
	} {
		runs.Store(0)
		r := wstest.DialRaw(t, addr)
		r.Write([]byte(first + wstest.Request("GET /count HTTP/1.1", "Host: t") +
			wstest.Request("GET /count HTTP/1.1", "Host: t")))
		resp := r.ReadResponse()
		if got := rawBody(t, resp); resp.StatusCode != http.StatusOK || got != "counted" || !resp.Close {
			t.Fatalf("first answer %d %q (close %v)", resp.StatusCode, got, resp.Close)
		}
		expectClosedAfter(t, r)
		if n := runs.Load(); n != 1 {
			t.Errorf("%q: the handler ran %d times, want 1 (requests after Connection: close ran)", first[:20], n)
		}
	}
}

// An upgrade request with a body is refused with 400: after a 101 the body would be read as frames.
func TestUpgradeWithBodyRefused(t *testing.T) {
	var opened atomic.Int64
	app, addr := startApp(t, Config{}, func(a *App) {
		a.WS("/echo", func(ws *Conn, ctx *Context) { opened.Add(1); echoOpen(ws, ctx) })
	})
	get, v11 := "GET", "HTTP/1.1"
	cases := []struct{ name, req string }{
		{"Content-Length", upgradeLines(get, "/echo", v11, nil, "Content-Length: 6") + "\x81\x80abcd"},
		{"chunked", upgradeLines(get, "/echo", v11, nil, "Transfer-Encoding: chunked") + "6\r\n\x81\x80abcd\r\n0\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := app.Stats().Rejected[RejectBadRequest]
			expectRawError(t, addr, tc.req, http.StatusBadRequest)
			if got := app.Stats().Rejected[RejectBadRequest]; got != before+1 {
				t.Errorf("Rejected[bad_request] %d -> %d, want one more", before, got)
			}
		})
	}
	if n := opened.Load(); n != 0 {
		t.Errorf("%d upgrades with a body opened a WebSocket", n)
	}
	// Content-Length: 0 is no body.
	r := wstest.DialRaw(t, addr)
	r.Write([]byte(upgradeLines(get, "/echo", v11, nil, "Content-Length: 0")))
	expectUpgraded(t, r.ReadResponse())
}
