package engine

import (
	"io"
	"net"
	"strings"
	"testing"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// The allocation tests pin the design targets "0 allocations per echoed message" and "0 per
// broadcast recipient" (DESIGN.md) in the test suite. sync.Pool drops items at random under -race, so
// they skip there; `make test` runs them in a separate pass without -race (make allocs).

func skipUnderRace(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race; `make allocs` runs this test without it")
	}
}

// TestEchoAllocs: a full round trip through the event loop (raw client: prebuilt frame, fixed buffer)
// allocates nothing, for text and binary, small and past the direct-write threshold.
func TestEchoAllocs(t *testing.T) {
	skipUnderRace(t)
	_, addr := startApp(t, Config{Loops: 1}, func(a *App) {
		a.Route("/echo", Handlers{Message: func(ws *Conn, m Message) { _ = ws.Send(m) }})
	})
	c := dialConn(t, addr, "/echo", "")
	for _, size := range []int{16, 1024, 20 << 10} {
		payload := []byte(strings.Repeat("x", size))
		req := wstest.Frame(true, frame.OpText, payload)
		got := make([]byte, len(frame.AppendFrame(nil, frame.Header{Fin: true, Op: frame.OpText}, payload)))
		roundTrip := func() {
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
		}
		for range 200 {
			roundTrip() // warm the pools
		}
		if n := testing.AllocsPerRun(2000, roundTrip); n != 0 {
			t.Errorf("echo of %d bytes: %v allocations per message, want 0", size, n)
		}
	}
}

// TestBroadcastAllocs: App.Publish to a room allocates nothing per recipient: a publication to 64
// members on two loops costs as many allocations as one to 2 members on the same loops (what remains
// is per publication: boxing the value, one task per woken loop in gnet).
func TestBroadcastAllocs(t *testing.T) {
	skipUnderRace(t)
	app, addr := startApp(t, Config{History: HistoryOptions{Size: -1}}, func(a *App) {
		a.Route("/r/:room", Handlers{Open: func(ws *Conn, ctx *Context) { _ = ws.Join(ctx.Param("room")) }})
	})
	perPublication := func(room string, members int) float64 {
		conns := make([]net.Conn, members)
		for i := range conns {
			conns[i] = dialConn(t, addr, "/r/"+room, "")
			defer conns[i].Close()
		}
		poll(t, "members joined", func() bool { return app.LocalCount(room) == members })
		msg := strings.Repeat("m", 100)
		got := make([]byte, 2+len(msg))
		publish := func() {
			if err := app.Publish(room, msg, nil); err != nil {
				t.Fatal(err)
			}
			for _, c := range conns {
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatal(err)
				}
			}
		}
		for range 200 {
			publish()
		}
		return testing.AllocsPerRun(1000, publish)
	}
	few, many := perPublication("few", 2), perPublication("many", 64)
	t.Logf("allocations per publication: %v to 2 members, %v to 64", few, many)
	if many > few {
		t.Errorf("%v allocations per publication to 64 members, %v to 2: want no allocation per recipient", many, few)
	}
}
