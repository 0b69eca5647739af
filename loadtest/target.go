package loadtest

import (
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"time"

	"github.com/openspeed/wsd/loadtest/client"
)

// Target is what a scenario drives: a WebSocket URL, and optionally the server's process id (for CPU
// and memory from /proc) and metrics URL.
type Target struct {
	URL        string `json:"url"`               // ws://host:port/path; {room} becomes a room number
	PID        int    `json:"pid,omitempty"`     // 0: unknown (no CPU or memory figures)
	MetricsURL string `json:"metrics,omitempty"` // "": none
	// GCURL, when set, is fetched before memory samples to force a garbage collection, so the Go heap
	// figures count live memory only (wsd with pprof on: http://<pprof addr>/debug/pprof/heap?gc=1).
	GCURL string `json:"gc_url,omitempty"`
}

// Env is how a scenario runs: where, with how many worker processes, and where progress goes.
type Env struct {
	Target  Target
	Workers int       // client worker processes; default 4
	Source  net.IP    // first source address (default 127.0.0.2 for loopback targets on Linux)
	Out     io.Writer // progress and notes (default os.Stderr); nil-safe
	Bar     bool      // draw a progress bar (CLI) instead of periodic lines
}

func (e Env) out() io.Writer {
	if e.Out == nil {
		return os.Stderr
	}
	return e.Out
}

func (e Env) logf(format string, args ...any) {
	fmt.Fprintf(e.out(), "wsload: "+format+"\n", args...)
}

// fleet starts the workers for the target.
func (e Env) fleet(workers int) (*Fleet, error) {
	ep, err := client.ParseURL(e.Target.URL)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(ep.Addr)
	return StartFleet(SourceIPs(host, workers, e.Source))
}

func (e Env) workers(def int) int {
	if e.Workers > 0 {
		return e.Workers
	}
	return def
}

// Sample is the server's state at one moment. Fields the target cannot provide are zero.
type Sample struct {
	At      time.Time `json:"at"`
	Proc    ProcStats `json:"proc"`
	Sock    SockStat  `json:"sock"`
	Metrics Metrics   `json:"-"`
}

// Sample reads the server's counters.
func (t Target) Sample() Sample {
	s := Sample{At: time.Now()}
	if t.PID > 0 {
		s.Proc, _ = ReadProc(t.PID)
		s.Sock, _ = ReadSockStat()
	}
	if t.MetricsURL != "" {
		s.Metrics, _ = Scrape(t.MetricsURL)
	}
	return s
}

// SampleAfterGC forces a garbage collection first when the target has a GCURL.
func (t Target) SampleAfterGC() Sample {
	if t.GCURL != "" {
		if resp, err := metricsClient.Get(t.GCURL); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	}
	return t.Sample()
}

// metric is a metric's value in s, NaN when missing.
func (s Sample) metric(name string) float64 {
	if v, ok := s.Metrics.Get(name); ok {
		return v
	}
	return math.NaN()
}

// Fit is a least-squares line y = Slope·x + Intercept with its coefficient of determination.
type Fit struct {
	Slope     float64 `json:"slope"`
	Intercept float64 `json:"intercept"`
	R2        float64 `json:"r2"`
}

// LinearFit fits a line through (xs[i], ys[i]), skipping NaN ys. Fewer than two points: zero Fit.
func LinearFit(xs, ys []float64) Fit {
	var n, sx, sy float64
	for i := range xs {
		if !math.IsNaN(ys[i]) {
			n, sx, sy = n+1, sx+xs[i], sy+ys[i]
		}
	}
	if n < 2 {
		return Fit{}
	}
	mx, my := sx/n, sy/n
	var sxx, sxy, syy float64
	for i := range xs {
		if math.IsNaN(ys[i]) {
			continue
		}
		dx, dy := xs[i]-mx, ys[i]-my
		sxx, sxy, syy = sxx+dx*dx, sxy+dx*dy, syy+dy*dy
	}
	if sxx == 0 {
		return Fit{}
	}
	f := Fit{Slope: sxy / sxx}
	f.Intercept = my - f.Slope*mx
	f.R2 = 1
	if syy > 0 {
		f.R2 = sxy * sxy / (sxx * syy)
	}
	return f
}

// perMillion is x per million of n (NaN when n is 0).
func perMillion(x, n float64) float64 {
	if n == 0 {
		return math.NaN()
	}
	return x / n * 1e6
}
