package engine

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// acProbe hammers the accessors of one connection that Conn documents as safe from any goroutine,
// from the moment Open hands the connection out until well after it is closed.
type acProbe struct {
	ws       *Conn
	ctx      *Context // the Open handler's Context
	released bool     // the route sets ReleaseContext
	remote   string   // the peer address as the Open handler saw it
	proto    string   // the negotiated subprotocol as the Open handler saw it
	room     string
	report   func(error)
}

// run loops until the connection has been closed for afterClose iterations.
func (p *acProbe) run(afterClose int) {
	for left := afterClose; left > 0; {
		closed := p.ws.ReadyState() == StateClosed
		if err := p.check(); err != nil {
			p.report(err)
			return
		}
		if closed {
			left--
		}
		time.Sleep(100 * time.Microsecond) // the race detector needs overlap, not a busy core
	}
}

func (p *acProbe) check() error {
	state := p.ws.ReadyState()
	addr := p.ws.RemoteAddr()
	if addr == nil {
		return fmt.Errorf("RemoteAddr() is nil in state %v", state)
	}
	if got := addr.String(); got != p.remote {
		return fmt.Errorf("RemoteAddr() = %s in state %v, want %s", got, state, p.remote)
	}
	if got := p.ws.Subprotocol(); got != p.proto {
		return fmt.Errorf("Subprotocol() = %q in state %v, want %q", got, state, p.proto)
	}
	ctx := p.ws.Context()
	switch {
	case ctx == nil && !p.released:
		return fmt.Errorf("Context() is nil in state %v on a route that keeps it", state)
	case ctx != nil && ctx != p.ctx:
		return fmt.Errorf("Context() = %p in state %v, want the Open handler's %p", ctx, state, p.ctx)
	case ctx != nil:
		if ctx.Param("room") != p.room || ctx.Query("id") == "" || ctx.Header("Sec-WebSocket-Key") == "" {
			return fmt.Errorf("Context() in state %v: room %q id %q", state, ctx.Param("room"), ctx.Query("id"))
		}
		if a := ctx.RemoteAddr(); a == nil || a.String() != p.remote {
			return fmt.Errorf("Context().RemoteAddr() = %v in state %v, want %s", a, state, p.remote)
		}
	}
	_ = p.ws.Rooms()
	if room := p.ws.Room(); room != "" && room != p.room {
		return fmt.Errorf("Room() = %q, want %q or \"\"", room, p.room)
	}
	if rs := p.ws.Rooms(); len(rs) > 1 {
		return fmt.Errorf("Rooms() = %q, want at most [%q]", rs, p.room)
	}
	return nil
}

// Every accessor Conn documents as safe from any goroutine (ReadyState, RemoteAddr, Subprotocol,
// Context and what it returns, Room, Rooms) is called in a loop by a goroutine started in Open,
// while the loop opens the connection, echoes messages and closes it (client close, server close,
// abrupt TCP close), and for a while after the close: under -race this must report no data race,
// RemoteAddr must never be nil (a goroutine calling .String() on it would crash the process), and the
// answers must not change (Context stays the upgrade's Context unless the route releases it).
func TestConnAccessorsFromGoroutines(t *testing.T) {
	var (
		mu     sync.Mutex
		errs   []error
		wg     sync.WaitGroup
		closed = make(chan struct{}, 64)
	)
	report := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	open := func(released bool) func(ws *Conn, ctx *Context) {
		return func(ws *Conn, ctx *Context) {
			room := ctx.Param("room")
			_ = ws.Join(room)
			p := &acProbe{ws: ws, ctx: ctx, released: released, remote: ctx.RemoteAddr().String(),
				proto: ws.Subprotocol(), room: room, report: report}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.run(200)
			}()
			if strings.HasPrefix(ctx.Query("id"), "server-close") {
				ws.CloseWith(CloseNormal, "server says bye")
			}
		}
	}
	_, addr := startApp(t, Config{}, func(a *App) {
		a.Route("/kept/:room", Handlers{
			Open:    open(false),
			Message: func(ws *Conn, m Message) { _ = ws.Send(m) },
			Close:   func(*Conn, CloseInfo) { closed <- struct{}{} },
			Options: RouteOptions{Subprotocols: []string{"json", "chat.v2"}},
		})
		a.Route("/released/:room", Handlers{
			Open:    open(true),
			Message: func(ws *Conn, m Message) { _ = ws.Send(m) },
			Close:   func(*Conn, CloseInfo) { closed <- struct{}{} },
			Options: RouteOptions{ReleaseContext: true},
		})
	})
	conns := 0
	for _, path := range []string{"/kept/r1", "/released/r2"} {
		for i, how := range []string{"client-close", "server-close", "abrupt", "client-close", "abrupt"} {
			acSession(t, addr, fmt.Sprintf("%s?id=%s-%d", path, how, i), how)
			conns++
		}
	}
	for range conns {
		recv(t, closed, "close handlers")
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	recv(t, done, "the probes")
	for _, err := range errs {
		t.Error(err)
	}
}

// acSession runs one client: upgrade with a subprotocol offer, a few echoes, then the close named by
// how.
func acSession(t *testing.T, addr, path, how string) {
	t.Helper()
	c, resp := dialGorilla(t, addr, path, gorillaOpts{Protocols: []string{"chat.v2", "json"}})
	defer c.Close() // at return, not at cleanup: "abrupt" is this drop without a closing handshake
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got == "" {
		t.Fatalf("%s: no subprotocol selected", path)
	}
	if how == "server-close" {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("%s: %v, want the server's close 1000", path, err)
		}
		return
	}
	for i := range 20 {
		msg := fmt.Sprintf("m%d", i)
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatalf("%s: write: %v", path, err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, got, err := c.ReadMessage(); err != nil || string(got) != msg {
			t.Fatalf("%s: echo %q %v, want %q", path, got, err, msg)
		}
	}
	if how == "abrupt" {
		return // the deferred Close drops the TCP connection without a closing handshake
	}
	bye := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	_ = c.WriteControl(websocket.CloseMessage, bye, time.Now().Add(5*time.Second))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("%s: after the client's close: %v, want the server's 1000", path, err)
	}
}
