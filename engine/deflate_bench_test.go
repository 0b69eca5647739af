package engine

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// dbOffer is the benchmark clients' offer: the one browsers send (no parameters).
const dbOffer = "permessage-deflate"

// dbSmallOffer asks for a 1 KiB server window: the server compresses Huffman-only.
const dbSmallOffer = "permessage-deflate; server_max_window_bits=10"

// dbModes are the server policies benchmarked, with the client's offer ("": none). With compression the
// client, whatever the answer, sends messages compressed on their own (valid with or without client
// context takeover).
var dbModes = []struct {
	name  string
	c     Compression
	offer string
}{
	{"no-context-takeover", Compression{Enabled: true}, dbOffer},
	{"server-context-takeover", Compression{Enabled: true, ServerContextTakeover: true}, dbOffer},
	{"both-context-takeover", Compression{Enabled: true, ServerContextTakeover: true, ClientContextTakeover: true}, dbOffer},
	{"small-window", Compression{Enabled: true}, dbSmallOffer},
	{"uncompressed", Compression{}, ""}, // the baseline: no offer, plain frames
}

// BenchmarkEchoCompressed is BenchmarkEcho with permessage-deflate: the client sends a text message
// compressed once beforehand with compress/flate (so the client costs no CPU for compression), the
// server inflates it, and the echo goes back compressed (the client reads it without inflating; the
// first echo is inflated and checked). allocs/op is the server's per echoed message.
func BenchmarkEchoCompressed(b *testing.B) {
	for _, m := range dbModes {
		for _, size := range []int{1 << 10, 16 << 10} {
			b.Run(m.name+"/size="+strconv.Itoa(size), func(b *testing.B) { benchEchoCompressed(b, m.c, m.offer, size) })
		}
	}
}

func benchEchoCompressed(b *testing.B, c Compression, offer string, size int) {
	_, addr := startApp(b, Config{Loops: 1}, func(a *App) {
		a.Route("/echo", Handlers{Message: func(ws *Conn, m Message) { _ = ws.Send(m) },
			Options: RouteOptions{Compression: &c}})
	})
	msg := abTextPayload(size)
	req := wstest.Frame(true, frame.OpText, msg)
	if c.Enabled {
		req = wstest.CompressedFrames(frame.OpText, wstest.NewDeflate(false, false).Compress(msg), 0)
		dbCheckEcho(b, addr, offer, req, msg, c.ServerContextTakeover)
	}
	var conns atomic.Int32
	var wire atomic.Int64
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		nc, err := upgradeConn(addr, "/echo", offer)
		if err != nil {
			b.Error(err)
			return
		}
		defer nc.Close()
		conns.Add(1)
		br := bufio.NewReaderSize(nc, 64<<10)
		n := int64(0)
		for pb.Next() {
			if _, err := nc.Write(req); err != nil {
				b.Error(err)
				return
			}
			k, err := dbSkipFrame(br)
			if err != nil {
				b.Error(err)
				return
			}
			n += int64(k)
		}
		wire.Add(n)
	})
	b.StopTimer()
	b.ReportMetric(float64(conns.Load()), "conns")
	b.ReportMetric(float64(len(req)), "in-wire-B/msg")
	b.ReportMetric(float64(wire.Load())/float64(b.N), "out-wire-B/msg")
}

// dbCheckEcho makes one round trip with a raw client offering offer and checks the compressed echo.
func dbCheckEcho(b *testing.B, addr, offer string, req, msg []byte, serverTakeover bool) {
	r, ans := dialRaw(b, addr, "/echo", offer)
	if ans == "" {
		b.Fatalf("upgrade offering %q: no Sec-WebSocket-Extensions answer", offer)
	}
	r.Write(req)
	r.ExpectDeflated(wstest.NewDeflate(false, serverTakeover), frame.OpText, msg, true)
	_ = r.Conn.Close()
}

// dbSkipFrame reads one unmasked server frame, discarding its payload; it returns its wire size.
// It allocates nothing.
func dbSkipFrame(br *bufio.Reader) (int, error) {
	hs, n := 2, 0
	for i := 0; i < hs; i++ {
		c, err := br.ReadByte()
		switch {
		case err != nil:
			return 0, err
		case i == 1 && c&0x7f == 126:
			hs = 4
		case i == 1 && c&0x7f == 127:
			hs = 10
		case i == 1:
			n = int(c & 0x7f)
		case i > 1:
			n = n<<8 | int(c)
		}
	}
	_, err := br.Discard(n)
	return hs + n, err
}

// BenchmarkBroadcastCompressed publishes a 4 KiB text message to a room of 1 or 100 members and waits
// until every member read it, as BenchmarkFanout does. Without context takeover the server compresses
// a broadcast once for all members, so ns/op should grow with members only by the cost of writing;
// with server context takeover it compresses once per member; "small-window" members asked for a
// 1 KiB server window and share one Huffman-only encoding; "mixed" is half small-window, half
// no-context-takeover members (two encodings per broadcast); "uncompressed" members did not
// negotiate the extension. Compare ns/op across member counts; nothing is asserted.
func BenchmarkBroadcastCompressed(b *testing.B) {
	modes := []struct {
		name   string
		offers []string // member i offers offers[i%len(offers)]
	}{
		{"no-context-takeover", []string{dbOffer}}, {"server-context-takeover", []string{dbOffer}},
		{"small-window", []string{dbSmallOffer}}, {"mixed", []string{dbSmallOffer, dbOffer}},
		{"uncompressed", []string{""}},
	}
	for _, m := range modes {
		for _, members := range []int{1, 100} {
			if m.name == "mixed" && members == 1 {
				continue
			}
			b.Run(fmt.Sprintf("%s/members=%d", m.name, members), func(b *testing.B) {
				c := Compression{Enabled: m.offers[0] != "", ServerContextTakeover: m.name == "server-context-takeover"}
				benchBroadcastCompressed(b, c, m.offers, members)
			})
		}
	}
}

func benchBroadcastCompressed(b *testing.B, c Compression, offers []string, members int) {
	// No outbound bound: a member that falls behind must not have broadcasts dropped (the wait below
	// counts deliveries).
	app, addr := startApp(b, Config{MaxBackpressure: -1}, func(a *App) {
		a.Route("/r", Handlers{Open: func(ws *Conn, ctx *Context) { _ = ws.Join("bench") },
			Options: RouteOptions{Compression: &c}})
	})
	conns := make([]net.Conn, members)
	for i := range conns {
		conns[i] = dialConn(b, addr, "/r", offers[i%len(offers)])
	}
	for app.Count("bench") < members {
		time.Sleep(time.Millisecond)
	}
	var received atomic.Int64
	var wg sync.WaitGroup
	for _, nc := range conns {
		wg.Add(1)
		go dbCountFrames(nc, &received, &wg)
	}
	payload := string(abTextPayload(4 << 10))
	_ = app.Publish("bench", payload, nil) // warm up: pools, and the compressors of context takeover
	for received.Load() < int64(members) {
		time.Sleep(10 * time.Microsecond)
	}
	received.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = app.Publish("bench", payload, nil)
		for received.Load() < int64(i+1-64)*int64(members) { // at most 64 broadcasts in flight
			time.Sleep(10 * time.Microsecond)
		}
	}
	for received.Load() < int64(b.N)*int64(members) {
		time.Sleep(10 * time.Microsecond)
	}
	b.StopTimer()
	for _, nc := range conns {
		_ = nc.Close()
	}
	wg.Wait()
}

// dbCountFrames counts frames of any size until the connection closes.
func dbCountFrames(c net.Conn, n *atomic.Int64, wg *sync.WaitGroup) {
	defer wg.Done()
	br := bufio.NewReaderSize(c, 64<<10)
	for {
		if _, err := dbSkipFrame(br); err != nil {
			return
		}
		n.Add(1)
	}
}

// BenchmarkIdleMemoryCompressed is BenchmarkIdleMemory (route style, one room) with permessage-deflate
// negotiated: idle connections, connections that each had one 1 KiB message echoed compressed, and,
// with context takeover, connections that keep a compressor (server) or an inflater (client) after
// their first message. Run with -benchtime=1x; it reports heap-bytes/conn.
func BenchmarkIdleMemoryCompressed(b *testing.B) {
	cases := []struct {
		name    string
		c       Compression
		conns   int
		message bool
	}{
		{"plain/idle", Compression{}, 2000, false},
		{"no-context-takeover/idle", Compression{Enabled: true}, 2000, false},
		{"no-context-takeover/after-message", Compression{Enabled: true}, 2000, true},
		{"server-context-takeover/idle", Compression{Enabled: true, ServerContextTakeover: true}, 2000, false},
		{"server-context-takeover/after-message", Compression{Enabled: true, ServerContextTakeover: true}, 200, true},
		{"client-context-takeover/after-message", Compression{Enabled: true, ClientContextTakeover: true}, 2000, true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.ReportMetric(idleCompressedHeapPerConn(b, tc.c, tc.conns, tc.message), "heap-bytes/conn")
			}
		})
	}
}

func idleCompressedHeapPerConn(b *testing.B, c Compression, n int, message bool) float64 {
	app, _ := startApp(b, Config{PingInterval: -1, IdleTimeout: -1}, func(a *App) {
		a.Route("/r", Handlers{
			Open:    func(ws *Conn, ctx *Context) { _ = ws.Join("room") },
			Message: func(ws *Conn, m Message) { _ = ws.Send(m) },
			Options: RouteOptions{ReleaseContext: true, Compression: &c},
		})
	})
	defer app.Shutdown(context.Background()) // now, not at the end of the benchmark: b.N may be over 1
	port := app.Addr().(*net.TCPAddr).Port
	req := []byte(wstest.UpgradeRequest("/r", "Sec-WebSocket-Extensions: "+dbOffer))
	msg := wstest.CompressedFrames(frame.OpText, wstest.NewDeflate(false, false).Compress(abTextPayload(1<<10)), 0)
	before := heapInUse()
	fds := make([]int, 0, n)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for i := 0; i < n; i++ {
		fd := rawUpgrade(b, port, req)
		fds = append(fds, fd)
		if message {
			dbRawEcho(b, fd, msg)
		}
	}
	for app.Count("room") < n {
		time.Sleep(time.Millisecond)
	}
	after := heapInUse()
	return float64(after-before) / float64(n)
}

// dbRawEcho writes wire (one frame) on fd and reads one whole server frame back, with syscalls only.
func dbRawEcho(b *testing.B, fd int, wire []byte) {
	if _, err := unix.Write(fd, wire); err != nil {
		b.Fatal(err)
	}
	var buf [4 << 10]byte
	got, need := 0, 2
	for got < need {
		k, err := unix.Read(fd, buf[got:])
		if err != nil || k == 0 {
			b.Fatalf("reading the echo: %v", err)
		}
		got += k
		if got >= 2 {
			switch l := int(buf[1] & 0x7f); {
			case l < 126:
				need = 2 + l
			case l == 126 && got >= 4:
				need = 4 + int(binary.BigEndian.Uint16(buf[2:]))
			case l == 126:
				need = 4
			default:
				b.Fatalf("echo of %d+ bytes: too big for this reader", l)
			}
		}
	}
}
