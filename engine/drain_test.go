package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// Graceful drain: every connection gets the messages queued for it before the drain, then the close
// frame; the report counts who answered and who was dropped.

const drQueued = 20 // messages published to every connection right before the drain

// drServer has /room: every connection joins room "all" and echoes. It counts close handlers by the
// code they report.
func drServer(t *testing.T, cfg Config) (*App, string, *[numCloseSlots]atomic.Int64) {
	var closes [numCloseSlots]atomic.Int64
	app, addr := startApp(t, cfg, func(a *App) {
		a.Route("/room", Handlers{
			Open:    func(ws *Conn, ctx *Context) { _ = ws.Join("all") },
			Message: func(ws *Conn, m Message) { _ = ws.Send(m) },
			Close:   func(ws *Conn, info CloseInfo) { closes[closeSlot(info.Code)].Add(1) },
		})
	})
	return app, addr, &closes
}

// drPublish queues drQueued messages to all members of room "all".
func drPublish(t *testing.T, app *App, members int) {
	t.Helper()
	for i := range drQueued {
		n := 0
		err := app.Publish("all", fmt.Sprintf("p%02d", i), func(r PublishResult) { n = r.Delivered })
		if err != nil || n != members {
			t.Fatalf("Publish %d: queued for %d (%v), want %d", i, n, err, members)
		}
	}
}

// drStartDrain runs Drain in a goroutine; the result arrives on the returned channel.
func drStartDrain(ctx context.Context, app *App, code frame.CloseCode, reason string) <-chan drResult {
	done := make(chan drResult, 1)
	go func() {
		rep, err := app.Drain(ctx, code, reason)
		done <- drResult{rep, err}
	}()
	return done
}

type drResult struct {
	rep DrainReport
	err error
}

// drReadAll reads the queued messages and the close frame of a lean connection, in order.
func drReadAll(w *leanWS, code frame.CloseCode, reason string) error {
	for i := range drQueued {
		h, p, err := w.readFrame()
		if want := fmt.Sprintf("p%02d", i); err != nil || h.Op != frame.OpText || string(p) != want {
			return fmt.Errorf("message %d: %v %q %v, want %q", i, h.Op, p, err, want)
		}
	}
	h, p, err := w.readFrame()
	if err != nil || h.Op != frame.OpClose {
		return fmt.Errorf("after the messages: %v %q %v, want close %d", h.Op, p, err, code)
	}
	if got, why, err := frame.ParseClose(p); err != nil || got != code || string(why) != reason {
		return fmt.Errorf("close %d %q (%v), want %d %q", got, why, err, code, reason)
	}
	return nil
}

// drAnswer writes the client's close frame.
func drAnswer(w *leanWS, code frame.CloseCode) {
	_ = w.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = w.c.Write(wstest.Frame(true, frame.OpClose, frame.AppendClose(nil, code, "")))
}

// drExpectEOF checks that nothing more arrives before the server closes.
func drExpectEOF(w *leanWS) error {
	_ = w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(w.br); len(b) > 0 || (err != nil && !isConnReset(err)) {
		return fmt.Errorf("after the close: %q %v, want EOF", b, err)
	}
	return nil
}

// drControl reads a gorilla client's queued messages and its close error.
func drControl(t *testing.T, p *ptClient, code int) {
	t.Helper()
	for i := range drQueued {
		m, ok := p.next(10 * time.Second)
		if want := fmt.Sprintf("p%02d", i); !ok || m.err != nil || string(m.data) != want {
			t.Fatalf("control client message %d: %q %v (arrived %v), want %q", i, m.data, m.err, ok, want)
		}
	}
	m, ok := p.next(10 * time.Second)
	if !ok || !websocket.IsCloseError(m.err, code) {
		t.Fatalf("control client after its messages: %+v, want close %d", m, code)
	}
}

// Shutdown with 5,000 WebSockets and 20 messages queued to each: every reading client gets all of its
// messages in order, then 1001; all answer, so the report counts every connection as closed.
func TestDrainDeliversQueuedMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 connections")
	}
	const n = 5000
	app, addr, closes := drServer(t, Config{Loops: 2, CloseTimeout: time.Minute})
	conns := openLean(t, addr, "/room", n)
	control := newPTClient(t, addr, "/room", nil) // a gorilla client among the lean ones
	if err := control.roundTrip("before"); err != nil {
		t.Fatal(err)
	}
	waitConnections(t, app, n+1)
	drPublish(t, app, n+1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := drStartDrain(ctx, app, CloseGoingAway, "server shutting down")
	for i, w := range conns {
		if err := drReadAll(w, CloseGoingAway, "server shutting down"); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		drAnswer(w, CloseGoingAway)
	}
	drControl(t, control, websocket.CloseGoingAway)
	for i, w := range conns {
		if err := drExpectEOF(w); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	res := recv(t, done, "Drain")
	if want := (DrainReport{Connections: n + 1, Closed: n + 1}); res.err != nil || res.rep != want {
		t.Fatalf("Drain: %+v %v, want %+v and no error", res.rep, res.err, want)
	}
	if got := closes[closeSlot(CloseGoingAway)].Load(); got != n+1 {
		t.Fatalf("close handlers with the peer's 1001: %d, want %d", got, n+1)
	}
	if int(app.Stats().Connections) != 0 {
		t.Fatalf("Connections() = %d after Drain", int(app.Stats().Connections))
	}
}

// Drain for a restart (1012) where five clients never read: the readers get their messages and 1012;
// once only the silent ones are left, the context ends the drain, which reports them as dropped and
// returns ctx.Err(). Even the silent ones find their messages and the close frame in their socket.
func TestDrainDropsClientsThatDoNotAnswer(t *testing.T) {
	const readers, silent = 500, 5
	app, addr, _ := drServer(t, Config{Loops: 2, CloseTimeout: time.Minute})
	conns := openLean(t, addr, "/room", readers+silent)
	control := newPTClient(t, addr, "/room", nil)
	if err := control.roundTrip("before"); err != nil {
		t.Fatal(err)
	}
	waitConnections(t, app, readers+silent+1)
	drPublish(t, app, readers+silent+1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := drStartDrain(ctx, app, CloseServiceRestart, "restart")
	for i, w := range conns[:readers] {
		if err := drReadAll(w, CloseServiceRestart, "restart"); err != nil {
			t.Fatalf("reader %d: %v", i, err)
		}
		drAnswer(w, CloseServiceRestart)
	}
	drControl(t, control, websocket.CloseServiceRestart)
	for i, w := range conns[:readers] {
		if err := drExpectEOF(w); err != nil {
			t.Fatalf("reader %d: %v", i, err)
		}
	}
	waitConnections(t, app, silent)
	drRefused(t, addr)
	cancel()
	res := recv(t, done, "Drain")
	want := DrainReport{Connections: readers + silent + 1, Closed: readers + 1, Dropped: silent}
	if !errors.Is(res.err, context.Canceled) || res.rep != want {
		t.Fatalf("Drain: %+v %v, want %+v and context.Canceled", res.rep, res.err, want)
	}
	for i, w := range conns[readers:] {
		if err := drReadAll(w, CloseServiceRestart, "restart"); err != nil {
			t.Fatalf("silent client %d: %v", i, err)
		}
		if err := drExpectEOF(w); err != nil {
			t.Fatalf("silent client %d: %v", i, err)
		}
	}
}

// drRefused checks that a draining server does not serve a new connection: the dial fails or the
// socket is closed without an answer.
func drRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write([]byte(wstest.UpgradeRequest("/room")))
	if b, err := io.ReadAll(c); len(b) > 0 || (err != nil && !isConnReset(err)) {
		t.Fatalf("new connection while draining: %q %v, want it closed without an answer", b, err)
	}
}

// A drain whose deadline passes while clients have not answered returns context.DeadlineExceeded and
// reports them dropped.
func TestDrainDeadline(t *testing.T) {
	const silent = 5
	app, addr, _ := drServer(t, Config{Loops: 2, CloseTimeout: time.Minute})
	conns := openLean(t, addr, "/room", silent)
	waitConnections(t, app, silent)
	drPublish(t, app, silent)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res := recv(t, drStartDrain(ctx, app, CloseGoingAway, "server shutting down"), "Drain")
	want := DrainReport{Connections: silent, Dropped: silent}
	if !errors.Is(res.err, context.DeadlineExceeded) || res.rep != want {
		t.Fatalf("Drain: %+v %v, want %+v and context.DeadlineExceeded", res.rep, res.err, want)
	}
	for i, w := range conns {
		if err := drReadAll(w, CloseGoingAway, "server shutting down"); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if err := drExpectEOF(w); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	if int(app.Stats().Connections) != 0 {
		t.Fatalf("Connections() = %d after Drain", int(app.Stats().Connections))
	}
}
