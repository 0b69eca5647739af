package engine

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// hbClosed is a close handler report, tagged with the ?id= of the connection's upgrade request.
type hbClosed struct {
	id   string
	info CloseInfo
}

// hbServer is an echo route with PingInterval 100 ms and IdleTimeout 300 ms that reports closes and
// counts the pongs of the connection with id "gorilla".
func hbServer(t *testing.T) (string, <-chan hbClosed, *atomic.Int64) {
	closed := make(chan hbClosed, 8)
	var pongs atomic.Int64
	cfg := Config{PingInterval: 100 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}
	_, addr := startApp(t, cfg, func(a *App) {
		a.Route("/hb", Handlers{
			Open:    func(ws *Conn, ctx *Context) { ws.SetData(ctx.Query("id")) },
			Message: func(ws *Conn, m Message) { _ = ws.Send(m) },
			Pong: func(ws *Conn, _ []byte) {
				if ws.Data() == "gorilla" {
					pongs.Add(1)
				}
			},
			Close: func(ws *Conn, info CloseInfo) { closed <- hbClosed{ws.Data().(string), info} },
		})
	})
	return addr, closed, &pongs
}

// hbPingsThenClose reads frames until a close frame and returns how many pings came before it.
// A data frame fails the test.
func hbPingsThenClose(t *testing.T, r *wstest.Raw) (pings int, code frame.CloseCode, reason string) {
	t.Helper()
	for {
		h, p, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("silent client: read after %d pings: %v", pings, err)
		}
		switch h.Op {
		case frame.OpPing:
			pings++
		case frame.OpClose:
			code, why, err := frame.ParseClose(p)
			if err != nil {
				t.Fatalf("close payload %q: %v", p, err)
			}
			return pings, code, string(why)
		default:
			t.Fatalf("silent client: unexpected %v frame %q", h.Op, p)
		}
	}
}

// A client that never answers pings gets pinged, then closed with 1001 "idle timeout" (close handler:
// ErrIdleTimeout). A gorilla client, which answers pings while it reads but sends nothing else, stays
// open over many intervals; an echoing client is untouched.
func TestHeartbeatUnansweredPings(t *testing.T) {
	addr, closed, pongs := hbServer(t)
	k := ptKeep(t, addr, "/hb?id=keeper", nil)
	idle := newPTClient(t, addr, "/hb?id=gorilla", nil)
	silent := wstest.Dial(t, addr, "/hb?id=silent")

	pings, code, reason := hbPingsThenClose(t, silent)
	if pings < 1 || code != frame.CloseGoingAway || reason != "idle timeout" {
		t.Fatalf("silent client: %d pings then close %d %q, want pings then 1001 \"idle timeout\"", pings, code, reason)
	}
	k.progress(t, "when the silent client was closed")
	silent.CloseHandshake(frame.CloseGoingAway)
	c := recv(t, closed, "the silent client's close handler")
	if c.id != "silent" || !errors.Is(c.info.Err, ErrIdleTimeout) {
		t.Fatalf("close handler: %q %+v, want the silent client with Err ErrIdleTimeout", c.id, c.info)
	}

	// Four pongs span at least four idle timeouts for a connection that sends nothing else.
	poll(t, "four pongs from the idle gorilla client", func() bool { return pongs.Load() >= 4 })
	select {
	case m := <-idle.in:
		t.Fatalf("idle gorilla client got %+v, want nothing (still open)", m)
	default:
	}
	if err := idle.roundTrip("still here"); err != nil {
		t.Fatalf("idle gorilla client after %d pongs: %v", pongs.Load(), err)
	}
	k.progress(t, "after the idle intervals")
	k.finish(t)
	idle.closeNormally(t)
	for range 2 {
		if c := recv(t, closed, "close handlers"); c.info.Err != nil || c.info.Code != frame.CloseNormal {
			t.Fatalf("close handler of %q: %+v, want a clean 1000", c.id, c.info)
		}
	}
}

// A route can turn pings and the idle timeout off: its silent connection gets no ping and is not
// closed across four of the App's idle timeouts, while an echoing client of another route carries on.
func TestHeartbeatRouteOverride(t *testing.T) {
	closed := make(chan CloseInfo, 1)
	cfg := Config{PingInterval: 100 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}
	_, addr := startApp(t, cfg, func(a *App) {
		echoRoute(a)
		a.Route("/quiet", Handlers{
			Message: func(ws *Conn, m Message) { _ = ws.Send(m) },
			Close:   func(ws *Conn, info CloseInfo) { closed <- info },
			Options: RouteOptions{PingInterval: -1, IdleTimeout: -1},
		})
	})
	k := ptKeep(t, addr, "/echo", nil)
	quiet := wstest.Dial(t, addr, "/quiet")
	time.Sleep(4 * 300 * time.Millisecond) // four of the App's idle timeouts pass in silence
	k.progress(t, "while the quiet client is silent")
	quiet.Send(true, frame.OpText, []byte("no pings, no timeout"))
	h, p, err := quiet.ReadFrame() // no ping may come first
	if err != nil || h.Op != frame.OpText || string(p) != "no pings, no timeout" {
		t.Fatalf("quiet route: %v %q %v, want the echo and no ping before it", h.Op, p, err)
	}
	select {
	case info := <-closed:
		t.Fatalf("quiet route connection closed: %+v", info)
	default:
	}
	k.finish(t)
}

// PingInterval is the ping cadence even when IdleTimeout is much longer (ping 100 ms, idle 1 s, the
// usual "ping under the proxy's timeout, give up much later" setup): Config.PingInterval promises a
// ping one interval after a connection's last inbound byte, so a client that only answers pings is
// pinged again one interval after each pong. The server's own idle clock measures
// the time: a silent client opened at the same moment is closed after IdleTimeout (20 ticks), by
// which the pong-answering client must have been pinged several times (spec: at least 4; asserted: 3).
func TestHeartbeatPingsEveryInterval(t *testing.T) {
	var pongs atomic.Int64
	cfg := Config{PingInterval: 100 * time.Millisecond, IdleTimeout: time.Second}
	_, addr := startApp(t, cfg, func(a *App) {
		echoRoute(a)
		a.Route("/hb", Handlers{
			Open:    func(ws *Conn, ctx *Context) { ws.SetData(ctx.Query("id")) },
			Message: func(ws *Conn, m Message) { _ = ws.Send(m) },
			Pong: func(ws *Conn, _ []byte) {
				if ws.Data() == "gorilla" {
					pongs.Add(1)
				}
			},
		})
	})
	k := ptKeep(t, addr, "/echo", nil)
	idle := newPTClient(t, addr, "/hb?id=gorilla", nil)
	silent := wstest.Dial(t, addr, "/hb?id=silent")
	pings, code, reason := hbPingsThenClose(t, silent)
	answered := pongs.Load()
	if code != frame.CloseGoingAway || reason != "idle timeout" {
		t.Fatalf("silent client: close %d %q, want 1001 \"idle timeout\"", code, reason)
	}
	t.Logf("within one IdleTimeout: %d pings to the silent client, %d pongs from the answering one", pings, answered)
	if answered < 3 {
		t.Errorf("the pong-answering client was pinged %d times during one IdleTimeout (10 PingIntervals); "+
			"want a ping one interval after each pong (at least 3)", answered)
	}
	silent.CloseHandshake(frame.CloseGoingAway)
	if err := idle.roundTrip("still open"); err != nil {
		t.Fatal(err)
	}
	k.finish(t)
}
