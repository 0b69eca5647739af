package engine

import (
	"bytes"
	"io"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// BenchmarkEcho measures a full round trip over loopback: a masked client frame in, the echo out,
// through the real event loops. The client side is allocation-free (prebuilt frame, fixed buffers), so
// allocs/op is the server's cost per echoed message.
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{16, 1024, 16 << 10} {
		b.Run("size="+strconv.Itoa(size), func(b *testing.B) { benchEcho(b, size) })
	}
}

func benchEcho(b *testing.B, size int) {
	_, addr := startApp(b, Config{Loops: 1}, func(a *App) {
		a.Route("/echo", Handlers{Message: func(ws *Conn, m Message) { _ = ws.Send(m) }})
	})
	payload := bytes.Repeat([]byte("x"), size)
	req := wstest.Frame(true, frame.OpBinary, payload)
	want := frame.AppendFrame(nil, frame.Header{Fin: true, Op: frame.OpBinary}, payload)
	var conns atomic.Int32
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := upgradeConn(addr, "/echo", "")
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		conns.Add(1)
		got := make([]byte, len(want))
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			if _, err := io.ReadFull(c, got); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(conns.Load()), "conns")
}
