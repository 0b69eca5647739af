package loadtest

import (
	"fmt"
	"time"
)

// IdleConfig sizes the idle scenario.
type IdleConfig struct {
	Steps    []int         // cumulative connection counts to sample at; default 0, 4k, 8k, 12k, 16k, 19k
	Rooms    int           // rooms the connections spread over ({room} in the URL); default 100
	Settle   time.Duration // pause after each step before sampling; default 3 s
	DialConc int           // parallel dialers per worker; default 4
	Workers  int           // worker processes; default 4
	Hold     time.Duration // keep the connections open this long after the last sample (pings answered)
}

func (c IdleConfig) withDefaults() IdleConfig {
	if len(c.Steps) == 0 {
		c.Steps = []int{0, 4000, 8000, 12000, 16000, 19000}
	}
	if c.Rooms <= 0 {
		c.Rooms = 100
	}
	if c.Settle <= 0 {
		c.Settle = 3 * time.Second
	}
	if c.DialConc <= 0 {
		c.DialConc = 4
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	return c
}

// IdlePoint is the server's state with Conns idle connections open.
type IdlePoint struct {
	Conns      int   `json:"conns"`
	RSS        int64 `json:"rss"`
	Anon       int64 `json:"anon"`
	HeapInuse  Num   `json:"heap_inuse"`
	Goroutines Num   `json:"goroutines"`
	KernelMem  int64 `json:"kernel_mem"`  // /proc/net/sockstat TCP mem, bytes
	KernelSlab int64 `json:"kernel_slab"` // /proc/meminfo Slab, bytes (machine-wide)
	FDs        int   `json:"fds"`
}

// IdleResult is the idle scenario's outcome. Per-connection figures are least-squares slopes over the
// points.
type IdleResult struct {
	Points          []IdlePoint `json:"points"`
	RSSPerConn      Num         `json:"rss_per_conn"`
	AnonPerConn     Num         `json:"anon_per_conn"`
	HeapPerConn     Num         `json:"heap_per_conn"`
	KernelPerConn   Num         `json:"kernel_per_conn"` // socket buffers, both ends on loopback
	SlabPerConn     Num         `json:"slab_per_conn"`   // kernel slab, both ends, machine-wide
	RSSFit          Fit         `json:"rss_fit"`
	ConnectRate     float64     `json:"connect_rate"` // connections/s while dialing
	GoroutinesStart Num         `json:"goroutines_start"`
	GoroutinesEnd   Num         `json:"goroutines_end"`
	Failed          int         `json:"failed"`
	FirstErr        string      `json:"first_err,omitempty"`
	Lost            int         `json:"lost"`  // connections the server closed before the end
	Pings           int         `json:"pings"` // server pings the idle sweeps answered
}

// RunIdle opens idle connections step by step and samples the server at each step.
func RunIdle(env Env, cfg IdleConfig) (*IdleResult, error) {
	cfg = cfg.withDefaults()
	f, err := env.fleet(env.workers(cfg.Workers))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res := &IdleResult{}
	open, dialTime := 0, time.Duration(0)
	for _, step := range cfg.Steps {
		if step > open {
			d, err := idleStep(env, f, cfg, open, step-open, res)
			if err != nil {
				return res, err
			}
			dialTime += d
			open = step
		}
		time.Sleep(cfg.Settle)
		res.Points = append(res.Points, idlePoint(env.Target.SampleAfterGC(), open))
		p := res.Points[len(res.Points)-1]
		env.logf("idle: %d conns: rss %.1f MiB, kernel %.1f MiB, goroutines %v",
			p.Conns, mib(p.RSS), mib(p.KernelMem), p.Goroutines)
	}
	if dialTime > 0 {
		res.ConnectRate = float64(open) / dialTime.Seconds()
	}
	res.fit()
	if cfg.Hold > 0 {
		env.logf("idle: holding %d connections for %v", open, cfg.Hold)
		time.Sleep(cfg.Hold)
	}
	replies, err := f.All(Cmd{Op: opClose}, nil)
	for _, r := range replies {
		if r.Sweep != nil {
			res.Lost += r.Sweep.Closed
			res.Pings += r.Sweep.Pings
		}
	}
	return res, err
}

// idleStep opens n more connections spread over the workers; it returns the dialing time.
func idleStep(env Env, f *Fleet, cfg IdleConfig, open, n int, res *IdleResult) (time.Duration, error) {
	shares := split(n, f.Size())
	cmds := make([]Cmd, f.Size())
	first := open
	for i, s := range shares {
		cmds[i] = Cmd{Op: opDial, URL: env.Target.URL, Mode: modeIdle, N: s, First: first, Rooms: cfg.Rooms,
			Conc: cfg.DialConc}
		first += s
	}
	pr := env.progress(fmt.Sprintf("idle %d→%d", open, open+n), int64(n), f.Size())
	start := time.Now()
	replies, err := f.Do(cmds, pr.update)
	elapsed := time.Since(start)
	pr.done()
	for _, r := range replies {
		res.Failed += r.Failed
		if res.FirstErr == "" {
			res.FirstErr = r.FirstErr
		}
	}
	if err == nil && res.Failed > 0 {
		err = fmt.Errorf("idle: %d connections failed: %s", res.Failed, res.FirstErr)
	}
	return elapsed, err
}

func idlePoint(s Sample, conns int) IdlePoint {
	return IdlePoint{Conns: conns, RSS: s.Proc.RSS, Anon: s.Proc.Anon, KernelMem: s.Sock.MemBytes,
		KernelSlab: s.Sock.Slab, FDs: s.Proc.FDs,
		HeapInuse: Num(s.metric(heapMetric)), Goroutines: Num(s.metric("go_goroutines"))}
}

// fit computes the per-connection slopes.
func (r *IdleResult) fit() {
	n := len(r.Points)
	if n == 0 {
		return
	}
	xs := make([]float64, n)
	rss, anon, heap, kern, slab := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n),
		make([]float64, n)
	for i, p := range r.Points {
		xs[i] = float64(p.Conns)
		rss[i], anon[i], heap[i] = float64(p.RSS), float64(p.Anon), float64(p.HeapInuse)
		kern[i], slab[i] = float64(p.KernelMem), float64(p.KernelSlab)
	}
	r.RSSFit = LinearFit(xs, rss)
	r.RSSPerConn = slopeNum(xs, rss)
	r.AnonPerConn = slopeNum(xs, anon)
	r.HeapPerConn = slopeNum(xs, heap)
	r.KernelPerConn = slopeNum(xs, kern)
	r.SlabPerConn = slopeNum(xs, slab)
	r.GoroutinesStart, r.GoroutinesEnd = r.Points[0].Goroutines, r.Points[n-1].Goroutines
}

// slopeNum is the fitted slope, unknown when all ys are zero (not measured) or fewer than 2 points.
func slopeNum(xs, ys []float64) Num {
	known := 0
	for _, y := range ys {
		if y == y && y != 0 {
			known++
		}
	}
	if known < 2 {
		return NaN
	}
	return Num(LinearFit(xs, ys).Slope)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
