package engine

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// BenchmarkMillionState builds the engine's per-connection state for a million idle WebSockets without
// sockets: a Conn each (route-style, no per-connection closures), on its loop's timer wheel, in one of
// 1,000 rooms and on the heartbeat wheel, spread over 4 loops as a running server would hold them. It
// reports the heap per connection and the cost of a full GC at that size. gnet's own per-connection
// state (≈350 B) and the kernel's socket buffers are not included. Run with -benchtime=1x.
func BenchmarkMillionState(b *testing.B) {
	const n = 1_000_000
	for i := 0; i < b.N; i++ {
		perConn, gcPause := millionState(b, n)
		b.ReportMetric(perConn, "heap-bytes/conn")
		b.ReportMetric(float64(gcPause.Microseconds())/1000, "ms/full-GC")
	}
}

func millionState(b *testing.B, n int) (float64, time.Duration) {
	app := New(Config{Loops: 4})
	ws := app.newWSRoute("/rooms/:room", Handlers{Options: RouteOptions{ReleaseContext: true}})
	loops := make([]*loop, 4)
	for i := range loops {
		loops[i] = newLoop(app, nil, i)
	}
	app.loops.Store(&loops)
	before := heapInUse()
	conns := make([]*Conn, n)
	for i := range conns {
		l := loops[i%len(loops)]
		c := &Conn{loop: l, route: ws, tidx: -1, phase: phaseOpen, flags: flagUpgraded}
		c.state.Store(uint32(StateOpen))
		l.schedule(c, app.now()+ws.pingTicks+uint32(i%wheelSlots))
		if _, err := app.table.Join(fmt.Sprint("room-", i%1000), member{c}, ws.roomOpts); err != nil {
			b.Fatal(err)
		}
		conns[i] = c
	}
	after := heapInUse()
	start := time.Now()
	runtime.GC()
	pause := time.Since(start)
	runtime.KeepAlive(conns)
	return float64(after-before) / float64(n), pause
}
