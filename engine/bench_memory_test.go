package engine

import (
	"cmp"
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openspeed/wsd/internal/wstest"
)

// BenchmarkIdleMemory measures the Go heap the server holds per idle, upgraded connection that sits in
// one room, for the two handler styles. The clients are raw sockets made with syscalls (no Go objects),
// so the heap delta is the server's: gnet's connection, the engine's Conn and what the style adds.
// Run with -benchtime=1x; it reports heap-bytes/conn.
func BenchmarkIdleMemory(b *testing.B) {
	const conns = 2000
	styles := []struct {
		name  string
		setup func(app *App)
	}{
		{"route-style", func(app *App) {
			app.Route("/r", Handlers{
				Open:    func(ws *Conn, ctx *Context) { _ = ws.Join("room") },
				Message: func(ws *Conn, m Message) { _ = ws.Broadcast(ws.Room(), m) },
				Options: RouteOptions{ReleaseContext: true},
			})
		}},
		{"seed-style", func(app *App) {
			app.WS("/r", func(ws *Conn, ctx *Context) {
				room, user := ctx.Param("room"), cmp.Or(ctx.Query("user"), "Anonymous")
				_ = ws.Join("room")
				ws.OnMessage(func(m Message) { _ = ws.BroadcastAll(room, user+": "+m.Text()) })
				ws.On("join-room", func(e Event) { ws.Leave(room); _ = ws.Join(e.String("room")) })
				ws.OnClose(func(CloseInfo) { _ = ws.Broadcast(room, user+" left the room") })
			})
		}},
	}
	for _, st := range styles {
		b.Run(st.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.ReportMetric(idleHeapPerConn(b, st.setup, conns), "heap-bytes/conn")
			}
		})
	}
}

func idleHeapPerConn(b *testing.B, setup func(*App), n int) float64 {
	app, _ := startApp(b, Config{PingInterval: -1, IdleTimeout: -1}, setup)
	defer app.Shutdown(context.Background()) // now, not at the end of the benchmark: b.N may be over 1
	port := app.Addr().(*net.TCPAddr).Port
	before := heapInUse()
	fds := make([]int, 0, n)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	req := []byte(wstest.UpgradeRequest("/r?user=someone"))
	for i := 0; i < n; i++ {
		fds = append(fds, rawUpgrade(b, int(port), req))
	}
	for app.Count("room") < n {
		time.Sleep(time.Millisecond)
	}
	after := heapInUse()
	return float64(after-before) / float64(n)
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// rawUpgrade connects with syscalls only, sends req and reads the 101 answer.
func rawUpgrade(b *testing.B, port int, req []byte) int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		b.Fatal(err)
	}
	if _, err := unix.Write(fd, req); err != nil {
		b.Fatal(err)
	}
	var buf [512]byte
	got := 0
	for got < 4 || string(buf[got-4:got]) != "\r\n\r\n" {
		k, err := unix.Read(fd, buf[got:got+1])
		if err != nil || k == 0 {
			b.Fatalf("reading 101: %v", err)
		}
		got += k
	}
	return fd
}
