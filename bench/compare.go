package bench

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/openspeed/wsd/loadtest"
)

// Config sizes the comparison. Zero fields select the defaults, the sizes of README.md.
type Config struct {
	EchoConns int           // echo connections; default 100
	EchoSizes []int         // echo payload sizes; default 64, 1024
	Members   int           // broadcast: members of the one room; default 1000
	Rate      float64       // broadcast latency run: messages/s; default 10
	BcastSize int           // broadcast payload bytes; default 64
	Duration  time.Duration // echo and broadcast measured time; default 10 s
	RateTime  time.Duration // the light-load broadcast's measured time (about 0.1 CPU-s per second); default 3 × Duration
	Warmup    time.Duration // echo warm-up; default 2 s (negative: none)
	IdleSteps []int         // idle: connection counts to sample at; default 0, 4k, 8k, 12k, 16k, 19k (DESIGN.md: 0 → 19k)
	IdleRooms int           // idle: rooms the connections spread over; default 100
	Settle    time.Duration // idle: pause before each sample; default 3 s
	Drain     time.Duration // broadcast: wait this long without progress for missing deliveries; default 3 s
	Workers   int           // client worker processes (0: each scenario's default)
	Rounds    int           // echo and broadcast: rounds, each running every server in turn; the table shows medians; default 1
	Out       io.Writer     `json:"-"` // progress (nil: stderr)
}

func (c Config) withDefaults() Config {
	c.EchoConns = defInt(c.EchoConns, 100)
	c.Members = defInt(c.Members, 1000)
	c.BcastSize = defInt(c.BcastSize, 64)
	c.IdleRooms = defInt(c.IdleRooms, 100)
	c.Rounds = defInt(c.Rounds, 1)
	if len(c.EchoSizes) == 0 {
		c.EchoSizes = []int{64, 1024}
	}
	if len(c.IdleSteps) == 0 {
		c.IdleSteps = []int{0, 4000, 8000, 12000, 16000, 19000}
	}
	if c.Rate <= 0 {
		c.Rate = 10
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.RateTime <= 0 {
		c.RateTime = 3 * c.Duration
	}
	return c
}

func defInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Scenario is one measurement, run against every server.
type Scenario struct {
	Name string // sub-benchmark name: echo-64, bcast-max, bcast-10, idle
	Path string // the WebSocket path ({room} becomes a room number)
	key  string // Result.Errs and Result.Logs key: echo-<size>, bcast-max, bcast-rate, idle
	run  func(env loadtest.Env, r *Result) error
}

// rounds is how many times sc runs through the servers: Config.Rounds for echo and broadcast, once
// for idle (its slope varies little from run to run, and one run takes a minute per server).
func (sc Scenario) rounds(c Config) int {
	if sc.key == "idle" {
		return 1
	}
	return c.withDefaults().Rounds
}

// subName is the sub-benchmark name of sc's round (from 0) against the named server.
func (sc Scenario) subName(c Config, round int, server string) string {
	if sc.rounds(c) == 1 {
		return sc.Name + "/server=" + server
	}
	return fmt.Sprintf("%s/round=%d/server=%s", sc.Name, round+1, server)
}

// Scenarios are the measurements of the comparison, in the order they run.
func (c Config) Scenarios() []Scenario {
	c = c.withDefaults()
	var out []Scenario
	for _, size := range c.EchoSizes {
		name := fmt.Sprintf("echo-%d", size)
		out = append(out, Scenario{Name: name, key: name, Path: "/echo",
			run: func(env loadtest.Env, r *Result) error { return c.echo(env, r, size) }})
	}
	out = append(out,
		Scenario{Name: "bcast-max", key: "bcast-max", Path: "/rooms/bcast-{room}",
			run: func(env loadtest.Env, r *Result) error { return c.broadcast(env, r, 0) }},
		Scenario{Name: fmt.Sprintf("bcast-%g", c.Rate), key: "bcast-rate", Path: "/rooms/bcast-{room}",
			run: func(env loadtest.Env, r *Result) error { return c.broadcast(env, r, c.Rate) }},
		Scenario{Name: "idle", key: "idle", Path: "/rooms/idle-{room}", run: c.idle},
	)
	return out
}

func (c Config) echo(env loadtest.Env, r *Result, size int) error {
	res, err := loadtest.RunEcho(env, loadtest.EchoConfig{Conns: c.EchoConns, Size: size, Duration: c.Duration,
		Warmup: c.Warmup})
	if res != nil && err == nil {
		r.Echo = append(r.Echo, res)
	}
	if err == nil && res.Dead > 0 {
		err = fmt.Errorf("%d of %d connections died: %s", res.Dead, res.Conns, res.FirstErr)
	}
	return err
}

func (c Config) broadcast(env loadtest.Env, r *Result, rate float64) error {
	res, err := loadtest.RunBroadcast(env, loadtest.BroadcastConfig{Members: c.Members, Rate: rate, Size: c.BcastSize,
		Duration: c.broadcastTime(rate), Drain: c.Drain})
	if err != nil {
		return err
	}
	if rate == 0 {
		r.BcastMax = append(r.BcastMax, res)
	} else {
		r.BcastRate = append(r.BcastRate, res)
	}
	switch {
	case res.Lost > 0 || res.Dead > 0:
		return fmt.Errorf("lost %d of %d deliveries, %d members died", res.Lost, res.Expected, res.Dead)
	case res.Extra > 0:
		return fmt.Errorf("%d deliveries beyond the expected (duplicates or echoes to the sender)", res.Extra)
	case res.Sent == 0:
		return errors.New("nothing published")
	}
	return nil
}

// broadcastTime is how long a broadcast run at rate (0: the maximum) measures. At light load every
// server spends only about 0.1 CPU-second per second of it, so that run is longer: its CPU figure is
// read from /proc in 10 ms ticks and jitters with whatever else the VM runs.
func (c Config) broadcastTime(rate float64) time.Duration {
	if rate == 0 {
		return c.Duration
	}
	return c.RateTime
}

func (c Config) idle(env loadtest.Env, r *Result) error {
	res, err := loadtest.RunIdle(env, loadtest.IdleConfig{Steps: c.IdleSteps, Rooms: c.IdleRooms, Settle: c.Settle})
	if res != nil && len(res.Points) > 0 {
		r.Idle = res
	}
	if err == nil && res.Lost > 0 {
		err = fmt.Errorf("the server closed %d idle connections", res.Lost)
	}
	return err
}

// Result is what one server measured. Failed scenarios are in Errs by scenario name; a scenario that
// failed after measuring (deliveries lost) keeps its figures too.
type Result struct {
	Server    string                         `json:"server"`
	Peer      bool                           `json:"peer"`
	Echo      []*loadtest.EchoResult         `json:"echo,omitempty"`      // one per size and round
	BcastMax  []*loadtest.BroadcastResult    `json:"bcast_max,omitempty"` // one per round
	BcastRate []*loadtest.BroadcastResult    `json:"bcast_rate,omitempty"`
	Idle      *loadtest.IdleResult           `json:"idle,omitempty"`
	Errs      map[string]string              `json:"errors,omitempty"`
	Logs      map[string]loadtest.LogSummary `json:"logs,omitempty"`
}

// NewResult is an empty result for s.
func NewResult(s Server) *Result {
	return &Result{Server: s.Name, Peer: s.Peer, Errs: map[string]string{}, Logs: map[string]loadtest.LogSummary{}}
}

// Measure runs sc against a fresh process of s and adds the outcome to r. It returns the scenario's
// error (also recorded in r.Errs).
func Measure(s Server, sc Scenario, cfg Config, r *Result) (err error) {
	defer func() {
		if err != nil {
			r.Errs[sc.key] = oneLine(err.Error())
		}
	}()
	proc, err := s.Start()
	if err != nil {
		return err
	}
	env := loadtest.Env{Target: proc.Target(sc.Path), Workers: cfg.Workers, Out: cfg.Out}
	err = sc.run(env, r)
	exited := proc.Exited()
	if stopErr := proc.Stop(); err == nil && stopErr != nil {
		err = fmt.Errorf("%s stop: %w", s.Name, stopErr)
	}
	l := proc.Log()
	r.Logs[sc.key] = l
	if exited {
		err = errors.Join(err, fmt.Errorf("%s exited during the run: %s", s.Name, strings.Join(l.Tail, " | ")))
	}
	return err
}

// oneLine shortens an error for a table cell.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// Figures are sc's headline numbers for r's latest round, by benchmark unit (b.ReportMetric); unknown
// ones are left out.
func (sc Scenario) Figures(r *Result) map[string]float64 {
	m := map[string]float64{}
	put := func(unit string, v float64) {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			m[unit] = v
		}
	}
	switch {
	case strings.HasPrefix(sc.key, "echo-"):
		for _, e := range r.Echo {
			if sc.Name == fmt.Sprintf("echo-%d", e.Size) { // the last one wins
				put("cpu-µs/msg", float64(e.CPUPerMillion))
				put("msgs/s", e.MsgsPerSec)
				put("p99-µs", e.Latency.P99)
				put("allocs/msg", float64(e.AllocsPerMsg))
			}
		}
	case sc.key == "bcast-max" && len(r.BcastMax) > 0:
		b := r.BcastMax[len(r.BcastMax)-1]
		put("deliveries/cpu-s", deliveriesPerCPU(b))
		put("deliveries/s", b.DeliveriesRate)
		put("server-cpu-s", b.ServerCPU)
		put("lost", float64(b.Lost))
		put("allocs/delivery", float64(b.AllocsPerDeliv))
	case sc.key == "bcast-rate" && len(r.BcastRate) > 0:
		b := r.BcastRate[len(r.BcastRate)-1]
		put("p50-µs", b.Latency.P50)
		put("p99-µs", b.Latency.P99)
		put("deliveries/s", b.DeliveriesRate)
		put("lost", float64(b.Lost))
	case sc.key == "idle" && r.Idle != nil:
		put("B/conn-rss", float64(r.Idle.RSSPerConn))
		put("B/conn-anon", float64(r.Idle.AnonPerConn))
		put("conns/s", r.Idle.ConnectRate)
	}
	return m
}
