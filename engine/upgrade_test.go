package engine

import (
	"cmp"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// sampleKey and sampleAccept are the example of RFC 6455 section 1.3.
const (
	sampleKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// upgradeLines returns the lines of a valid upgrade request for path, with the header lines named
// in drop left out and extra appended.
func upgradeLines(method, path, version string, drop []string, extra ...string) string {
	lines := []string{method + " " + path + " " + version}
	for _, l := range []string{
		"Host: example.test", "Upgrade: websocket", "Connection: Upgrade",
		"Sec-WebSocket-Key: " + sampleKey, "Sec-WebSocket-Version: 13",
	} {
		name, _, _ := strings.Cut(l, ":")
		keep := true
		for _, d := range drop {
			keep = keep && !strings.EqualFold(d, name)
		}
		if keep {
			lines = append(lines, l)
		}
	}
	return wstest.Request(append(lines, extra...)...)
}

// expectUpgraded checks a 101 answer and returns its Sec-WebSocket-Protocol.
func expectUpgraded(t *testing.T, resp *http.Response) string {
	t.Helper()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != sampleAccept {
		t.Fatalf("Sec-WebSocket-Accept %q, want %q", got, sampleAccept)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		!strings.EqualFold(resp.Header.Get("Connection"), "upgrade") {
		t.Fatalf("Upgrade %q, Connection %q", resp.Header.Get("Upgrade"), resp.Header.Get("Connection"))
	}
	return resp.Header.Get("Sec-WebSocket-Protocol")
}

// upgradeStatus performs an upgrade with extra header lines on a new connection and returns the status.
func upgradeStatus(t *testing.T, addr, path string, extra ...string) int {
	t.Helper()
	r := wstest.DialRaw(t, addr)
	return r.Upgrade(path, extra...).StatusCode
}

func TestUpgradeAcceptKey(t *testing.T) {
	_, addr := startApp(t, Config{}, echoRoute)
	r := wstest.DialRaw(t, addr)
	if proto := expectUpgraded(t, r.Upgrade("/echo")); proto != "" {
		t.Fatalf("Sec-WebSocket-Protocol %q without any offer", proto)
	}
	r.Send(true, frame.OpText, []byte("after the handshake"))
	r.ExpectMessage(frame.OpText, []byte("after the handshake"))
}

func TestUpgradeRejected(t *testing.T) {
	_, addr := startApp(t, Config{}, echoRoute)
	get, v11 := "GET", "HTTP/1.1"
	cases := []struct {
		name   string
		req    string
		status int
		hdr    [2]string // a header the answer must carry
	}{
		{"missing key", upgradeLines(get, "/echo", v11, []string{"Sec-WebSocket-Key"}), 400, [2]string{}},
		{"short key", upgradeLines(get, "/echo", v11, []string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: abc"), 400, [2]string{}},
		{"key of 15 bytes", upgradeLines(get, "/echo", v11, []string{"Sec-WebSocket-Key"},
			"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA"), 400, [2]string{}},
		{"key not base64", upgradeLines(get, "/echo", v11, []string{"Sec-WebSocket-Key"},
			"Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!=="), 400, [2]string{}},
		{"version 8", upgradeLines(get, "/echo", v11, []string{"Sec-WebSocket-Version"}, "Sec-WebSocket-Version: 8"),
			426, [2]string{"Sec-WebSocket-Version", "13"}},
		{"no Connection: Upgrade", upgradeLines(get, "/echo", v11, []string{"Connection"}, "Connection: keep-alive"), 400, [2]string{}},
		{"POST", upgradeLines("POST", "/echo", v11, nil), 405, [2]string{"Allow", "GET"}},
		{"HTTP/1.0", upgradeLines(get, "/echo", "HTTP/1.0", nil), 400, [2]string{}},
		{"missing Host", upgradeLines(get, "/echo", v11, []string{"Host"}), 400, [2]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := expectRawError(t, addr, tc.req, tc.status)
			if tc.hdr[0] != "" && resp.Header.Get(tc.hdr[0]) != tc.hdr[1] {
				t.Fatalf("%s: %q, want %q", tc.hdr[0], resp.Header.Get(tc.hdr[0]), tc.hdr[1])
			}
			if resp.Header.Get("Sec-WebSocket-Accept") != "" {
				t.Fatal("a refused upgrade carries Sec-WebSocket-Accept")
			}
		})
	}
}

func TestUpgradeAfterKeepAliveRequest(t *testing.T) {
	_, addr := startApp(t, Config{}, func(a *App) {
		a.WS("/echo", echoOpen)
		a.GET("/plain", func(ctx *Context) error { return ctx.String(http.StatusOK, "plain") })
	})
	r := wstest.DialRaw(t, addr)
	req := []byte(wstest.Request("GET /plain HTTP/1.1", "Host: example.test") + wstest.UpgradeRequest("/echo"))
	r.Write(append(req, wstest.Frame(true, frame.OpText, []byte("same connection"))...))
	if resp := r.ReadResponse(); resp.StatusCode != http.StatusOK || rawBody(t, resp) != "plain" {
		t.Fatalf("plain request before the upgrade: %d", resp.StatusCode)
	}
	expectUpgraded(t, r.ReadResponse())
	r.ExpectMessage(frame.OpText, []byte("same connection"))
}

// The handshake deadline ends with the upgrade: an open WebSocket outlives HandshakeTimeout.
func TestUpgradeDisarmsHandshakeTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	_, addr := startApp(t, Config{HandshakeTimeout: timeout}, echoRoute)
	r := wstest.Dial(t, addr, "/echo")
	time.Sleep(5 * timeout) // several handshake deadlines; the connection must not notice
	r.Send(true, frame.OpText, []byte("still open"))
	r.ExpectMessage(frame.OpText, []byte("still open"))
}

// Header names and tokens are case-insensitive, and Connection may list other options (Firefox sends
// "keep-alive, Upgrade").
func TestUpgradeHeaderSpelling(t *testing.T) {
	_, addr := startApp(t, Config{}, echoRoute)
	r := wstest.DialRaw(t, addr)
	r.Write([]byte(wstest.Request("GET /echo HTTP/1.1", "host: example.test", "UPGRADE: WebSocket",
		"connection: keep-alive, upgrade", "sec-websocket-key:   "+sampleKey+"  ", "SEC-WEBSOCKET-VERSION: 13")))
	expectUpgraded(t, r.ReadResponse())
	r.Send(true, frame.OpBinary, []byte{0})
	r.ExpectMessage(frame.OpBinary, []byte{0})
}

func TestUpgradeUnknownPath(t *testing.T) {
	_, addr := startApp(t, Config{}, echoRoute)
	if got := upgradeStatus(t, addr, "/other"); got != http.StatusNotFound {
		t.Fatalf("upgrade to an unknown path: %d, want 404", got)
	}
}

func TestUpgradeDefaultOriginCheck(t *testing.T) {
	_, addr := startApp(t, Config{}, echoRoute)
	cases := []struct {
		origin []string
		status int
	}{
		{[]string{"Origin: http://example.test"}, http.StatusSwitchingProtocols},
		{[]string{"Origin: https://EXAMPLE.test"}, http.StatusSwitchingProtocols},
		{nil, http.StatusSwitchingProtocols},
		{[]string{"Origin: http://evil.test"}, http.StatusForbidden},
		{[]string{"Origin: http://example.test:8080"}, http.StatusForbidden},
		{[]string{"Origin: null"}, http.StatusForbidden},
	}
	for _, tc := range cases {
		if got := upgradeStatus(t, addr, "/echo", tc.origin...); got != tc.status {
			t.Fatalf("%q: status %d, want %d", tc.origin, got, tc.status)
		}
	}
}

func TestUpgradeRouteCheckOrigin(t *testing.T) {
	_, addr := startApp(t, Config{}, func(a *App) {
		a.Route("/echo", Handlers{Open: echoOpen, Options: RouteOptions{CheckOrigin: func(ctx *Context) bool {
			return ctx.Header("Origin") == "https://good.test"
		}}})
		a.WS("/default", echoOpen)
	})
	cases := []struct {
		path, origin string
		status       int
	}{
		{"/echo", "Origin: https://good.test", http.StatusSwitchingProtocols},
		{"/echo", "Origin: http://example.test", http.StatusForbidden},
		{"/echo", "Origin: https://evil.test", http.StatusForbidden},
		{"/default", "Origin: https://good.test", http.StatusForbidden},
		{"/default", "Origin: http://example.test", http.StatusSwitchingProtocols},
	}
	for _, tc := range cases {
		if got := upgradeStatus(t, addr, tc.path, tc.origin); got != tc.status {
			t.Fatalf("%s %q: status %d, want %d", tc.path, tc.origin, got, tc.status)
		}
	}
}

func TestUpgradeSubprotocol(t *testing.T) {
	chosen := make(chan string, 8)
	_, addr := startApp(t, Config{}, func(a *App) {
		a.Route("/p", Handlers{Open: func(ws *Conn, ctx *Context) { chosen <- ws.Subprotocol() }, Options: RouteOptions{Subprotocols: []string{"a", "b"}}})
		a.Route("/req", Handlers{Open: func(ws *Conn, ctx *Context) { chosen <- ws.Subprotocol() }, Options: RouteOptions{Subprotocols: []string{"a", "b"}, RequireSubprotocol: true}})
	})
	cases := []struct {
		path  string
		offer []string
		want  string // "" = no header; "!" = refused with 400
	}{
		{"/p", []string{"Sec-WebSocket-Protocol: b, a"}, "b"},
		{"/p", []string{"Sec-WebSocket-Protocol: c,a"}, "a"},
		{"/p", []string{"Sec-WebSocket-Protocol: c", "Sec-WebSocket-Protocol: b"}, "b"},
		{"/p", []string{"Sec-WebSocket-Protocol: c"}, ""},
		{"/p", nil, ""},
		{"/req", nil, "!"},
		{"/req", []string{"Sec-WebSocket-Protocol: c"}, "!"},
		{"/req", []string{"Sec-WebSocket-Protocol: b"}, "b"},
	}
	for _, tc := range cases {
		r := wstest.DialRaw(t, addr)
		resp := r.Upgrade(tc.path, tc.offer...)
		if tc.want == "!" {
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s %q: status %d, want 400", tc.path, tc.offer, resp.StatusCode)
			}
			continue
		}
		if got := expectUpgraded(t, resp); got != tc.want {
			t.Fatalf("%s %q: Sec-WebSocket-Protocol %q, want %q", tc.path, tc.offer, got, tc.want)
		}
		if got := <-chosen; got != tc.want {
			t.Fatalf("%s %q: ws.Subprotocol() %q, want %q", tc.path, tc.offer, got, tc.want)
		}
	}
}

func TestUpgradeWithFirstFrameInSameWrite(t *testing.T) {
	_, addr := startApp(t, Config{}, echoRoute)
	r := wstest.DialRaw(t, addr)
	req := []byte(wstest.UpgradeRequest("/echo"))
	req = append(req, wstest.Frame(true, frame.OpText, []byte("early"))...)
	req = append(req, wstest.Frame(true, frame.OpBinary, []byte{1, 2, 3})...)
	r.Write(req)
	expectUpgraded(t, r.ReadResponse())
	r.ExpectMessage(frame.OpText, []byte("early"))
	r.ExpectMessage(frame.OpBinary, []byte{1, 2, 3})
}

// openSeen is what the open handler saw of its Context.
type openSeen struct {
	param, query, queryDef, queryEmpty, header, remote, method, path, route string
	ctxDuringOpen                                                           bool
}

func TestUpgradeContextInOpen(t *testing.T) {
	seen := make(chan openSeen, 1)
	_, addr := startApp(t, Config{}, func(a *App) {
		a.WS("/rooms/:room", func(ws *Conn, ctx *Context) {
			seen <- openSeen{
				param: ctx.Param("room"), query: ctx.Query("q"), queryDef: cmp.Or(ctx.Query("missing"), "def"),
				queryEmpty: cmp.Or(ctx.Query("e"), "fallback"), header: ctx.Header("x-test"),
				remote: ctx.RemoteAddr().String(), method: ctx.Method(), path: ctx.Path(), route: ctx.rt.pattern,
				ctxDuringOpen: ws.Context() == ctx,
			}
			ws.OnMessage(func(m Message) { _ = ws.Send(contextState(ws)) })
		})
	})
	r := wstest.DialRaw(t, addr)
	expectUpgraded(t, r.Upgrade("/rooms/a%20b?q=hello%20world&e=", "X-Test: value"))
	got := <-seen
	want := openSeen{
		param: "a b", query: "hello world", queryDef: "def", queryEmpty: "fallback", header: "value",
		remote: r.Conn.LocalAddr().String(), method: "GET", path: "/rooms/a%20b", route: "/rooms/:room",
		ctxDuringOpen: true,
	}
	if got != want {
		t.Fatalf("open saw\n%+v\nwant\n%+v", got, want)
	}
	r.Send(true, frame.OpText, []byte("?"))
	r.ExpectMessage(frame.OpText, []byte("ctx room=a b"))
}

// contextState describes ws.Context() for the ReleaseContext tests.
func contextState(ws *Conn) string {
	ctx := ws.Context()
	if ctx == nil {
		return "nil"
	}
	return "ctx room=" + ctx.Param("room")
}

func TestUpgradeReleaseContext(t *testing.T) {
	during := make(chan string, 2)
	_, addr := startApp(t, Config{}, func(a *App) {
		open := func(ws *Conn, ctx *Context) {
			during <- contextState(ws)
			ws.OnMessage(func(m Message) { _ = ws.Send(contextState(ws)) })
		}
		a.Route("/rel/:room", Handlers{Open: open, Options: RouteOptions{ReleaseContext: true}})
		a.Route("/relproto/:room", Handlers{Open: open, Options: RouteOptions{ReleaseContext: true, Subprotocols: []string{"p"}}})
	})
	for _, path := range []string{"/rel/x", "/relproto/x"} {
		t.Run(path, func(t *testing.T) {
			r := wstest.DialRaw(t, addr)
			expectUpgraded(t, r.Upgrade(path, "Sec-WebSocket-Protocol: p"))
			r.Send(true, frame.OpText, []byte("?"))
			r.ExpectMessage(frame.OpText, []byte("nil")) // released once Open returned
			if got := <-during; got != "ctx room=x" {
				t.Fatalf("ws.Context() during Open = %s, want the upgrade Context (released only after Open)", got)
			}
		})
	}
}
