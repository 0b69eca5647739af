package engine

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// HTTP responses count against the connection's outbound budget (Config.MaxBackpressure) like frames:
// a client that pipelines requests and never reads their answers must not make the server queue them
// without bound.

const (
	hbBody   = 16 << 10  // bytes per answer of /big
	hbBudget = 256 << 10 // MaxBackpressure of the tests
	hbRcvBuf = 64 << 10  // the clients' socket receive buffer
)

// hbApp serves GET /big?i=N: hbBody bytes starting with "N\n". It counts the requests it answered.
func hbApp(t *testing.T, cfg Config) (*App, string, *atomic.Int64) {
	t.Helper()
	var served atomic.Int64
	body := []byte(strings.Repeat("x", hbBody))
	cfg.Loops = 1
	if cfg.MaxBackpressure == 0 {
		cfg.MaxBackpressure = hbBudget
	}
	app, addr := startApp(t, cfg, func(a *App) {
		a.GET("/big", func(ctx *Context) error {
			served.Add(1)
			b := make([]byte, 0, hbBody)
			b = append(b, ctx.Query("i")...)
			b = append(b, '\n')
			return ctx.Blob(http.StatusOK, "application/octet-stream", append(b, body[len(b):]...))
		})
	})
	return app, addr, &served
}

// hbRequests is n pipelined GET /big requests numbered from 0, each padded to at least pad bytes.
func hbRequests(n, pad int) []byte {
	var b []byte
	for i := range n {
		start := len(b)
		b = fmt.Appendf(b, "GET /big?i=%d HTTP/1.1\r\nHost: t\r\n", i)
		if fill := pad - (len(b) - start) - len("X-Pad: \r\n\r\n"); fill > 0 {
			b = append(b, "X-Pad: "...)
			b = append(b, strings.Repeat("p", fill)...)
			b = append(b, "\r\n"...)
		}
		b = append(b, "\r\n"...)
	}
	return b
}

// liveHeap is the live heap after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// waitSettled waits until served stops changing (unchanged for 20 polls 25 ms apart) or reaches max.
func waitSettled(served *atomic.Int64, max int64) int64 {
	last, same := int64(-1), 0
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		n := served.Load()
		if n >= max {
			return n
		}
		if n == last {
			if same++; same >= 20 {
				return n
			}
		} else {
			last, same = n, 0
		}
		time.Sleep(25 * time.Millisecond)
	}
	return served.Load()
}

// TestHTTPPipelineWithoutReadingIsBounded pipelines 8,000 requests for 16 KiB answers (128 MiB) on one
// socket that never reads. The server must stop reading once the answers it holds reach the budget:
// its live heap may grow by a few MiB (the budget, one read's worth of requests), not by the answers.
func TestHTTPPipelineWithoutReadingIsBounded(t *testing.T) {
	const n = 8000
	app, addr, served := hbApp(t, Config{})
	before := liveHeap()
	c := dialTCP(t, addr, nil)
	_ = c.(*net.TCPConn).SetReadBuffer(hbRcvBuf)
	if _, err := c.Write(hbRequests(n, 0)); err != nil {
		t.Fatal(err)
	}
	got := waitSettled(served, n)
	grew := int64(liveHeap()) - int64(before)
	t.Logf("answered %d of %d pipelined requests; live heap grew by %.1f MiB", got, n, float64(grew)/(1<<20))
	if grew > 24<<20 {
		t.Errorf("live heap grew by %.1f MiB for one socket that does not read (budget %d KiB)",
			float64(grew)/(1<<20), hbBudget>>10)
	}
	if got >= n {
		t.Errorf("all %d requests were answered although the client read nothing", got)
	}
	if st := app.Stats(); st.ReadPauses == 0 {
		t.Errorf("Stats.ReadPauses = 0, want the pause counted")
	}
}

// TestHTTPPipelineResumesWhenDrained pipelines 2,000 requests (32 MiB of answers) without reading,
// waits until the server has stopped answering, then reads: every answer must arrive, in order, once
// the client drains them (the server resumes by itself; the client sends nothing more).
func TestHTTPPipelineResumesWhenDrained(t *testing.T) {
	const n = 2000
	app, addr, served := hbApp(t, Config{})
	c := dialTCP(t, addr, nil)
	_ = c.(*net.TCPConn).SetReadBuffer(hbRcvBuf)
	if _, err := c.Write(hbRequests(n, 0)); err != nil {
		t.Fatal(err)
	}
	paused := waitSettled(served, n)
	t.Logf("answered %d of %d before the client read", paused, n)
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReaderSize(c, 64<<10)
	for i := range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || len(b) != hbBody {
			t.Fatalf("answer %d: %d bytes, %v", i, len(b), err)
		}
		if want := strconv.Itoa(i) + "\n"; !strings.HasPrefix(string(b), want) {
			t.Fatalf("answer %d starts with %.10q, want %q", i, b, want)
		}
	}
	if st := app.Stats(); paused < n && st.ReadPauses == 0 {
		t.Errorf("the server held back %d answers, but Stats.ReadPauses = 0", n-paused)
	}
}

// TestHTTPPipelineFloodIsClosed: a client that keeps pipelining while it reads nothing makes the
// server hold its requests; past one request's worth (MaxHeaderBytes + MaxBodyBytes) of held requests
// the server answers 429 and closes the connection (after CloseTimeout, as the client does not read).
func TestHTTPPipelineFloodIsClosed(t *testing.T) {
	const n = 4000
	app, addr, served := hbApp(t, Config{MaxBodyBytes: 64 << 10, CloseTimeout: 200 * time.Millisecond})
	before := liveHeap()
	c := dialTCP(t, addr, nil)
	_ = c.(*net.TCPConn).SetReadBuffer(hbRcvBuf)
	go func() { _, _ = c.Write(hbRequests(n, 1024)) }() // 4 MiB; fails once the server closes
	deadline := time.Now().Add(20 * time.Second)
	for int(app.Stats().Connections) != 0 || served.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("connection still open after %d of %d requests answered", served.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	grew := int64(liveHeap()) - int64(before)
	t.Logf("answered %d of %d; live heap grew by %.1f MiB", served.Load(), n, float64(grew)/(1<<20))
	if served.Load() >= n {
		t.Errorf("all %d requests were answered although the client read nothing", n)
	}
	st := app.Stats()
	if st.PipelineOverflows != 1 || st.Rejected[RejectOther] != 1 {
		t.Errorf("PipelineOverflows %d, Rejected[other] %d; want 1, 1", st.PipelineOverflows, st.Rejected[RejectOther])
	}
}

// TestHTTPPipelineBoundPerRead: 200 small requests arrive in one read; the loop answers at most
// maxRequestsPerRead of them before it runs other work (a marker task queued by the first answer of
// each run), and every request is still answered, in order.
func TestHTTPPipelineBoundPerRead(t *testing.T) {
	const n = 200
	var (
		pending bool // a marker task is queued (on-loop)
		inRun   int  // requests answered since the last marker task ran (on-loop)
		worst   atomic.Int64
	)
	_, addr := startApp(t, Config{Loops: 1}, func(a *App) {
		a.GET("/n", func(ctx *Context) error {
			if !pending {
				pending = true
				ctx.conn.loop.execute(func() { pending, inRun = false, 0 })
			}
			inRun++
			if int64(inRun) > worst.Load() {
				worst.Store(int64(inRun))
			}
			return ctx.String(http.StatusOK, ctx.Query("i"))
		})
	})
	c := dialTCP(t, addr, nil)
	_ = c.(*net.TCPConn).SetReadBuffer(hbRcvBuf)
	var reqs []byte
	for i := range n {
		reqs = fmt.Appendf(reqs, "GET /n?i=%d HTTP/1.1\r\nHost: t\r\n\r\n", i)
	}
	if _, err := c.Write(reqs); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	for i := range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != strconv.Itoa(i) {
			t.Fatalf("answer %d is %q", i, b)
		}
	}
	if w := worst.Load(); w > maxRequestsPerRead {
		t.Errorf("%d requests answered without the loop running anything else (bound %d)", w, maxRequestsPerRead)
	}
}
