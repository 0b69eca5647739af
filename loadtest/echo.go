package loadtest

import (
	"fmt"
	"time"

	"github.com/openspeed/wsd/loadtest/client"
)

// EchoConfig sizes the echo scenario.
type EchoConfig struct {
	Conns    int           // connections; default 100
	Size     int           // payload bytes; default 64 (16 or more carry the latency stamp)
	Depth    int           // messages in flight per connection (pipelining); default 1
	Binary   bool          // binary messages (default text)
	Duration time.Duration // measured run; default 10 s
	Warmup   time.Duration // unmeasured run first; default 2 s (negative: none)
	Workers  int           // worker processes; default 2
}

func (c EchoConfig) withDefaults() EchoConfig {
	c.Conns = defInt(c.Conns, 100)
	c.Size = defInt(c.Size, 64)
	c.Depth = defInt(c.Depth, 1)
	c.Workers = defInt(c.Workers, 2)
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = 2 * time.Second
	}
	return c
}

func defInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Latency holds percentiles in microseconds.
type Latency struct {
	P50  float64 `json:"p50_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p999_us"`
	Max  float64 `json:"max_us"`
	Mean float64 `json:"mean_us"`
}

func latencyOf(h *client.Histogram) Latency {
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	return Latency{P50: us(h.Quantile(0.5)), P99: us(h.Quantile(0.99)), P999: us(h.Quantile(0.999)),
		Max: us(h.Max), Mean: h.Mean() / 1e3}
}

// EchoResult is the echo scenario's outcome.
type EchoResult struct {
	Conns         int               `json:"conns"`
	Size          int               `json:"size"`
	Depth         int               `json:"depth"`
	Seconds       float64           `json:"seconds"`
	Msgs          int64             `json:"msgs"` // round trips completed
	MsgsPerSec    float64           `json:"msgs_per_sec"`
	Latency       Latency           `json:"latency"` // round trip
	CPUPerMillion Num               `json:"cpu_s_per_million"`
	AllocsPerMsg  Num               `json:"allocs_per_msg"`
	ServerCPU     float64           `json:"server_cpu_s"`
	ClientCPU     float64           `json:"client_cpu_s"` // all worker processes during the measured run
	Dead          int               `json:"dead"`
	FirstErr      string            `json:"first_err,omitempty"`
	Hist          *client.Histogram `json:"hist,omitempty"`
}

// RunEcho opens the connections, warms up, then measures round trips for the configured duration.
func RunEcho(env Env, cfg EchoConfig) (*EchoResult, error) {
	cfg = cfg.withDefaults()
	f, err := env.fleet(env.workers(cfg.Workers))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := dialAll(env, f, modeEcho, cfg.Conns, 1, 4); err != nil {
		return nil, err
	}
	run := Cmd{Op: opEcho, Size: cfg.Size, Depth: cfg.Depth, Binary: cfg.Binary}
	var warm []Reply
	if cfg.Warmup > 0 {
		run.Duration = cfg.Warmup
		if warm, err = f.All(run, nil); err != nil {
			return nil, fmt.Errorf("echo warm-up: %w", err)
		}
	}
	before := env.Target.Sample()
	run.Duration = cfg.Duration
	label := fmt.Sprintf("echo %dx%dB", cfg.Conns, cfg.Size)
	pr := env.timed(label, cfg.Duration, f.Size())
	replies, err := f.All(run, pr.update)
	pr.done()
	after := env.Target.Sample()
	res := &EchoResult{Conns: cfg.Conns, Size: cfg.Size, Depth: cfg.Depth, Hist: &client.Histogram{}}
	for _, r := range replies {
		res.Msgs += r.Msgs
		res.Dead += r.Dead
		res.Hist.Merge(r.Hist)
		res.Seconds = max(res.Seconds, r.Elapsed.Seconds())
		if res.FirstErr == "" {
			res.FirstErr = r.FirstErr
		}
	}
	if res.Seconds > 0 {
		res.MsgsPerSec = float64(res.Msgs) / res.Seconds
	}
	res.Latency = latencyOf(res.Hist)
	res.ServerCPU, res.CPUPerMillion, res.AllocsPerMsg = serverCost(env.Target, before, after, float64(res.Msgs))
	res.ClientCPU = cpuDelta(warm, replies)
	return res, err
}

// cpuDelta is the workers' CPU seconds between two rounds of replies (from zero without a first).
func cpuDelta(before, after []Reply) float64 {
	var d time.Duration
	for i, r := range after {
		d += r.CPU
		if i < len(before) {
			d -= before[i].CPU
		}
	}
	return d.Seconds()
}

// serverCost is the server CPU seconds between two samples, per million of n, and allocations per n.
func serverCost(t Target, before, after Sample, n float64) (float64, Num, Num) {
	if t.PID == 0 {
		return 0, NaN, NaN
	}
	cpu := (after.Proc.CPU - before.Proc.CPU).Seconds()
	allocs := after.metric("go_memstats_mallocs_total") - before.metric("go_memstats_mallocs_total")
	perN := NaN
	if n > 0 {
		perN = Num(allocs / n)
	}
	return cpu, Num(perMillion(cpu, n)), perN
}

// dialAll opens n connections of mode spread over all workers (conc dialers each) in rooms rooms.
func dialAll(env Env, f *Fleet, mode string, n, rooms, conc int) error {
	shares := split(n, f.Size())
	cmds := make([]Cmd, f.Size())
	first := 0
	for i, s := range shares {
		cmds[i] = Cmd{Op: opDial, URL: env.Target.URL, Mode: mode, N: s, First: first, Rooms: rooms, Conc: conc}
		first += s
	}
	_, err := dialCmds(env, f, cmds, fmt.Sprintf("dial %d %s", n, mode), n)
	return err
}

// dialCmds runs dial commands and fails when any connection failed.
func dialCmds(env Env, f *Fleet, cmds []Cmd, label string, n int) ([]Reply, error) {
	pr := env.progress(label, int64(n), f.Size())
	replies, err := f.Do(cmds, pr.update)
	pr.done()
	if err != nil {
		return nil, err
	}
	for _, r := range replies {
		if r.Failed > 0 {
			return nil, fmt.Errorf("%s: %d connections failed: %s", label, r.Failed, r.FirstErr)
		}
	}
	return replies, nil
}
