package engine

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// Tests of the protections against bad clients (issue 5). Every test runs a well-behaved client
// (ptKeeper) next to the bad one and checks that it keeps echoing while the bad input is handled and
// after it. This file holds the shared helpers, the handshake attacks and the rate limits.

// ptMsg is one message (or the final read error) a ptClient received.
type ptMsg struct {
	typ  int
	data []byte
	err  error
}

// ptClient is a well-behaved gorilla client: a reader goroutine hands its messages to in, and
// answers pings automatically (gorilla's default ping handler) as it reads.
type ptClient struct {
	c    *websocket.Conn
	in   chan ptMsg
	stop chan struct{}
	done chan struct{} // closed when the reader goroutine has returned
}

// newPTClient connects a ptClient to path (dialGorilla); local, when set, is the source address.
func newPTClient(t testing.TB, addr, path string, local net.IP) *ptClient {
	t.Helper()
	c, _ := dialGorilla(t, addr, path, gorillaOpts{Local: local})
	p := &ptClient{c: c, in: make(chan ptMsg, 4096), stop: make(chan struct{}), done: make(chan struct{})}
	go p.read()
	t.Cleanup(func() {
		close(p.stop)
		_ = c.Close()
		<-p.done
	})
	return p
}

func (p *ptClient) read() {
	defer close(p.done)
	for {
		typ, data, err := p.c.ReadMessage()
		select {
		case p.in <- ptMsg{typ, data, err}:
		case <-p.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// next waits for the next message (or read error). ok is false after 5 s without one.
func (p *ptClient) next(wait time.Duration) (ptMsg, bool) {
	select {
	case m := <-p.in:
		return m, true
	case <-time.After(wait):
		return ptMsg{}, false
	}
}

// roundTrip sends msg as text and waits for its echo; any other message is an error. Usable from any
// single goroutine (it never calls t).
func (p *ptClient) roundTrip(msg string) error {
	_ = p.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := p.c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		return fmt.Errorf("write %q: %w", msg, err)
	}
	m, ok := p.next(5 * time.Second)
	switch {
	case !ok:
		return fmt.Errorf("no echo of %q within 5 s", msg)
	case m.err != nil:
		return fmt.Errorf("waiting for the echo of %q: %w", msg, m.err)
	case m.typ != websocket.TextMessage || string(m.data) != msg:
		return fmt.Errorf("echo of %q: got type %d %q", msg, m.typ, m.data)
	}
	return nil
}

// closeNormally runs the closing handshake from the client side and expects the server's 1000.
func (p *ptClient) closeNormally(t testing.TB) {
	t.Helper()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	if err := p.c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second)); err != nil {
		t.Fatalf("well-behaved client: close: %v", err)
	}
	m, ok := p.next(5 * time.Second)
	if !ok || !websocket.IsCloseError(m.err, websocket.CloseNormalClosure) {
		t.Fatalf("well-behaved client: after its close: %+v (arrived %v), want the server's close 1000", m, ok)
	}
}

// ptKeeper is a well-behaved client that echoes continuously in the background.
type ptKeeper struct {
	cl   *ptClient
	n    atomic.Int64 // completed round trips
	stop chan struct{}
	done chan struct{}
	once sync.Once
	err  error // why the loop ended early; read after done
}

// ptKeep connects a keeper to an echo route and starts its loop. The test's cleanup stops it.
func ptKeep(t testing.TB, addr, path string, local net.IP) *ptKeeper {
	t.Helper()
	k := &ptKeeper{cl: newPTClient(t, addr, path, local), stop: make(chan struct{}), done: make(chan struct{})}
	go k.run()
	t.Cleanup(k.halt)
	return k
}

func (k *ptKeeper) run() {
	defer close(k.done)
	for i := 0; ; i++ {
		if err := k.cl.roundTrip(fmt.Sprintf("keep %d", i)); err != nil {
			k.err = err
			return
		}
		k.n.Add(1)
		select {
		case <-k.stop:
			return
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (k *ptKeeper) halt() {
	k.once.Do(func() { close(k.stop) })
	<-k.done
}

// progress waits until the keeper has completed three more round trips; it fails the test when the
// keeper stopped (an echo failed) or made no progress within 10 s.
func (k *ptKeeper) progress(t testing.TB, when string) {
	t.Helper()
	start := k.n.Load()
	deadline := time.Now().Add(10 * time.Second)
	for k.n.Load() < start+3 {
		select {
		case <-k.done:
			t.Fatalf("%s: the well-behaved client stopped echoing: %v", when, k.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the well-behaved client made no progress in 10 s", when)
		}
		time.Sleep(time.Millisecond)
	}
}

// finish stops the keeper's loop, checks that it never failed, echoes once more and closes cleanly.
func (k *ptKeeper) finish(t testing.TB) {
	t.Helper()
	k.halt()
	if k.err != nil {
		t.Fatalf("the well-behaved client failed after %d echoes: %v", k.n.Load(), k.err)
	}
	if err := k.cl.roundTrip("last"); err != nil {
		t.Fatalf("the well-behaved client after the attack: %v", err)
	}
	k.cl.closeNormally(t)
}

// ptStats reads the App's counters.
func ptStats(app *App) Stats {
	return app.Stats()
}

// ptTrickle writes req to every connection one byte at a time: the first byte at once, then one every
// 100 ms, until stop is closed or req is exhausted. Write errors (the server closed) are ignored.
func ptTrickle(conns []net.Conn, req []byte, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for i := range req {
		for _, c := range conns {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write(req[i : i+1])
		}
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Slowloris: requests trickled a byte per 100 ms never finish within HandshakeTimeout (300 ms): each
// gets 408 and is closed; a socket that sends nothing is closed silently.
func TestSlowlorisHandshake(t *testing.T) {
	app, addr := startApp(t, Config{HandshakeTimeout: 300 * time.Millisecond}, echoRoute)
	k := ptKeep(t, addr, "/echo", nil)
	quiet := wstest.DialRaw(t, addr)
	slow := make([]*wstest.Raw, 5)
	conns := make([]net.Conn, len(slow))
	for i := range slow {
		slow[i] = wstest.DialRaw(t, addr)
		conns[i] = slow[i].Conn
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go ptTrickle(conns, []byte(wstest.UpgradeRequest("/echo")), stop, done)
	defer func() { close(stop); <-done }()

	k.progress(t, "while requests trickle in")
	for i, r := range slow {
		resp := r.ReadResponse()
		if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
			t.Fatalf("trickling client %d: status %d (Connection: close %v), want 408 and close", i, resp.StatusCode, resp.Close)
		}
		expectClosedAfter(t, r)
	}
	expectClosedAfter(t, quiet) // silent: not a byte, just EOF
	k.progress(t, "after the slow clients were dropped")
	if got := ptStats(app).Rejected[RejectTimeout]; got != uint64(len(slow)) {
		t.Errorf("Stats.Rejected[timeout] = %d, want %d (the silent socket is not a rejected request)", got, len(slow))
	}
	k.finish(t)
}

// Slow body (R.U.D.Y.) and a slow second request on a keep-alive connection: the request still has
// to be complete within HandshakeTimeout, so both get 408 and a close.
func TestSlowlorisBodyAndKeepAlive(t *testing.T) {
	_, addr := startApp(t, Config{HandshakeTimeout: 300 * time.Millisecond}, func(a *App) {
		echoRoute(a)
		a.POST("/upload", func(ctx *Context) error { return ctx.String(http.StatusOK, "got it") })
		a.GET("/hello", func(ctx *Context) error { return ctx.String(http.StatusOK, "hello") })
	})
	k := ptKeep(t, addr, "/echo", nil)
	body := wstest.DialRaw(t, addr)
	body.Write([]byte(wstest.Request("POST /upload HTTP/1.1", "Host: t", "Content-Length: 100")))
	kept := wstest.DialRaw(t, addr)
	kept.Write([]byte(wstest.Request("GET /hello HTTP/1.1", "Host: t")))
	if resp := kept.ReadResponse(); resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("first request: %d, Connection: close %v; want 200 kept alive", resp.StatusCode, resp.Close)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go ptTrickle([]net.Conn{body.Conn}, bytes.Repeat([]byte("b"), 100), stop, done)
	stop2, done2 := make(chan struct{}), make(chan struct{})
	go ptTrickle([]net.Conn{kept.Conn}, []byte(wstest.Request("GET /hello HTTP/1.1", "Host: t")), stop2, done2)
	defer func() { close(stop); close(stop2); <-done; <-done2 }()
	k.progress(t, "while the slow clients trickle")
	for name, r := range map[string]*wstest.Raw{"slow body": body, "slow keep-alive request": kept} {
		if resp := r.ReadResponse(); resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
			t.Fatalf("%s: status %d (Connection: close %v), want 408 and close", name, resp.StatusCode, resp.Close)
		}
		expectClosedAfter(t, r)
	}
	k.finish(t)
}

// Header flood: 100 KiB of headers against MaxHeaderBytes 1 KiB get 431 and a close; the server never
// buffers the flood.
func TestFloodHeaders(t *testing.T) {
	app, addr := startApp(t, Config{MaxHeaderBytes: 1 << 10}, echoRoute)
	k := ptKeep(t, addr, "/echo", nil)
	var flood strings.Builder
	for i := 0; flood.Len() < 100<<10; i++ {
		fmt.Fprintf(&flood, "X-Flood-%d: %s\r\n", i, strings.Repeat("f", 1000))
	}
	req := strings.TrimSuffix(wstest.UpgradeRequest("/echo"), "\r\n") + flood.String() + "\r\n"
	r := wstest.DialRaw(t, addr)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		_ = r.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = r.Conn.Write([]byte(req)) // the server may close before it has all of it
	}()
	resp := r.ReadResponse()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !resp.Close {
		t.Fatalf("header flood: status %d (Connection: close %v), want 431 and close", resp.StatusCode, resp.Close)
	}
	expectClosedAfter(t, r)
	<-wrote
	k.progress(t, "after the header flood")
	if got := ptStats(app).Rejected[RejectTooLarge]; got != 1 {
		t.Errorf("Stats.Rejected[too_large] = %d, want 1", got)
	}
	k.finish(t)
}

// ptRateLimitedEvent is the error event a drop-action RateLimit sends.
const ptRateLimitedEvent = `{"type":"error","error":"rate limited"}`

// ptFlood writes n masked text frames "f0".."f<n-1>" in one write, under gorilla's nose (nothing
// else writes on the connection meanwhile).
func ptFlood(t *testing.T, p *ptClient, n int) {
	t.Helper()
	var b []byte
	for i := range n {
		b = append(b, wstest.Frame(true, frame.OpText, fmt.Appendf(nil, "f%d", i))...)
	}
	_ = p.c.UnderlyingConn().SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := p.c.UnderlyingConn().Write(b); err != nil {
		t.Fatal(err)
	}
}

// Rate limit, drop action: of 200 messages sent at once with a burst of 10, ten are echoed, the
// client is told "rate limited" and stays connected; once tokens refill it is served again.
func TestProtectRateLimitDrop(t *testing.T) {
	limit := &RateLimit{Messages: 10, Burst: 10}
	app, addr := startApp(t, Config{}, func(a *App) {
		echoRoute(a)
		a.Route("/limited", Handlers{Open: echoOpen, Options: RouteOptions{RateLimit: limit}})
	})
	k := ptKeep(t, addr, "/echo", nil)
	polite := newPTClient(t, addr, "/limited", nil) // same route, own bucket
	flooder := newPTClient(t, addr, "/limited", nil)
	ptFlood(t, flooder, 200)
	poll(t, "190 messages refused", func() bool { return ptStats(app).RateLimited >= 190 })
	k.progress(t, "after the flood")
	for i := range 3 {
		if err := polite.roundTrip(fmt.Sprintf("polite %d", i)); err != nil {
			t.Fatalf("a client under the limit on the same route: %v", err)
		}
	}
	echoes, notices := ptUntilServed(t, flooder)
	if want := []string{"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9"}; !equalStrings(echoes, want) {
		t.Fatalf("echoes of the flood: %q, want %q", echoes, want)
	}
	if notices < 1 {
		t.Fatal(`no {"type":"error","error":"rate limited"} event`)
	}
	k.finish(t)
	flooder.closeNormally(t)
}

// ptUntilServed sends "again" every 250 ms until one is echoed (tokens refilled), and returns the
// echoes of the flood and the number of rate-limited events that arrived before. Any other message,
// or a close, fails the test.
func ptUntilServed(t *testing.T, p *ptClient) (echoes []string, notices int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := p.c.WriteMessage(websocket.TextMessage, []byte("again")); err != nil {
			t.Fatalf("flooder: write: %v", err)
		}
		for {
			m, ok := p.next(250 * time.Millisecond)
			if !ok {
				break
			}
			switch s := string(m.data); {
			case m.err != nil:
				t.Fatalf("the rate-limited client was disconnected: %v", m.err)
			case s == "again":
				return echoes, notices
			case s == ptRateLimitedEvent:
				notices++
			case strings.HasPrefix(s, "f"):
				echoes = append(echoes, s)
			default:
				t.Fatalf("unexpected message %q", s)
			}
		}
	}
	t.Fatal("the rate-limited client was not served again within 10 s")
	return nil, 0
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}

// Rate limit, close action: the 11th message of a burst closes the connection with 1008 "rate
// limited"; the close handler sees ErrRateLimited. Another client of the route is untouched.
func TestProtectRateLimitClose(t *testing.T) {
	closed := make(chan CloseInfo, 1)
	limit := &RateLimit{Messages: 10, Burst: 10, Close: true}
	_, addr := startApp(t, Config{}, func(a *App) {
		echoRoute(a)
		a.Route("/strict", Handlers{
			Open:    func(ws *Conn, ctx *Context) { ws.SetData(ctx.Query("who")) },
			Message: func(ws *Conn, m Message) { _ = ws.Send(m) },
			Close: func(ws *Conn, info CloseInfo) {
				if ws.Data() == "flooder" {
					closed <- info
				}
			},
			Options: RouteOptions{RateLimit: limit},
		})
	})
	k := ptKeep(t, addr, "/echo", nil)
	polite := newPTClient(t, addr, "/strict?who=polite", nil)
	r := wstest.Dial(t, addr, "/strict?who=flooder")
	var b []byte
	for i := range 200 {
		b = append(b, wstest.Frame(true, frame.OpText, fmt.Appendf(nil, "f%d", i))...)
	}
	r.Write(b)
	for i := range 10 {
		r.ExpectMessage(frame.OpText, fmt.Appendf(nil, "f%d", i))
	}
	code, reason, err := r.ReadClose()
	if err != nil || code != frame.ClosePolicyViolation || reason != "rate limited" {
		t.Fatalf("after the burst: close %d %q (%v), want 1008 \"rate limited\"", code, reason, err)
	}
	r.CloseHandshake(frame.ClosePolicyViolation)
	info := recv(t, closed, "the flooder's close handler")
	if !errors.Is(info.Err, ErrRateLimited) || info.Code != frame.ClosePolicyViolation {
		t.Fatalf("close handler: %+v, want code 1008 and Err ErrRateLimited", info)
	}
	k.progress(t, "after the flooder was closed")
	for i := range 5 {
		if err := polite.roundTrip(fmt.Sprintf("polite %d", i)); err != nil {
			t.Fatalf("a client under the limit on the same route: %v", err)
		}
	}
	k.finish(t)
}

// Rate limit on bytes: a 1000-byte bucket serves three 300-byte messages, refuses the next two (one
// error event) and still serves a 1-byte message.
func TestProtectRateLimitBytes(t *testing.T) {
	limit := &RateLimit{Bytes: 1000, BytesBurst: 1000}
	_, addr := startApp(t, Config{}, func(a *App) {
		echoRoute(a)
		a.Route("/bytes", Handlers{Open: echoOpen, Options: RouteOptions{RateLimit: limit}})
	})
	k := ptKeep(t, addr, "/echo", nil)
	r := wstest.Dial(t, addr, "/bytes")
	var b []byte
	for i := range 5 {
		b = append(b, wstest.Frame(true, frame.OpBinary, bytes.Repeat([]byte{byte(i)}, 300))...)
	}
	r.Write(append(b, wstest.Frame(true, frame.OpText, []byte("m"))...))
	for i := range 3 {
		r.ExpectMessage(frame.OpBinary, bytes.Repeat([]byte{byte(i)}, 300))
	}
	r.ExpectMessage(frame.OpText, []byte(ptRateLimitedEvent))
	r.ExpectMessage(frame.OpText, []byte("m"))
	k.progress(t, "after the byte flood")
	k.finish(t)
}

// Rate limit per event type (seed-style ws.On handlers): "chat" events are capped at a burst of 5;
// other events and plain messages of the same connection pass.
func TestProtectRateLimitEvents(t *testing.T) {
	limit := &RateLimit{Events: map[string]Rate{"chat": {PerSecond: 5, Burst: 5}}}
	_, addr := startApp(t, Config{}, func(a *App) {
		echoRoute(a)
		a.Route("/events", Handlers{Open: func(ws *Conn, ctx *Context) {
			ws.On("chat", func(e Event) { _ = ws.Send("chat ok") })
			ws.On("other", func(e Event) { _ = ws.Send("other ok") })
			ws.OnMessage(func(m Message) { _ = ws.Send(m) })
		}, Options: RouteOptions{RateLimit: limit}})
	})
	k := ptKeep(t, addr, "/echo", nil)
	r := wstest.Dial(t, addr, "/events")
	var b []byte
	for range 20 {
		b = append(b, wstest.Frame(true, frame.OpText, []byte(`{"type":"chat"}`))...)
	}
	b = append(b, wstest.Frame(true, frame.OpText, []byte(`{"type":"other"}`))...)
	r.Write(append(b, wstest.Frame(true, frame.OpText, []byte("plain"))...))
	for range 5 {
		r.ExpectMessage(frame.OpText, []byte("chat ok"))
	}
	r.ExpectMessage(frame.OpText, []byte(ptRateLimitedEvent))
	r.ExpectMessage(frame.OpText, []byte("other ok"))
	r.ExpectMessage(frame.OpText, []byte("plain"))
	k.progress(t, "after the event flood")
	k.finish(t)
}
