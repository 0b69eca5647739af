package main

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openspeed/wsd/loadtest"
	"github.com/openspeed/wsd/loadtest/client"
)

func TestPlotWritesWellFormedSVG(t *testing.T) {
	rec := client.NewRecorder()
	for i := range 10000 {
		rec.Record(int64(50000 + i*37))
	}
	res := loadtest.NewResults(loadtest.Target{URL: "ws://127.0.0.1:3000/echo"})
	res.Echo = []*loadtest.EchoResult{{Conns: 100, Size: 64, Depth: 1, Hist: rec.Snapshot()}}
	res.Idle = &loadtest.IdleResult{Points: []loadtest.IdlePoint{
		{Conns: 0, RSS: 10 << 20, HeapInuse: loadtest.NaN}, {Conns: 4000, RSS: 14 << 20, HeapInuse: 3 << 20}}}
	plotContains(t, res, "Latency by percentile", "Server memory by idle connections", "echo 100×64B d1", "99.9%")
}

func TestNinesLabel(t *testing.T) {
	for k, want := range map[float64]string{0: "0%", 1: "90%", 2: "99%", 3: "99.9%", 5: "99.999%"} {
		if got := ninesLabel(k); got != want {
			t.Errorf("ninesLabel(%v) = %q, want %q", k, got, want)
		}
	}
}

func TestPlotSoak(t *testing.T) {
	res := loadtest.NewResults(loadtest.Target{URL: "ws://127.0.0.1:3000/"})
	soak := &loadtest.SoakResult{Config: loadtest.SoakConfig{Duration: 60 * time.Second, Warmup: 20 * time.Second,
		Window: 12 * time.Second}}
	for i := range 60 {
		soak.Points = append(soak.Points, loadtest.SoakPoint{T: float64(i), RSS: int64(30+i%3) << 20,
			HeapInuse: loadtest.Num(15 << 20), LiveHeap: loadtest.NaN, Goroutines: 14, Conns: 3300, WebSockets: 3290,
			FDs: 3310, CPU: float64(i) / 5, MsgsIn: loadtest.Num(500 * i), MsgsOut: loadtest.Num(3000 * i)})
	}
	res.Soak = soak
	plotContains(t, res, "wsd memory during the soak", "wsd goroutines", "first window", "frames out",
		"server CPU: 20% of a core")
}

// plotContains writes res as JSON, runs wsload plot on it, and checks that the SVG is well-formed XML
// holding each of wants.
func plotContains(t *testing.T, res *loadtest.Results, wants ...string) {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "r.json"), filepath.Join(dir, "p.svg")
	if err := writeFile(in, res.WriteJSON); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"plot", "-in", in, "-out", out}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(b)))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
	}
	for _, want := range wants {
		if !strings.Contains(string(b), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}
