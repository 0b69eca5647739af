package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// A silent peer is pinged every PingInterval from the start of its silence and closed IdleTimeout after
// its last inbound byte, whatever the phase of the server's timers when it fell silent. A raw client
// (it answers nothing) echoes for a while, then sends nothing; the times of the pings and of the close
// are measured from just before its last write, which the server cannot have received earlier: a ping
// or close before its time is impossible, and the bounds after it are half a PingInterval (500 ms or
// more), far above timer precision (50 ms) and scheduling noise.
func TestHeartbeatIdleFromLastByte(t *testing.T) {
	_, addr := startApp(t, Config{}, func(a *App) {
		echo := func(ws *Conn, m Message) { _ = ws.Send(m) }
		a.Route("/short", Handlers{Message: echo,
			Options: RouteOptions{PingInterval: 2 * time.Second, IdleTimeout: time.Second}})
		a.Route("/pings", Handlers{Message: echo,
			Options: RouteOptions{PingInterval: time.Second, IdleTimeout: 2500 * time.Millisecond}})
	})
	cases := []struct {
		path        string
		ping, idle  time.Duration
		pings       int
		activeFor   time.Duration
		activeEvery time.Duration
	}{
		// IdleTimeout under PingInterval: closed without a ping, after 1 s (not at the next 2 s check).
		{"/short", 2 * time.Second, time.Second, 0, 1300 * time.Millisecond, 90 * time.Millisecond},
		// Pings 1 s and 2 s into the silence, the close 2.5 s into it.
		{"/pings", time.Second, 2500 * time.Millisecond, 2, 1700 * time.Millisecond, 130 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.path[1:], func(t *testing.T) {
			t.Parallel()
			r := wstest.Dial(t, addr, tc.path)
			r.Timeout = 10 * time.Second
			last := hbChatter(t, r, tc.activeFor, tc.activeEvery)
			var pings []time.Duration
			for {
				h, p, err := r.ReadFrame()
				at := time.Since(last)
				if err != nil {
					t.Fatalf("silent client: read after pings at %v: %v", pings, err)
				}
				if h.Op == frame.OpPing {
					pings = append(pings, at)
					continue
				}
				code, reason, _ := frame.ParseClose(p)
				if h.Op != frame.OpClose || code != frame.CloseGoingAway || string(reason) != "idle timeout" {
					t.Fatalf("silent client: %v frame %q, want pings then 1001 \"idle timeout\"", h.Op, p)
				}
				t.Logf("pings at %v, close at %v after the last byte (ping %v, idle %v)", pings, at,
					tc.ping, tc.idle)
				if at < tc.idle || at >= tc.idle+tc.ping/2 {
					t.Errorf("closed %v after the last byte, want IdleTimeout %v (at most %v more)", at,
						tc.idle, tc.ping/2)
				}
				break
			}
			if len(pings) != tc.pings {
				t.Fatalf("%d pings (at %v) during the silence, want %d", len(pings), pings, tc.pings)
			}
			for i, at := range pings {
				want := time.Duration(i+1) * tc.ping
				if at < want || at >= want+tc.ping/2 {
					t.Errorf("ping %d came %v after the last byte, want %v (at most %v more)", i+1, at, want,
						tc.ping/2)
				}
			}
			r.CloseHandshake(frame.CloseGoingAway)
		})
	}
}

// hbChatter echoes a message every `every` for `d` and returns the time just before its last write.
func hbChatter(t *testing.T, r *wstest.Raw, d, every time.Duration) time.Time {
	t.Helper()
	var last time.Time
	for i, end := 0, time.Now().Add(d); ; i++ {
		msg := []byte(fmt.Sprintf("chat %d", i))
		last = time.Now()
		r.Send(true, frame.OpText, msg)
		r.ExpectMessage(frame.OpText, msg) // pings the server may send meanwhile are skipped
		if time.Now().After(end) {
			return last
		}
		time.Sleep(every)
	}
}
