package loadtest

import (
	"fmt"
	"strconv"
	"time"

	"github.com/openspeed/wsd/loadtest/client"
)

// SoakConfig sizes the soak: everything at once for Duration against one wsd started with
// SoakConfig.ServerEnv. Zero fields select the defaults; the 60-second run of `make test` and the
// 10-minute run differ only in Duration (warm-up, windows and sample interval scale with it).
type SoakConfig struct {
	Duration time.Duration // load phase; default 10 min
	Warmup   time.Duration // excluded from the drift figures; default Duration/3
	Window   time.Duration // the drift compares the mean of the first and the last Window after warm-up; default Duration/5
	Interval time.Duration // server sample interval; default Duration/600, at least 250 ms
	GCEvery  int           // every GCEvery-th sample forces a collection first (live heap); default 4
	Workers  int           // client processes; default 4 (hostile clients on the first two, the pipeliner on the third)

	Idle         int           // idle holders; default 3000
	Echo         int           // verifying echo connections; default 40
	EchoRate     float64       // messages/s per echo connection; default 10 (wsd's limit is 100)
	Rooms        int           // raw-relay broadcast rooms; default 4
	Members      int           // well-behaved members per room; default 50
	RoomRate     float64       // publications/s per room; default 10
	RoomSize     int           // publication bytes; default 256
	SlowRooms    int           // rooms with slow consumers, of each policy (raw relay: drop; chat: close); default 1
	SlowGood     int           // well-behaved members in each of those; default 10
	Slow         int           // slow consumers in each of those; default 3
	SlowRate     float64       // publications/s there; default 25
	SlowSize     int           // publication bytes there; default 16 KiB (400 KiB/s: 40 % of wsd's byte rate limit)
	SlowCycle    time.Duration // how long a slow consumer stops reading at a time; default 20 s (wsd takes ~5 MiB first, ~4 of them in the kernel)
	ChurnRate    float64       // churn cycles/s per worker; default 10
	HostileEvery time.Duration // pause between two hostile clients of one kind (per hostile worker); default 200 ms
	// NoPipeliner leaves out the HTTP pipeliner, whose unread responses (issue 13 §2) otherwise swamp
	// the heap figures of a server without response budgets.
	NoPipeliner bool

	MaxDrift        float64 // RSS and live-heap drift bound; default 0.05
	GoroutineSpread float64 // max - min goroutines after warm-up; default 8 (pprof requests and finalizers come and go)
	Limits          SoakLimits
}

// DefaultSoakLimits are the server limits the soak sets and expects: wsd's defaults (rate limits on)
// except the heartbeat, shortened so silent peers are closed within the run.
var DefaultSoakLimits = SoakLimits{
	MaxMessage: 1 << 20, MaxHeader: 8192, MaxBackpressure: 1 << 20, RateMessages: 100, RateBytes: 1 << 20,
	PingInterval: 15 * time.Second, IdleTimeout: 30 * time.Second, CloseTimeout: 5 * time.Second,
	HandshakeTimeout: 10 * time.Second,
}

func (c SoakConfig) withDefaults() SoakConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Duration, 10*time.Minute)
	def(&c.Warmup, c.Duration/3)
	def(&c.Window, c.Duration/5)
	def(&c.Interval, max(c.Duration/600, 250*time.Millisecond))
	def(&c.SlowCycle, 20*time.Second)
	def(&c.HostileEvery, 200*time.Millisecond)
	c.GCEvery = defInt(c.GCEvery, 4)
	c.Workers = defInt(c.Workers, 4)
	c.Idle = defInt(c.Idle, 3000)
	c.Echo = defInt(c.Echo, 40)
	c.Rooms = defInt(c.Rooms, 4)
	c.Members = defInt(c.Members, 50)
	c.RoomSize = defInt(c.RoomSize, 256)
	c.SlowRooms = defInt(c.SlowRooms, 1)
	c.SlowGood = defInt(c.SlowGood, 10)
	c.Slow = defInt(c.Slow, 3)
	c.SlowSize = defInt(c.SlowSize, 16<<10)
	deff := func(f *float64, v float64) {
		if *f <= 0 {
			*f = v
		}
	}
	deff(&c.EchoRate, 10)
	deff(&c.RoomRate, 10)
	deff(&c.SlowRate, 25)
	deff(&c.ChurnRate, 10)
	deff(&c.MaxDrift, 0.05)
	deff(&c.GoroutineSpread, 8)
	if c.Limits == (SoakLimits{}) {
		c.Limits = DefaultSoakLimits
	}
	return c
}

// ServerEnv is the wsd environment the soak expects: its limits, rate limits on, and the chat route
// closing slow consumers (the raw relay drops for them), so both policies are exercised. Room history
// keeps publications for a sixth of the run (history.ttl), so that it is full — at its steady size —
// before the warm-up (the first third) ends, whatever the duration. A pure function of c: safe from
// any goroutine.
func (c SoakConfig) ServerEnv() []string {
	c = c.withDefaults()
	l := c.Limits
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return []string{
		"WSD_MAX_MESSAGE_SIZE=" + strconv.FormatInt(l.MaxMessage, 10),
		"WSD_MAX_HEADER_BYTES=" + strconv.Itoa(l.MaxHeader),
		"WSD_MAX_BACKPRESSURE=" + strconv.FormatInt(l.MaxBackpressure, 10),
		"WSD_SLOW_CONSUMER=drop",
		"WSD_ROUTES_CHAT_SLOW_CONSUMER=close",
		"WSD_RATE_LIMIT_MESSAGES=" + f(l.RateMessages),
		"WSD_RATE_LIMIT_BYTES=" + f(l.RateBytes),
		"WSD_PING_INTERVAL=" + l.PingInterval.String(),
		"WSD_IDLE_TIMEOUT=" + l.IdleTimeout.String(),
		"WSD_CLOSE_TIMEOUT=" + l.CloseTimeout.String(),
		"WSD_HANDSHAKE_TIMEOUT=" + l.HandshakeTimeout.String(),
		"WSD_HISTORY_TTL=" + (c.Duration / 6).String(),
	}
}

// plans divides the load over n workers: rooms whole, round robin; hostile clients on the first two
// workers; the pipeliner (which measures the server's heap) on the third.
func (c SoakConfig) plans(t Target, base string, n int) []SoakPlan {
	plans := make([]SoakPlan, n)
	idle, echo := split(c.Idle, n), split(c.Echo, n)
	for i := range plans {
		plans[i] = SoakPlan{URL: base, Metrics: t.MetricsURL, GCURL: t.GCURL, Duration: c.Duration,
			Seed: uint64(i + 1), Idle: idle[i], Echo: echo[i], EchoRate: c.EchoRate, Churn: 1,
			ChurnRate: c.ChurnRate, Hostile: i < 2, Pipeline: !c.NoPipeliner && i == min(2, n-1), Limits: c.Limits,
			SlowCycle: c.SlowCycle, HostilePer: c.HostileEvery}
	}
	var rooms []RoomPlan
	for i := range c.Rooms {
		rooms = append(rooms, RoomPlan{Path: fmt.Sprintf("/rooms/soak-%d", i), Members: c.Members,
			Rate: c.RoomRate, Size: c.RoomSize})
	}
	for i := range c.SlowRooms {
		rooms = append(rooms,
			RoomPlan{Path: fmt.Sprintf("/rooms/soak-slow-%d", i), Members: c.SlowGood, Slow: c.Slow,
				Rate: c.SlowRate, Size: c.SlowSize},
			RoomPlan{Path: fmt.Sprintf("/chat/soak-chat-%d", i), Chat: true, Members: c.SlowGood, Slow: c.Slow,
				Rate: c.SlowRate, Size: c.SlowSize})
	}
	for i, r := range rooms {
		plans[i%n].Rooms = append(plans[i%n].Rooms, r)
	}
	return plans
}

// SoakResult is the soak's outcome: the server's curve, what the clients saw, the server's counters,
// the drift figures, and every failed assertion.
type SoakResult struct {
	Config   SoakConfig         `json:"config"`
	Seconds  float64            `json:"seconds"` // load phase plus the final drain
	Points   []SoakPoint        `json:"points"`
	Clients  *SoakReport        `json:"clients"`
	Counters map[string]float64 `json:"counters"` // server counter deltas over the run
	Drift    SoakDrift          `json:"drift"`
	Final    SoakFinal          `json:"final"`
	Failures []string           `json:"failures"`
}

// SoakFinal is the server after every client closed.
type SoakFinal struct {
	Connections, WebSockets float64
	FDs, FDsBefore          int
	Alive                   bool
}

// RunSoak runs the soak against env.Target (a wsd started with ServerEnv) and checks it. An error
// means the soak could not run; failed assertions are in SoakResult.Failures. It starts and stops its
// own worker processes and sampler; call it from one goroutine at a time per target.
func RunSoak(env Env, cfg SoakConfig) (*SoakResult, error) {
	cfg = cfg.withDefaults()
	ep, err := client.ParseURL(env.Target.URL)
	if err != nil {
		return nil, err
	}
	f, err := env.fleet(env.workers(cfg.Workers))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res := &SoakResult{Config: cfg}
	before := env.Target.SampleAfterGC()
	plans := cfg.plans(env.Target, "ws://"+ep.Addr, f.Size())
	cmds := make([]Cmd, f.Size())
	for i := range cmds {
		cmds[i] = Cmd{Op: opSoak, Soak: &plans[i]}
	}
	env.logf("soak: %v with %d workers: %d idle, %d echo, %d+%d rooms, churn, hostile clients", cfg.Duration,
		f.Size(), cfg.Idle, cfg.Echo, cfg.Rooms, 2*cfg.SlowRooms)
	smp := startSampler(env, cfg)
	pr := env.timed("soak", cfg.Duration, f.Size())
	start := time.Now()
	replies, doErr := f.Do(cmds, pr.update)
	pr.done()
	res.Seconds = time.Since(start).Seconds()
	res.Points = smp.stop()
	res.Clients = &SoakReport{}
	for _, r := range replies {
		if r.Soak != nil {
			res.Clients.merge(r.Soak)
		}
	}
	after := awaitQuiet(env.Target, before)
	res.Final = SoakFinal{Connections: after.metric("wsd_connections"), WebSockets: after.metric("wsd_websockets"),
		FDs: after.Proc.FDs, FDsBefore: before.Proc.FDs, Alive: !smp.dead}
	res.Counters = counterDeltas(before, after)
	res.Drift = analyze(res.Points, cfg)
	res.Failures = res.verify(cfg)
	if doErr != nil {
		res.Failures = append(res.Failures, "workers: "+doErr.Error())
	}
	return res, nil
}

// awaitQuiet waits (at most 15 s) until the server holds no more connections than before the soak,
// and samples it after a collection.
func awaitQuiet(t Target, before Sample) Sample {
	base := before.metric("wsd_connections")
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := t.SampleAfterGC()
		if s.metric("wsd_connections") <= base || time.Now().After(deadline) {
			return s
		}
		time.Sleep(200 * time.Millisecond)
	}
}
