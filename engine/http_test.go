package engine

import (
	"cmp"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openspeed/wsd/internal/wstest"
)

// newHTTPClient is a net/http client with its own Transport, closed when the test ends.
func newHTTPClient(t *testing.T) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

type jsonInfo struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// registerHTTPRoutes is the route table of the plain HTTP tests.
func registerHTTPRoutes(a *App) {
	a.GET("/json", func(ctx *Context) error { return ctx.JSON(http.StatusOK, jsonInfo{"wsd", 3}) })
	a.GET("/hello/:name", func(ctx *Context) error {
		return ctx.String(http.StatusOK, "hello "+ctx.Param("name")+cmp.Or(ctx.Query("suffix"), ""))
	})
	a.POST("/echo", func(ctx *Context) error {
		ctx.SetHeader("X-Body-Len", strconv.Itoa(len(ctx.Body())))
		return ctx.Blob(http.StatusOK, "application/octet-stream", ctx.Body())
	})
	a.GET("/res", func(ctx *Context) error { return ctx.String(http.StatusOK, "res") })
	a.POST("/res", func(ctx *Context) error { return ctx.String(http.StatusCreated, "created") })
	a.WS("/ws", func(ws *Conn, ctx *Context) {})
	a.GET("/teapot", func(ctx *Context) error { return &HTTPError{Status: http.StatusTeapot, Message: "x"} })
	a.GET("/fail", func(ctx *Context) error { return errors.New("boom") })
	a.GET("/panic", func(ctx *Context) error { panic("handler panic (expected by the test)") })
	a.GET("/empty", func(ctx *Context) error { return nil })
}

func httpApp(t *testing.T, cfg Config) string {
	_, addr := startApp(t, cfg, registerHTTPRoutes)
	return addr
}

// doHTTP sends a request with the net/http client and returns the response with its body read.
func doHTTP(t *testing.T, c *http.Client, method, url, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, string(b)
}

func expectStatus(t *testing.T, resp *http.Response, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d", resp.StatusCode, status)
	}
}

// rawBody reads the body of a response from wstest.Raw.
func rawBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// expectRawError sends req on a fresh connection and expects an error answer with status, followed by
// the server closing the connection. It returns the response.
func expectRawError(t *testing.T, addr, req string, status int) *http.Response {
	t.Helper()
	r := wstest.DialRaw(t, addr)
	r.Write([]byte(req))
	resp := r.ReadResponse()
	if resp.StatusCode != status {
		t.Fatalf("status %d (%q), want %d", resp.StatusCode, rawBody(t, resp), status)
	}
	if !resp.Close {
		t.Errorf("a %d answer should say Connection: close", status)
	}
	expectClosedAfter(t, r)
	return resp
}

// expectClosedAfter checks that the server closes the connection without sending anything more.
func expectClosedAfter(t *testing.T, r *wstest.Raw) {
	t.Helper()
	rest, err := r.ReadToEOF()
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) > 0 {
		t.Fatalf("unexpected bytes before EOF: %q", rest)
	}
}

func TestHTTPGetJSONAndString(t *testing.T) {
	addr := httpApp(t, Config{})
	c := newHTTPClient(t)
	resp, body := doHTTP(t, c, "GET", "http://"+addr+"/json", "")
	expectStatus(t, resp, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	if body != `{"name":"wsd","count":3}` {
		t.Fatalf("body %q", body)
	}
	resp, body = doHTTP(t, c, "GET", "http://"+addr+"/hello/w%C3%B6rld?suffix=%21", "")
	expectStatus(t, resp, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	if body != "hello wörld!" || resp.ContentLength != int64(len(body)) {
		t.Fatalf("body %q, Content-Length %d", body, resp.ContentLength)
	}
}

func TestHTTPHeadHasHeadersWithoutBody(t *testing.T) {
	addr := httpApp(t, Config{})
	resp, body := doHTTP(t, newHTTPClient(t), "HEAD", "http://"+addr+"/hello/world", "")
	expectStatus(t, resp, http.StatusOK)
	if resp.ContentLength != int64(len("hello world")) || body != "" {
		t.Fatalf("HEAD: Content-Length %d, body %q", resp.ContentLength, body)
	}
	// On one connection: a body after the HEAD answer would corrupt the next response.
	r := wstest.DialRaw(t, addr)
	r.Write([]byte(wstest.Request("HEAD /hello/world HTTP/1.1", "Host: t") +
		wstest.Request("GET /hello/again HTTP/1.1", "Host: t")))
	head := r.ReadResponseFor("HEAD")
	if head.StatusCode != http.StatusOK || head.Header.Get("Content-Length") != "11" {
		t.Fatalf("HEAD: %d, Content-Length %q", head.StatusCode, head.Header.Get("Content-Length"))
	}
	get := r.ReadResponseFor("GET")
	if got := rawBody(t, get); get.StatusCode != http.StatusOK || got != "hello again" {
		t.Fatalf("GET after HEAD: %d %q", get.StatusCode, got)
	}
}

func TestHTTPPostBody(t *testing.T) {
	addr := httpApp(t, Config{})
	payload := strings.Repeat("0123456789", 1000)
	resp, body := doHTTP(t, newHTTPClient(t), "POST", "http://"+addr+"/echo", payload)
	expectStatus(t, resp, http.StatusOK)
	if body != payload || resp.Header.Get("X-Body-Len") != "10000" {
		t.Fatalf("echoed %d bytes, X-Body-Len %q", len(body), resp.Header.Get("X-Body-Len"))
	}
}

func TestHTTPKeepAlivePipelined(t *testing.T) {
	addr := httpApp(t, Config{})
	r := wstest.DialRaw(t, addr)
	r.Write([]byte(wstest.Request("GET /hello/one HTTP/1.1", "Host: t") +
		wstest.Request("POST /echo HTTP/1.1", "Host: t", "Content-Length: 3") + "two" +
		wstest.Request("GET /hello/three HTTP/1.1", "Host: t")))
	for _, want := range []string{"hello one", "two", "hello three"} {
		resp := r.ReadResponse()
		if got := rawBody(t, resp); resp.StatusCode != http.StatusOK || got != want || resp.Close {
			t.Fatalf("got %d %q (close %v), want 200 %q", resp.StatusCode, got, resp.Close, want)
		}
	}
	r.Write([]byte(wstest.Request("GET /hello/four HTTP/1.1", "Host: t")))
	if got := rawBody(t, r.ReadResponse()); got != "hello four" {
		t.Fatalf("fourth request on the connection: %q", got)
	}
}

// A body is consumed whatever the route does with it: it is never parsed as the next request.
func TestHTTPBodyNeverParsedAsRequest(t *testing.T) {
	addr := httpApp(t, Config{})
	smuggled := wstest.Request("GET /hello/smuggled HTTP/1.1", "Host: t")
	length := "Content-Length: " + strconv.Itoa(len(smuggled))
	r := wstest.DialRaw(t, addr)
	r.Write([]byte(wstest.Request("GET /hello/a HTTP/1.1", "Host: t", length) + smuggled +
		wstest.Request("POST /nope HTTP/1.1", "Host: t", length) + smuggled +
		wstest.Request("GET /hello/b HTTP/1.1", "Host: t")))
	for _, want := range []string{"hello a", "not found\n", "hello b"} {
		if got := rawBody(t, r.ReadResponse()); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestHTTPConnectionCloseHonoured(t *testing.T) {
	addr := httpApp(t, Config{})
	r := wstest.DialRaw(t, addr)
	r.Write([]byte(wstest.Request("GET /hello/x HTTP/1.1", "Host: t", "Connection: close")))
	resp := r.ReadResponse()
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Fatalf("status %d, Connection: close in answer %v", resp.StatusCode, resp.Close)
	}
	expectClosedAfter(t, r)
}

func TestHTTP10WithoutKeepAliveCloses(t *testing.T) {
	addr := httpApp(t, Config{})
	r := wstest.DialRaw(t, addr)
	r.Write([]byte(wstest.Request("GET /hello/old HTTP/1.0")))
	resp := r.ReadResponse()
	if got := rawBody(t, resp); resp.StatusCode != http.StatusOK || got != "hello old" {
		t.Fatalf("HTTP/1.0: %d %q", resp.StatusCode, got)
	}
	expectClosedAfter(t, r)
}

// An HTTP/1.0 client asking for keep-alive only keeps the connection when the answer says
// "Connection: keep-alive" (RFC 9112 section 9.3; ApacheBench -k relies on it).
func TestHTTP10KeepAliveAnswered(t *testing.T) {
	addr := httpApp(t, Config{})
	r := wstest.DialRaw(t, addr)
	for i := range 2 {
		r.Write([]byte(wstest.Request("GET /hello/old HTTP/1.0", "Connection: keep-alive")))
		resp := r.ReadResponse()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("request %d: status %d, close %v", i, resp.StatusCode, resp.Close)
		}
		if !strings.EqualFold(resp.Header.Get("Connection"), "keep-alive") {
			t.Fatalf("request %d: answer to an HTTP/1.0 keep-alive request lacks Connection: keep-alive (%q)",
				i, resp.Header.Get("Connection"))
		}
	}
}

func TestHTTPRoutingErrors(t *testing.T) {
	addr := httpApp(t, Config{})
	c := newHTTPClient(t)
	resp, _ := doHTTP(t, c, "GET", "http://"+addr+"/nope", "")
	expectStatus(t, resp, http.StatusNotFound)

	resp, _ = doHTTP(t, c, "DELETE", "http://"+addr+"/res", "")
	expectStatus(t, resp, http.StatusMethodNotAllowed)
	if got := resp.Header.Get("Allow"); got != "GET, HEAD, POST" {
		t.Fatalf("Allow %q", got)
	}

	resp, _ = doHTTP(t, c, "GET", "http://"+addr+"/ws", "")
	expectStatus(t, resp, http.StatusUpgradeRequired)
	if got := resp.Header.Get("Upgrade"); !strings.EqualFold(got, "websocket") {
		t.Fatalf("426 without Upgrade: websocket (%q)", got)
	}
	resp, _ = doHTTP(t, c, "POST", "http://"+addr+"/ws", "x")
	expectStatus(t, resp, http.StatusMethodNotAllowed)
	if got := resp.Header.Get("Allow"); got != "GET, HEAD" {
		t.Fatalf("Allow of a WebSocket route %q", got)
	}
	// Routing errors are ordinary answers: the connection stays usable.
	resp, body := doHTTP(t, c, "POST", "http://"+addr+"/res", "x")
	expectStatus(t, resp, http.StatusCreated)
	if body != "created" {
		t.Fatalf("body %q", body)
	}
}

func TestHTTPHandlerResults(t *testing.T) {
	addr := httpApp(t, Config{})
	c := newHTTPClient(t)
	cases := []struct {
		path   string
		status int
		body   string
	}{
		{"/teapot", http.StatusTeapot, "x\n"},
		{"/fail", http.StatusInternalServerError, ""},
		{"/panic", http.StatusInternalServerError, ""},
		{"/hello/after-panic", http.StatusOK, "hello after-panic"},
		{"/empty", http.StatusNoContent, ""},
		{"/panic", http.StatusInternalServerError, ""},
		{"/json", http.StatusOK, `{"name":"wsd","count":3}`},
	}
	for _, tc := range cases {
		resp, body := doHTTP(t, c, "GET", "http://"+addr+tc.path, "")
		if resp.StatusCode != tc.status {
			t.Fatalf("%s: status %d, want %d", tc.path, resp.StatusCode, tc.status)
		}
		if tc.body != "" && body != tc.body {
			t.Fatalf("%s: body %q, want %q", tc.path, body, tc.body)
		}
		if tc.status == http.StatusNoContent && (body != "" || resp.Header.Get("Content-Length") != "") {
			t.Fatalf("204 with body %q, Content-Length %q", body, resp.Header.Get("Content-Length"))
		}
		if tc.status == http.StatusInternalServerError && strings.Contains(body, "boom") {
			t.Fatalf("500 leaks the handler's error text: %q", body)
		}
	}
	// A panic does not take the server down: a fresh connection is served too.
	resp, _ := doHTTP(t, newHTTPClient(t), "GET", "http://"+addr+"/json", "")
	expectStatus(t, resp, http.StatusOK)
}

func TestHTTPHeaderTooLarge(t *testing.T) {
	addr := httpApp(t, Config{MaxHeaderBytes: 1024})
	big := "X-Big: " + strings.Repeat("a", 2000)
	expectRawError(t, addr, wstest.Request("GET /hello/x HTTP/1.1", "Host: t", big), http.StatusRequestHeaderFieldsTooLarge)
	// Just under the cap is served.
	r := wstest.DialRaw(t, addr)
	r.Write([]byte(wstest.Request("GET /hello/x HTTP/1.1", "Host: t", "X-Pad: "+strings.Repeat("a", 900))))
	expectStatus(t, r.ReadResponse(), http.StatusOK)
}

func TestHTTPRequestLineTooLong(t *testing.T) {
	addr := httpApp(t, Config{MaxHeaderBytes: 1024})
	line := "GET /hello/" + strings.Repeat("a", 2000) + " HTTP/1.1"
	expectRawError(t, addr, wstest.Request(line, "Host: t"), http.StatusRequestURITooLong)
}

func TestHTTPMalformedRequests(t *testing.T) {
	addr := httpApp(t, Config{})
	for _, tc := range []struct{ name, req string }{
		{"garbage", wstest.Request("GARBAGE")},
		{"no version", wstest.Request("GET /hello/x", "Host: t")},
		{"extra field", wstest.Request("GET /hello/x HTTP/1.1 extra", "Host: t")},
		{"bad method", wstest.Request("G(T /hello/x HTTP/1.1", "Host: t")},
		{"bad version", wstest.Request("GET /hello/x HTTQ/1.1", "Host: t")},
		{"header no colon", wstest.Request("GET /hello/x HTTP/1.1", "Host: t", "NoColon")},
		{"missing host 1.1", wstest.Request("GET /hello/x HTTP/1.1")},
	} {
		t.Run(tc.name, func(t *testing.T) { expectRawError(t, addr, tc.req, http.StatusBadRequest) })
	}
}

func TestHTTPBodyLimits(t *testing.T) {
	addr := httpApp(t, Config{MaxBodyBytes: 100})
	over := wstest.Request("POST /echo HTTP/1.1", "Host: t", "Content-Length: 101")
	expectRawError(t, addr, over, http.StatusRequestEntityTooLarge)

	r := wstest.DialRaw(t, addr)
	r.Write([]byte(wstest.Request("POST /echo HTTP/1.1", "Host: t", "Content-Length: 100") + strings.Repeat("b", 100)))
	resp := r.ReadResponse()
	if got := rawBody(t, resp); resp.StatusCode != http.StatusOK || len(got) != 100 {
		t.Fatalf("body at the cap: %d, %d bytes", resp.StatusCode, len(got))
	}
}

func TestHTTPChunkedRefused(t *testing.T) {
	addr := httpApp(t, Config{})
	req := wstest.Request("POST /echo HTTP/1.1", "Host: t", "Transfer-Encoding: chunked")
	expectRawError(t, addr, req, http.StatusLengthRequired)
}

func TestHTTPVersion2Refused(t *testing.T) {
	addr := httpApp(t, Config{})
	expectRawError(t, addr, wstest.Request("GET /hello/x HTTP/2.0", "Host: t"), http.StatusHTTPVersionNotSupported)
}

func TestHTTPRequestByteAtATime(t *testing.T) {
	addr := httpApp(t, Config{})
	r := wstest.DialRaw(t, addr)
	r.WriteBytewise([]byte(wstest.Request("POST /echo?x=1 HTTP/1.1", "Host: t", "Content-Length: 5") + "bytes"))
	resp := r.ReadResponse()
	if got := rawBody(t, resp); resp.StatusCode != http.StatusOK || got != "bytes" {
		t.Fatalf("byte-at-a-time request: %d %q", resp.StatusCode, got)
	}
	r.WriteBytewise([]byte(wstest.Request("GET /hello/slow HTTP/1.1", "Host: t")))
	if got := rawBody(t, r.ReadResponse()); got != "hello slow" {
		t.Fatalf("second byte-at-a-time request: %q", got)
	}
}

func TestHTTPIncompleteRequestTimesOut(t *testing.T) {
	addr := httpApp(t, Config{HandshakeTimeout: 300 * time.Millisecond})
	for _, tc := range []struct{ name, partial string }{
		{"line", "GET /hel"},
		{"header", "GET /hello/x HTTP/1.1\r\nHost: t\r\n"},
		{"body", wstest.Request("POST /echo HTTP/1.1", "Host: t", "Content-Length: 10") + "abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectRawError(t, addr, tc.partial, http.StatusRequestTimeout)
		})
	}
}

func TestHTTPIdleConnectionClosedSilently(t *testing.T) {
	addr := httpApp(t, Config{HandshakeTimeout: 300 * time.Millisecond})
	t.Run("fresh", func(t *testing.T) {
		expectClosedAfter(t, wstest.DialRaw(t, addr))
	})
	t.Run("keep-alive", func(t *testing.T) {
		r := wstest.DialRaw(t, addr)
		r.Write([]byte(wstest.Request("GET /hello/x HTTP/1.1", "Host: t")))
		expectStatus(t, r.ReadResponse(), http.StatusOK)
		expectClosedAfter(t, r)
	})
}
