package loadtest

import (
	"math"
	"strings"
	"sync"
	"time"
)

// SoakPoint is one sample of the server during the soak.
type SoakPoint struct {
	T          float64 `json:"t"` // seconds since the load started
	RSS        int64   `json:"rss"`
	Anon       int64   `json:"anon"`
	HeapInuse  Num     `json:"heap_inuse"` // go_memstats_heap_inuse_bytes as it is
	LiveHeap   Num     `json:"live_heap"`  // the same right after a forced collection (every GCEvery-th sample), else unknown
	Goroutines Num     `json:"goroutines"`
	Conns      Num     `json:"conns"`      // wsd_connections
	WebSockets Num     `json:"websockets"` // wsd_websockets
	FDs        int     `json:"fds"`
	CPU        float64 `json:"cpu_s"`    // server CPU seconds so far
	MsgsIn     Num     `json:"msgs_in"`  // wsd_messages_received_total
	MsgsOut    Num     `json:"msgs_out"` // wsd_messages_sent_total
}

// sampler samples the server every Interval until stopped.
type sampler struct {
	quit, done chan struct{}
	mu         sync.Mutex
	points     []SoakPoint
	dead       bool // the server process was gone at a sample
}

func startSampler(env Env, cfg SoakConfig) *sampler {
	s := &sampler{quit: make(chan struct{}), done: make(chan struct{})}
	start := time.Now()
	every := max(cfg.Duration/20, 10*time.Second)
	go func() {
		defer close(s.done)
		t := time.NewTicker(cfg.Interval)
		defer t.Stop()
		lastLog := start
		for i := 0; ; i++ {
			p, alive := samplePoint(env.Target, i%cfg.GCEvery == 0, start)
			s.mu.Lock()
			s.points = append(s.points, p)
			s.dead = s.dead || !alive
			s.mu.Unlock()
			if time.Since(lastLog) >= every {
				lastLog = time.Now()
				env.logf("soak: t=%.0fs rss %.1f MiB, heap %.1f MiB, goroutines %v, connections %v, server cpu %.1fs",
					p.T, mib(p.RSS), float64(p.HeapInuse)/(1<<20), p.Goroutines, p.Conns, p.CPU)
			}
			select {
			case <-s.quit:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// samplePoint samples the server once; alive is false when its process is gone.
func samplePoint(t Target, gc bool, start time.Time) (SoakPoint, bool) {
	var s Sample
	if gc {
		s = t.SampleAfterGC()
	} else {
		s = t.Sample()
	}
	p := SoakPoint{T: time.Since(start).Seconds(), RSS: s.Proc.RSS, Anon: s.Proc.Anon, FDs: s.Proc.FDs,
		CPU: s.Proc.CPU.Seconds(), HeapInuse: Num(s.metric(heapMetric)), LiveHeap: NaN,
		Goroutines: Num(s.metric("go_goroutines")), Conns: Num(s.metric("wsd_connections")),
		WebSockets: Num(s.metric("wsd_websockets")), MsgsIn: Num(s.metric("wsd_messages_received_total")),
		MsgsOut: Num(s.metric("wsd_messages_sent_total"))}
	if gc {
		p.LiveHeap = p.HeapInuse
	}
	alive := t.PID == 0 || s.Proc.RSS > 0
	return p, alive
}

func (s *sampler) stop() []SoakPoint {
	close(s.quit)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.points
}

// Drift is how one server figure moved after warm-up.
type Drift struct {
	First float64 `json:"first"` // mean over the first window after warm-up
	Last  float64 `json:"last"`  // mean over the last window of the load phase
	// Drift is (Last - First) / First: the figure the soak asserts on.
	Drift float64 `json:"drift"`
	// SlopeDrift is the least-squares slope over all samples after warm-up times their time span,
	// over First: the same question answered by a fit (reported, not asserted).
	SlopeDrift float64 `json:"slope_drift"`
	Min        float64 `json:"min"` // over the samples after warm-up
	Max        float64 `json:"max"`
	N          int     `json:"n"` // samples after warm-up
}

// SoakDrift are the drift figures of the soak's assertions.
type SoakDrift struct {
	RSS        Drift `json:"rss"`
	LiveHeap   Drift `json:"live_heap"`
	HeapInuse  Drift `json:"heap_inuse"`
	Goroutines Drift `json:"goroutines"`
	Conns      Drift `json:"conns"`
}

// analyze computes the drift figures over the load phase: samples at T in [Warmup, Duration].
func analyze(pts []SoakPoint, cfg SoakConfig) SoakDrift {
	get := func(f func(SoakPoint) float64) Drift { return driftOf(pts, f, cfg) }
	return SoakDrift{
		RSS:        get(func(p SoakPoint) float64 { return float64(p.RSS) }),
		LiveHeap:   get(func(p SoakPoint) float64 { return float64(p.LiveHeap) }),
		HeapInuse:  get(func(p SoakPoint) float64 { return float64(p.HeapInuse) }),
		Goroutines: get(func(p SoakPoint) float64 { return float64(p.Goroutines) }),
		Conns:      get(func(p SoakPoint) float64 { return float64(p.Conns) }),
	}
}

// driftOf computes one figure's Drift; unknown (NaN) values are skipped.
func driftOf(pts []SoakPoint, f func(SoakPoint) float64, cfg SoakConfig) Drift {
	w0, end := cfg.Warmup.Seconds(), cfg.Duration.Seconds()
	w1, l0 := w0+cfg.Window.Seconds(), end-cfg.Window.Seconds()
	d := Drift{Min: math.Inf(1), Max: math.Inf(-1)}
	var first, last []float64
	var xs, ys []float64
	for _, p := range pts {
		v := f(p)
		if math.IsNaN(v) || p.T < w0 || p.T > end {
			continue
		}
		xs, ys = append(xs, p.T), append(ys, v)
		d.Min, d.Max = math.Min(d.Min, v), math.Max(d.Max, v)
		if p.T <= w1 {
			first = append(first, v)
		}
		if p.T >= l0 {
			last = append(last, v)
		}
	}
	d.N = len(ys)
	d.First, d.Last = mean(first), mean(last)
	d.Drift = (d.Last - d.First) / d.First
	if len(xs) > 1 {
		d.SlopeDrift = LinearFit(xs, ys).Slope * (xs[len(xs)-1] - xs[0]) / d.First
	}
	if d.N == 0 {
		d.Min, d.Max = math.NaN(), math.NaN()
	}
	return d
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// counterDeltas are the changes of wsd's counters (wsd_*_total, labeled ones included) between two
// samples.
func counterDeltas(before, after Sample) map[string]float64 {
	d := map[string]float64{}
	for k, v := range after.Metrics {
		name, _, _ := strings.Cut(k, "{")
		if strings.HasPrefix(name, "wsd_") && strings.HasSuffix(name, "_total") {
			d[k] = v - before.Metrics[k]
		}
	}
	return d
}
