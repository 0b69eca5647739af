package engine

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// clPings writes n pings "p0".."p<n-1>" in one write.
func clPings(r *wstest.Raw, op frame.Opcode, n int) {
	var b []byte
	for i := range n {
		b = append(b, wstest.Frame(true, op, fmt.Appendf(nil, "p%d", i))...)
	}
	r.Write(b)
}

// Pings are not messages: a burst of 300 pings on a route limited to 100 messages per second (burst
// 200, wsd's defaults) gets 300 pongs, in order, and no "rate limited" event, when the burst is within
// the control-frame limit; the message limit still applies to data messages.
func TestPingBurstNotRateLimited(t *testing.T) {
	app, addr := startApp(t, Config{}, func(a *App) {
		a.Route("/limited", Handlers{Open: echoOpen, Options: RouteOptions{RateLimit: &RateLimit{Messages: 100, Burst: 200},
			ControlLimit: Rate{PerSecond: 50, Burst: 300}}})
	})
	r := wstest.Dial(t, addr, "/limited")
	clPings(r, frame.OpPing, 300)
	for i := range 300 {
		h, p, err := r.ReadFrame()
		if want := fmt.Sprintf("p%d", i); err != nil || h.Op != frame.OpPong || string(p) != want {
			t.Fatalf("answer %d to a burst of 300 pings: %v %q %v, want pong %q", i, h.Op, p, err, want)
		}
	}
	r.Send(true, frame.OpText, []byte("after the pings"))
	r.ExpectMessage(frame.OpText, []byte("after the pings"))
	if n := ptStats(app).RateLimited; n != 0 {
		t.Errorf("Stats.RateLimited = %d after pings only, want 0", n)
	}
}

// A ping flood, or a flood of unsolicited pongs, past the control-frame limit (the default: 20 per
// second, bursts of 50) fails the connection with 1008 "control frame flood" and closes the socket;
// the close handler sees ErrControlFlood, Stats counts it, and a well-behaved client carries on.
func TestControlFloodClosed(t *testing.T) {
	closed := make(chan CloseInfo, 2)
	app, addr := startApp(t, Config{CloseTimeout: time.Minute}, func(a *App) {
		echoRoute(a)
		a.Route("/watched", Handlers{Close: func(_ *Conn, info CloseInfo) { closed <- info }})
	})
	k := ptKeep(t, addr, "/echo", nil)
	for i, op := range []frame.Opcode{frame.OpPing, frame.OpPong} {
		r := wstest.Dial(t, addr, "/watched")
		r.Timeout = 30 * time.Second
		clPings(r, op, 1000)
		pongs := 0
		for {
			h, p, err := r.ReadFrame()
			if err != nil {
				t.Fatalf("%v flood: after %d pongs: %v", op, pongs, err)
			}
			if h.Op == frame.OpPong && op == frame.OpPing {
				pongs++
				continue
			}
			code, reason, _ := frame.ParseClose(p)
			if h.Op != frame.OpClose || code != frame.ClosePolicyViolation || string(reason) != "control frame flood" {
				t.Fatalf("%v flood: %v %q after %d pongs, want 1008 \"control frame flood\"", op, h.Op, p, pongs)
			}
			break
		}
		if op == frame.OpPing && (pongs < DefaultControlBurst || pongs > 2*DefaultControlBurst) {
			t.Errorf("ping flood: %d pongs before the close, want about the burst (%d)", pongs, DefaultControlBurst)
		}
		fcExpectFIN(t, r)
		if info := recv(t, closed, "the close handler"); !errors.Is(info.Err, ErrControlFlood) {
			t.Errorf("%v flood: close handler %+v, want Err ErrControlFlood", op, info)
		}
		if n := ptStats(app).ControlFloods; n != uint64(i+1) {
			t.Errorf("after the %v flood: Stats.ControlFloods = %d, want %d", op, n, i+1)
		}
		k.progress(t, fmt.Sprintf("after the %v flood", op))
	}
	k.finish(t)
}

// A connection that only answers the server's pings needs no per-connection state for the control
// limit: a pong that comes after a second of silence is not charged, so no bucket is allocated (an
// idle connection stays as small as it was). gorilla answers pings by itself.
func TestControlLimitNoStateForKeepAlive(t *testing.T) {
	pongs := make(chan bool, 8)
	cfg := Config{PingInterval: 1100 * time.Millisecond, IdleTimeout: time.Minute}
	_, addr := startApp(t, cfg, func(a *App) {
		a.Route("/quiet", Handlers{
			Pong:    func(ws *Conn, _ []byte) { pongs <- ws.ext == nil }, // on the loop
			Options: RouteOptions{ReleaseContext: true},
		})
	})
	p := newPTClient(t, addr, "/quiet", nil)
	for i := range 2 {
		if stateless := recv(t, pongs, "a pong"); !stateless {
			t.Fatalf("pong %d: the connection holds per-connection state (a control-limit bucket)", i+1)
		}
	}
	p.closeNormally(t)
}
