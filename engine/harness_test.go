package engine

// The engine tests' harness, shared by package engine and, through export_test.go, package engine_test:
// one App starter and one family of dialers (a TCP socket, an upgraded unbuffered net.Conn, a
// wstest.Raw client, gorilla/websocket, coder/websocket), each failing the test on error and closing
// its client when the test ends. The dialers a goroutine other than the test's may call return the
// error instead (upgradeConn, gorillaConnect, coderConnect).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"

	"github.com/openspeed/wsd/internal/wstest"
)

// harnessWait bounds the harness's dials, handshakes and recv: an upper bound for a hang, never a
// timing assertion.
const harnessWait = 20 * time.Second

// discardLogger is the engine tests' logger: nothing is printed (handler panics and engine errors are
// asserted through handlers and Stats, not logs).
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// startApp starts an App with cfg (Loops defaults to 2, Logger to discardLogger) after register (nil:
// none) added its routes, listening on 127.0.0.1:0, and shuts it down when the test ends (a failed or
// late Shutdown fails the test). It returns the App and its address.
func startApp(t testing.TB, cfg Config, register func(a *App)) (*App, string) {
	t.Helper()
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	app := New(cfg)
	if register != nil {
		register(app)
	}
	if err := app.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := app.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return app, app.Addr().String()
}

// echoOpen makes a connection echo every data message with its opcode.
func echoOpen(ws *Conn, _ *Context) {
	ws.OnMessage(func(m Message) { _ = ws.Send(m) })
}

// echoRoute registers echoOpen on /echo.
func echoRoute(a *App) { a.WS("/echo", echoOpen) }

// poll waits up to 10 s for cond, failing the test with what when it does not hold by then.
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recv receives one value from ch, failing the test after harnessWait.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(harnessWait):
		t.Fatalf("timed out waiting for %s", what)
	}
	panic("unreachable")
}

// report hands v to a test through ch without ever blocking (an event loop calls it): when ch is full
// the value is dropped.
func report[T any](ch chan<- T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// dialTCP opens a TCP connection to addr from local (nil: any address), closed when the test ends.
func dialTCP(t testing.TB, addr string, local net.IP) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: harnessWait}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %v: %v", addr, local, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// dialConn is an upgraded connection to path with nothing buffered, for clients that must not
// allocate (benchmarks, allocation tests): it reads the answer byte by byte, so the next read returns
// the server's first frame. offer, when set, is a Sec-WebSocket-Extensions offer the answer must
// accept. Closed when the test ends.
func dialConn(t testing.TB, addr, path, offer string) net.Conn {
	t.Helper()
	c, err := upgradeConn(addr, path, offer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// upgradeConn is dialConn returning the error, for goroutines that may not fail the test; the caller
// closes the connection.
func upgradeConn(addr, path, offer string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, harnessWait)
	if err != nil {
		return nil, err
	}
	var extra []string
	if offer != "" {
		extra = append(extra, "Sec-WebSocket-Extensions: "+offer)
	}
	if _, err := c.Write([]byte(wstest.UpgradeRequest(path, extra...))); err != nil {
		_ = c.Close()
		return nil, err
	}
	var resp []byte
	one := make([]byte, 1)
	for !bytes.HasSuffix(resp, []byte("\r\n\r\n")) {
		if _, err := io.ReadFull(c, one); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("upgrade %s: reading the answer: %w", path, err)
		}
		resp = append(resp, one[0])
	}
	switch {
	case !bytes.HasPrefix(resp, []byte("HTTP/1.1 101 ")):
		err = fmt.Errorf("upgrade %s: answer\n%s", path, resp)
	case offer != "" && !bytes.Contains(resp, []byte("permessage-deflate")):
		err = fmt.Errorf("upgrade %s: no permessage-deflate in the answer:\n%s", path, resp)
	}
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// dialRaw completes a handshake on path with a wstest.Raw client that offers each non-empty offer as a
// Sec-WebSocket-Extensions line; it fails the test unless the answer is 101 with at most one
// Sec-WebSocket-Extensions line, and returns the client and that line ("" when none). Closed when the
// test ends (wstest.DialRaw).
func dialRaw(t testing.TB, addr, path string, offers ...string) (*wstest.Raw, string) {
	t.Helper()
	r := wstest.DialRaw(t, addr)
	var extra []string
	for _, o := range offers {
		if o != "" {
			extra = append(extra, "Sec-WebSocket-Extensions: "+o)
		}
	}
	resp := r.Upgrade(path, extra...)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade %s: status %d", path, resp.StatusCode)
	}
	ans := resp.Header.Values("Sec-WebSocket-Extensions")
	if len(ans) > 1 {
		t.Fatalf("%d Sec-WebSocket-Extensions answers %q, want at most one", len(ans), ans)
	}
	return r, strings.Join(ans, "")
}

// dialDeflate is dialRaw offering offer ("" none) that also fails the test unless the answer is want;
// it returns the client with the codec that answer implies (nil when none was agreed).
func dialDeflate(t testing.TB, addr, path, offer, want string) (*wstest.Raw, *wstest.Deflate) {
	t.Helper()
	r, ans := dialRaw(t, addr, path, offer)
	if ans != want {
		t.Fatalf("%s offering %q: answer %q, want %q", path, offer, ans, want)
	}
	return r, deflateCodec(ans)
}

// deflateCodec is the client codec for a permessage-deflate answer: each direction keeps its context
// unless the answer says *_no_context_takeover. nil for no answer.
func deflateCodec(ans string) *wstest.Deflate {
	if ans == "" {
		return nil
	}
	return wstest.NewDeflate(!strings.Contains(ans, "client_no_context_takeover"),
		!strings.Contains(ans, "server_no_context_takeover"))
}

// gorillaOpts are the options of a gorilla dial; the zero value is a default client.
type gorillaOpts struct {
	Dialer    *websocket.Dialer // copied; nil: default buffer sizes. A zero HandshakeTimeout becomes harnessWait
	Header    http.Header       // extra request headers
	Protocols []string          // subprotocols offered (when set, replaces the Dialer's)
	Local     net.IP            // source address (nil: any); replaces the Dialer's NetDialContext
}

// dialGorilla connects a gorilla/websocket client to path, closed when the test ends. It returns the
// client and the handshake's answer.
func dialGorilla(t testing.TB, addr, path string, o gorillaOpts) (*websocket.Conn, *http.Response) {
	t.Helper()
	c, resp, err := gorillaConnect(addr, path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, resp
}

// gorillaConnect is dialGorilla returning the error, for goroutines that may not fail the test; the
// caller closes the client.
func gorillaConnect(addr, path string, o gorillaOpts) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{}
	if o.Dialer != nil {
		d = *o.Dialer
	}
	if d.HandshakeTimeout == 0 {
		d.HandshakeTimeout = harnessWait
	}
	if o.Protocols != nil {
		d.Subprotocols = o.Protocols
	}
	if o.Local != nil {
		d.NetDialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: o.Local}, Timeout: harnessWait}).DialContext
	}
	c, resp, err := d.Dial("ws://"+addr+path, o.Header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, resp, fmt.Errorf("gorilla dial %s (from %v, protocols %q): %w (status %d)", path, o.Local, d.Subprotocols, err, status)
	}
	_ = resp.Body.Close()
	return c, resp, nil
}

// coderOpts are the options of a coder dial; the zero value is a default client.
type coderOpts struct {
	Dial      *coder.DialOptions // nil: coder's defaults
	ReadLimit int64              // the client's read limit; 0: coder's default (32 KiB)
}

// dialCoder connects a coder/websocket client to path, dropped (CloseNow) when the test ends. It
// returns the client and the handshake's answer.
func dialCoder(t testing.TB, addr, path string, o coderOpts) (*coder.Conn, *http.Response) {
	t.Helper()
	c, resp, err := coderConnect(addr, path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c, resp
}

// coderConnect is dialCoder returning the error, for callers that report it their own way; the caller
// closes the client. The handshake is bounded by harnessWait.
func coderConnect(addr, path string, o coderOpts) (*coder.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), harnessWait)
	defer cancel()
	c, resp, err := coder.Dial(ctx, "ws://"+addr+path, o.Dial)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, resp, fmt.Errorf("coder dial %s: %w", path, err)
	}
	if o.ReadLimit != 0 {
		c.SetReadLimit(o.ReadLimit)
	}
	return c, resp, nil
}
