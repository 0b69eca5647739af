package loadtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openspeed/wsd/loadtest/client"
)

// SoakPlan is one worker's share of the soak: what it runs, against which server, for how long. Rooms
// are owned whole by one worker (publisher, members and slow consumers in one process), so every
// member's deliveries are checked against its own publisher without crossing processes.
type SoakPlan struct {
	URL        string        `json:"url"`     // ws://host:port (no path)
	Metrics    string        `json:"metrics"` // the server's /metrics URL (the pipeliner measures the heap)
	GCURL      string        `json:"gc_url"`  // forces a collection before a heap measurement
	Duration   time.Duration `json:"duration"`
	Seed       uint64        `json:"seed"`
	Idle       int           `json:"idle"`       // silent connections held in /rooms/soak-idle-N rooms
	Echo       int           `json:"echo"`       // verifying echo connections
	EchoRate   float64       `json:"echo_rate"`  // messages/s per echo connection
	Rooms      []RoomPlan    `json:"rooms"`      // broadcast rooms owned by this worker
	Churn      int           `json:"churn"`      // churning goroutines
	ChurnRate  float64       `json:"churn_rate"` // cycles/s per churning goroutine
	Hostile    bool          `json:"hostile"`    // run the garbage, oversize and protocol-abuse clients
	Pipeline   bool          `json:"pipeline"`   // run the HTTP pipeliner (one worker: it measures the heap)
	Limits     SoakLimits    `json:"limits"`
	SlowCycle  time.Duration `json:"slow_cycle"`  // how long a slow consumer stops reading before it drains
	HostilePer time.Duration `json:"hostile_per"` // pause between hostile cases of one kind
}

// SoakLimits are the server settings the soak sets and whose answers it expects.
type SoakLimits struct {
	MaxMessage       int64         `json:"max_message"`       // bytes: 1009 above
	MaxHeader        int           `json:"max_header"`        // bytes: 431 above
	MaxBackpressure  int64         `json:"max_backpressure"`  // bytes queued per connection before the slow-consumer policy
	RateMessages     float64       `json:"rate_messages"`     // messages/s per connection
	RateBytes        float64       `json:"rate_bytes"`        // bytes/s per connection
	PingInterval     time.Duration `json:"ping_interval"`     //
	IdleTimeout      time.Duration `json:"idle_timeout"`      // a silent peer is closed 1001 this long after its last byte
	CloseTimeout     time.Duration `json:"close_timeout"`     //
	HandshakeTimeout time.Duration `json:"handshake_timeout"` // an incomplete request gets 408 after this
}

// RoomPlan is one broadcast room: a publisher at Rate, Members well-behaved members that must get
// every publication in order, and Slow members that stop reading for SoakPlan.SlowCycle at a time.
type RoomPlan struct {
	Path    string  `json:"path"` // /rooms/<name> (raw relay, slow consumers dropped) or /chat/<name> (closed 1008)
	Chat    bool    `json:"chat"`
	Members int     `json:"members"`
	Slow    int     `json:"slow"`
	Rate    float64 `json:"rate"`
	Size    int     `json:"size"`
}

// Check is the tally of one kind of client: how often it ran, how often the server answered exactly
// as expected, and the first few deviations.
type Check struct {
	Name    string   `json:"name"`
	Want    string   `json:"want"` // the expected answer
	Runs    int64    `json:"runs"`
	OK      int64    `json:"ok"`
	Failed  int64    `json:"failed"`
	Samples []string `json:"samples,omitempty"` // first deviations
}

const maxSamples = 5

// SoakReport is what one worker observed.
type SoakReport struct {
	Checks     []*Check          `json:"checks"`
	Upgrades   int64             `json:"upgrades"`    // 101 answers received
	Rejects    map[string]int64  `json:"rejects"`     // HTTP error answers received, by wsd's reject reason
	SlowCloses int64             `json:"slow_closes"` // close 1008 "slow consumer" received
	DropGaps   int64             `json:"drop_gaps"`   // publications missing in slow consumers' in-order streams
	Delivered  int64             `json:"delivered"`   // publications received by well-behaved members
	Echoed     int64             `json:"echoed"`      // echo replies verified
	Published  int64             `json:"published"`   // publications sent
	Churned    int64             `json:"churned"`     // churn cycles
	Hostile    int64             `json:"hostile"`     // hostile clients run
	Hist       *client.Histogram `json:"hist,omitempty"`
}

// merge adds o into r.
func (r *SoakReport) merge(o *SoakReport) {
	byName := map[string]*Check{}
	for _, c := range r.Checks {
		byName[c.Name] = c
	}
	for _, c := range o.Checks {
		m := byName[c.Name]
		if m == nil {
			m = &Check{Name: c.Name, Want: c.Want}
			r.Checks = append(r.Checks, m)
			byName[c.Name] = m
		}
		m.Runs, m.OK, m.Failed = m.Runs+c.Runs, m.OK+c.OK, m.Failed+c.Failed
		for _, s := range c.Samples {
			if len(m.Samples) < maxSamples {
				m.Samples = append(m.Samples, s)
			}
		}
	}
	sort.Slice(r.Checks, func(i, j int) bool { return r.Checks[i].Name < r.Checks[j].Name })
	if r.Rejects == nil {
		r.Rejects = map[string]int64{}
	}
	for k, v := range o.Rejects {
		r.Rejects[k] += v
	}
	r.Upgrades += o.Upgrades
	r.SlowCloses += o.SlowCloses
	r.DropGaps += o.DropGaps
	r.Delivered += o.Delivered
	r.Echoed += o.Echoed
	r.Published += o.Published
	r.Churned += o.Churned
	r.Hostile += o.Hostile
	if o.Hist != nil {
		if r.Hist == nil {
			r.Hist = &client.Histogram{}
		}
		r.Hist.Merge(o.Hist)
	}
}

// soak is one worker's running soak: the plan, the tallies and the shared counters. Roles run on
// their own goroutines until ctx (the load phase) ends, then drain, verify and return.
type soak struct {
	plan   SoakPlan
	ep     client.Endpoint
	dialer client.Dialer
	ctx    context.Context
	start  time.Time

	mu      sync.Mutex
	checks  map[string]*Check
	rejects map[string]int64

	upgrades, slowCloses, dropGaps        atomic.Int64
	delivered, echoed, published, churned atomic.Int64
	hostile                               atomic.Int64
	rec                                   *client.Recorder
	rooms                                 []*soakRoom
	progress                              atomic.Int64 // verified messages, for the progress line
	rngMu                                 sync.Mutex
	rng                                   *rand.Rand
}

// runSoak runs the worker's share of the soak and reports.
func (w *worker) runSoak(c Cmd) Reply {
	if c.Soak == nil {
		return Reply{Err: "soak: no plan"}
	}
	ep, err := client.ParseURL(c.Soak.URL)
	if err != nil {
		return Reply{Err: err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Soak.Duration)
	defer cancel()
	s := &soak{plan: *c.Soak, ep: ep, dialer: w.dialer, ctx: ctx, start: time.Now(), checks: map[string]*Check{},
		rejects: map[string]int64{}, rec: client.NewRecorder(),
		rng: rand.New(rand.NewPCG(c.Soak.Seed, c.Soak.Seed^0x9e3779b97f4a7c15))}
	stop := w.progress(&s.progress)
	start := time.Now()
	s.run()
	stop()
	return Reply{Soak: s.report(), Elapsed: time.Since(start)}
}

// run starts every role of the plan and waits for all of them.
func (s *soak) run() {
	var wg sync.WaitGroup
	p := s.plan
	if p.Idle > 0 {
		wg.Go(s.idle)
	}
	for i := range p.Echo {
		wg.Go(func() { s.echoClient(i) })
	}
	for i, rp := range p.Rooms {
		r := s.newRoom(i, rp)
		s.mu.Lock()
		s.rooms = append(s.rooms, r)
		s.mu.Unlock()
		wg.Go(r.run)
	}
	for i := range p.Churn {
		wg.Go(func() { s.churn(i) })
	}
	if p.Hostile {
		wg.Go(s.httpHostile)
		for i := range 3 {
			wg.Go(func() { s.frameHostile(i) })
		}
		wg.Go(s.pingFloods)
		for i := range 2 {
			wg.Go(func() { s.slowloris(i) })
			wg.Go(func() { s.silentPeers(i) })
		}
	}
	if p.Pipeline {
		wg.Go(s.pipeliner)
	}
	wg.Wait()
}

// check returns the named tally, creating it with its expected answer.
func (s *soak) check(name, want string) *Check {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.checks[name]
	if c == nil {
		c = &Check{Name: name, Want: want}
		s.checks[name] = c
	}
	return c
}

// pass records one run of check name that got the expected answer.
func (s *soak) pass(name, want string) {
	c := s.check(name, want)
	s.mu.Lock()
	c.Runs++
	c.OK++
	s.mu.Unlock()
}

// fail records one run of check name that did not, with what happened instead.
func (s *soak) fail(name, want, format string, args ...any) {
	c := s.check(name, want)
	s.mu.Lock()
	c.Runs++
	c.Failed++
	if len(c.Samples) < maxSamples {
		c.Samples = append(c.Samples, fmt.Sprintf(format, args...))
	}
	s.mu.Unlock()
}

// result records a run that passed when err is nil.
func (s *soak) result(name, want string, err error) {
	if err != nil {
		s.fail(name, want, "%v", err)
		return
	}
	s.pass(name, want)
}

// rejected counts an HTTP error answer by wsd's reject reason.
func (s *soak) rejected(status int) {
	s.mu.Lock()
	s.rejects[rejectReason(status)]++
	s.mu.Unlock()
}

// rejectReason is wsd's wsd_handshakes_rejected_total reason label of an HTTP status.
func rejectReason(status int) string {
	switch status {
	case 400, 505:
		return "bad_request"
	case 401:
		return "unauthorized"
	case 403:
		return "forbidden"
	case 404:
		return "not_found"
	case 405:
		return "method_not_allowed"
	case 408:
		return "timeout"
	case 411, 413, 414, 431:
		return "too_large"
	case 426:
		return "upgrade_required"
	case 503:
		return "too_many_connections"
	}
	return "other"
}

// intn is a random number in [0, n) from the plan's seed.
func (s *soak) intn(n int) int {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.IntN(n)
}

// bytes returns n random bytes.
func (s *soak) bytes(n int) []byte {
	b := make([]byte, n)
	s.rngMu.Lock()
	for i := range b {
		b[i] = byte(s.rng.Uint32())
	}
	s.rngMu.Unlock()
	return b
}

// remaining is how much of the load phase is left.
func (s *soak) remaining() time.Duration {
	d, _ := s.ctx.Deadline()
	return time.Until(d)
}

// since is the time since the soak started.
func (s *soak) since() time.Duration { return time.Since(s.start) }

// running reports whether the load phase is still on.
func (s *soak) running() bool { return s.ctx.Err() == nil }

// sleep waits d or until the load phase ends; it reports whether the phase is still on.
func (s *soak) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// dial opens an upgraded connection to path and counts the upgrade.
func (s *soak) dial(path string, d *client.Dialer) (*client.Conn, error) {
	if d == nil {
		d = &s.dialer
	}
	c, err := d.Dial(context.Background(), s.ep, path)
	if err == nil {
		s.upgrades.Add(1)
	}
	return c, err
}

func (s *soak) report() *SoakReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &SoakReport{Rejects: map[string]int64{}, Upgrades: s.upgrades.Load(), SlowCloses: s.slowCloses.Load(),
		DropGaps: s.dropGaps.Load(), Delivered: s.delivered.Load(), Echoed: s.echoed.Load(),
		Published: s.published.Load(), Churned: s.churned.Load(), Hostile: s.hostile.Load(),
		Hist: s.rec.Snapshot()}
	for _, c := range s.checks {
		r.Checks = append(r.Checks, c)
	}
	sort.Slice(r.Checks, func(i, j int) bool { return r.Checks[i].Name < r.Checks[j].Name })
	for k, v := range s.rejects {
		r.Rejects[k] = v
	}
	return r
}

// pace is the time of the next send of a paced sender: one interval after the last, or now when the
// sender fell behind (a stalled client must not catch up in a burst: wsd's rate limits would refuse
// the burst, and the sender is meant to stay well under them).
func pace(last time.Time, interval time.Duration) time.Time {
	next, now := last.Add(interval), time.Now()
	if next.Before(now) {
		return now
	}
	return next
}
