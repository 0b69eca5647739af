package engine

import (
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
)

// BenchmarkFanout publishes to one room of M members connected over loopback (raw reader goroutines
// in this process) and waits until every member has read every message. Each op is one broadcast; it
// reports deliveries per second and wall nanoseconds per delivery (server and readers share the cores).
// allocs/op is per broadcast, server and readers together (the readers allocate nothing).
func BenchmarkFanout(b *testing.B) {
	for _, m := range []int{100, 1000} {
		b.Run(fmt.Sprintf("members=%d", m), func(b *testing.B) { benchFanout(b, m) })
	}
}

func benchFanout(b *testing.B, members int) {
	app, addr := startApp(b, Config{Loops: runtime.NumCPU()}, func(a *App) {
		a.Route("/r", Handlers{Open: func(ws *Conn, ctx *Context) { _ = ws.Join("bench") }})
	})
	payload := make([]byte, 64)
	frameLen := len(frame.AppendFrame(nil, frame.Header{Fin: true, Op: frame.OpBinary}, payload))
	conns := make([]net.Conn, members)
	for i := range conns {
		conns[i] = dialConn(b, addr, "/r", "")
	}
	for app.Count("bench") < members {
		time.Sleep(time.Millisecond)
	}
	var received atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go readFrames(c, frameLen, &received, &wg)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		_ = app.Publish("bench", NewMessage(frame.OpBinary, payload), nil)
		for received.Load() < int64(i+1-64)*int64(members) { // at most 64 broadcasts in flight
			time.Sleep(10 * time.Microsecond)
		}
	}
	for received.Load() < int64(b.N)*int64(members) {
		time.Sleep(10 * time.Microsecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	deliveries := float64(b.N) * float64(members)
	b.ReportMetric(deliveries/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/deliveries, "ns/delivery")
	for _, c := range conns {
		_ = c.Close()
	}
	wg.Wait()
}

// readFrames counts fixed-size frames until the connection closes.
func readFrames(c net.Conn, size int, n *atomic.Int64, wg *sync.WaitGroup) {
	defer wg.Done()
	buf := make([]byte, 64<<10)
	pending := 0
	for {
		k, err := c.Read(buf)
		if err != nil {
			return
		}
		pending += k
		n.Add(int64(pending / size))
		pending %= size
	}
}
