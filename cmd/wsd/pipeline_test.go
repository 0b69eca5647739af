package main

import (
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestStaticPipelineWithoutReading is the reproduction of issue 13 part 2: one socket pipelines
// GET /static/app.js 30,000 times (18 KB answers, 560 MB in all) and never reads. wsd must not
// hold the answers: it stops reading the connection once its answers reach max_backpressure, and when
// the requests the client keeps pipelining pass one request's worth it answers 429 and closes. The
// server runs in this process; its heap is sampled until the connection is gone.
func TestStaticPipelineWithoutReading(t *testing.T) {
	const n = 30000
	c := svConfig()
	c.Loops = 1
	s, addr := svStart(t, c, nil)
	conn, err := net.DialTimeout("tcp", addr, svWait)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(64 << 10)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	reqs := strings.Repeat("GET /static/app.js HTTP/1.1\r\nHost: t\r\n\r\n", n)
	go func() { _, _ = conn.Write([]byte(reqs)) }() // fails once wsd closes the connection
	for deadline := time.Now().Add(30 * time.Second); ; {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
		if s.App.Stats().Connections == 0 && s.App.Stats().Opened > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection still open after 30 s; heap peak +%d MiB", (peak-base)>>20)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("heap peak: +%.1f MiB", float64(peak-base)/(1<<20))
	if peak-base > 64<<20 {
		t.Errorf("heap grew by %d MiB for one socket that never reads", (peak-base)>>20)
	}
	expectMetrics(t, addr, atLeast("wsd_http_read_pauses_total", 1),
		eq("wsd_http_pipeline_overflows_total", 1), eq("wsd_handshakes_rejected_total", 1, "reason", "other"))
}
