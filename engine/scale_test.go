package engine

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// leanWS is a minimal client WebSocket for tests with thousands of connections: no goroutine and a
// small read buffer per connection, everything driven sequentially by the test.
type leanWS struct {
	c  net.Conn
	br *bufio.Reader
}

// leanDial connects (dialTCP: closed when the test ends) and writes the upgrade request for path
// followed by first (client frames, or nil) in the same write; the answers are read later
// (finishEcho, response).
func leanDial(t testing.TB, addr, path string, first []byte) *leanWS {
	t.Helper()
	c := dialTCP(t, addr, nil)
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(append([]byte(wstest.UpgradeRequest(path)), first...)); err != nil {
		t.Fatalf("upgrade %s: %v", path, err)
	}
	return &leanWS{c: c, br: bufio.NewReaderSize(c, 256)}
}

// readFrame reads one server frame (unmasked, payload up to 125 bytes is all these tests need).
func (w *leanWS) readFrame() (frame.Header, []byte, error) {
	_ = w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hb [frame.MaxHeaderSize]byte
	n := 0
	for {
		h, size, need, err := frame.ParseHeader(hb[:n])
		if err != nil {
			return h, nil, err
		}
		if size > 0 {
			if h.Masked {
				return h, nil, fmt.Errorf("masked server frame")
			}
			p := make([]byte, h.Length)
			_, err := io.ReadFull(w.br, p)
			return h, p, err
		}
		if _, err := io.ReadFull(w.br, hb[n:n+need]); err != nil {
			return h, nil, err
		}
		n += need
	}
}

// finishEcho reads the 101 answer and the echo of msg.
func (w *leanWS) finishEcho(msg string) error {
	_ = w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("upgrade status %d", resp.StatusCode)
	}
	h, p, err := w.readFrame()
	if err != nil {
		return err
	}
	if h.Op != frame.OpText || string(p) != msg {
		return fmt.Errorf("echo: %v %q, want text %q", h.Op, p, msg)
	}
	return nil
}

// openLean opens n echo connections to path in batches (dial and write a batch, then read its
// answers), so the listen backlog never holds more than one batch. Connections are closed when the
// test ends.
func openLean(t *testing.T, addr, path string, n int) []*leanWS {
	t.Helper()
	const batch = 250
	conns := make([]*leanWS, 0, n)
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		for i := start; i < end; i++ {
			conns = append(conns, leanDial(t, addr, path, wstest.Frame(true, frame.OpText, []byte(fmt.Sprint("m", i)))))
		}
		for i := start; i < end; i++ {
			if err := conns[i].finishEcho(fmt.Sprint("m", i)); err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
		}
	}
	return conns
}

// waitConnections polls int(app.Stats().Connections) until it is want or the deadline passes.
func waitConnections(t *testing.T, app *App, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for int(app.Stats().Connections) != want {
		if time.Now().After(deadline) {
			t.Fatalf("int(app.Stats().Connections) = %d, want %d", int(app.Stats().Connections), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestScaleGoroutinesFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 connections")
	}
	const n = 5000
	app, addr := startApp(t, Config{Loops: 2}, echoRoute)
	base := runtime.NumGoroutine()
	conns := openLean(t, addr, "/echo", n)
	waitConnections(t, app, n)
	grown := runtime.NumGoroutine() - base
	if grown >= 20 {
		t.Fatalf("goroutines grew by %d with %d open connections (from %d)", grown, n, base)
	}
	t.Logf("%d connections open: %d goroutines (%+d)", n, base+grown, grown)
	// Every connection is still live: a second round of echoes on a sample.
	for i := 0; i < n; i += 499 {
		w := conns[i]
		if _, err := w.c.Write(wstest.Frame(true, frame.OpBinary, []byte{byte(i)})); err != nil {
			t.Fatal(err)
		}
		if h, p, err := w.readFrame(); err != nil || h.Op != frame.OpBinary || len(p) != 1 || p[0] != byte(i) {
			t.Fatalf("connection %d second echo: %v %v %v", i, h.Op, p, err)
		}
	}
	for _, w := range conns {
		_ = w.c.Close()
	}
	waitConnections(t, app, 0)
}

func TestShutdownClosesWebSocketsGoingAway(t *testing.T) {
	const n = 500
	closed := make(chan CloseInfo, n)
	// A CloseTimeout longer than the test: every peer's close answer is waited for.
	app, addr := startApp(t, Config{Loops: 2, CloseTimeout: time.Minute}, func(a *App) {
		a.Route("/echo", Handlers{
			Message: func(ws *Conn, m Message) { _ = ws.Send(m) },
			Close:   func(ws *Conn, info CloseInfo) { closed <- info },
		})
	})
	conns := openLean(t, addr, "/echo", n)
	waitConnections(t, app, n)

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- app.Shutdown(ctx)
	}()
	for i, w := range conns {
		h, p, err := w.readFrame()
		if err != nil || h.Op != frame.OpClose || len(p) < 2 {
			t.Fatalf("connection %d: want a close frame, got %v %q %v", i, h.Op, p, err)
		}
		if code := frame.CloseCode(binary.BigEndian.Uint16(p)); code != frame.CloseGoingAway {
			t.Fatalf("connection %d: close code %d, want 1001", i, code)
		}
		// Answer the close; the server may already have dropped a slow peer, so errors are ignored.
		_, _ = w.c.Write(wstest.Frame(true, frame.OpClose, frame.AppendClose(nil, frame.CloseGoingAway, "")))
	}
	for i, w := range conns {
		_ = w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if b, err := io.ReadAll(w.br); len(b) > 0 || (err != nil && !isConnReset(err)) {
			t.Fatalf("connection %d after the closing handshake: %q %v", i, b, err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if got := int(app.Stats().Connections); got != 0 {
		t.Fatalf("Connections() = %d after Shutdown", got)
	}
	for range n {
		if info := <-closed; info.Code != frame.CloseGoingAway {
			t.Fatalf("close handler: %+v, want code 1001 (the peer's answer)", info)
		}
	}
}

func isConnReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// Shutdown closes idle keep-alive HTTP connections at once, but a request that has begun arriving is
// finished, answered with Connection: close, and then the socket is closed (as net/http does).
func TestShutdownFinishesHTTPRequestsInProgress(t *testing.T) {
	for _, tc := range [][3]string{
		{"partial header", "GET /hello/busy HTTP/1.1\r\nHost: t\r\n", "\r\n"},
		{"partial body", wstest.Request("POST /echo HTTP/1.1", "Host: t", "Content-Length: 10") + "hello", " busy"},
	} {
		t.Run(tc[0], func(t *testing.T) { shutdownDuringRequest(t, tc[1], tc[2]) })
	}
}

func shutdownDuringRequest(t *testing.T, first, rest string) {
	// One loop: once the idle connection sees EOF, Shutdown has visited every connection.
	app, addr := startApp(t, Config{Loops: 1}, registerHTTPRoutes)
	idle := wstest.DialRaw(t, addr)
	idle.Write([]byte(wstest.Request("GET /hello/idle HTTP/1.1", "Host: t")))
	expectStatus(t, idle.ReadResponse(), http.StatusOK)
	// A complete request and the start of the next in one segment: once the first is answered, the
	// server holds the partial one.
	busy := wstest.DialRaw(t, addr)
	busy.Write([]byte(wstest.Request("GET /hello/first HTTP/1.1", "Host: t") + first))
	expectStatus(t, busy.ReadResponse(), http.StatusOK)

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- app.Shutdown(ctx)
	}()
	expectClosedAfter(t, idle)
	busy.Write([]byte(rest))
	resp := busy.ReadResponse()
	if got := rawBody(t, resp); resp.StatusCode != http.StatusOK || got != "hello busy" || !resp.Close {
		t.Fatalf("request finished during Shutdown: %d %q, Connection: close %v", resp.StatusCode, got, resp.Close)
	}
	expectClosedAfter(t, busy)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
