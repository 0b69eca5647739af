package loadtest

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// The smoke tests run every scenario at a tiny size against a real wsd process and real worker
// processes: they check the machinery, not the numbers.

func smokeEnv(t *testing.T, path string) Env {
	s := startWSD(t)
	return Env{Target: s.Target(path), Workers: 2, Out: testWriter{t}}
}

func TestSmokeIdle(t *testing.T) {
	e := smokeEnv(t, "/rooms/idle-{room}")
	res, err := RunIdle(e, IdleConfig{Steps: []int{0, 25, 50}, Rooms: 5, Settle: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Points) != 3 || res.Points[2].Conns != 50 || res.Failed != 0 || res.Lost != 0 {
		t.Fatalf("idle: %+v", res)
	}
	// ±2: an HTTP connection of the sampler itself may still be closing on the server side.
	if res.Points[2].FDs < res.Points[0].FDs+48 {
		t.Fatalf("server fds %d → %d, want 50 more", res.Points[0].FDs, res.Points[2].FDs)
	}
	if !res.RSSPerConn.Known() || res.ConnectRate <= 0 {
		t.Fatalf("rss/conn %v, connect rate %v", res.RSSPerConn, res.ConnectRate)
	}
}

func TestSmokeEcho(t *testing.T) {
	e := smokeEnv(t, "/echo")
	for _, binary := range []bool{false, true} {
		res, err := RunEcho(e, EchoConfig{Conns: 20, Size: 64, Depth: 2, Binary: binary, Duration: 500 * time.Millisecond, Warmup: -1})
		if err != nil {
			t.Fatal(err)
		}
		if res.Msgs == 0 || res.Dead != 0 || res.Hist.Count != res.Msgs || res.Latency.P50 <= 0 {
			t.Fatalf("echo binary=%v: %+v", binary, res)
		}
		if res.ServerCPU < 0 || !res.AllocsPerMsg.Known() && hasMetrics(e) {
			t.Fatalf("echo cost: cpu %v allocs/msg %v", res.ServerCPU, res.AllocsPerMsg)
		}
	}
}

func TestSmokeBroadcast(t *testing.T) {
	e := smokeEnv(t, "/rooms/bcast-{room}")
	for _, rate := range []float64{50, 0} {
		cfg := BroadcastConfig{Rooms: 2, Members: 25, Rate: rate, Duration: 500 * time.Millisecond,
			Drain: 2 * time.Second}
		res, err := RunBroadcast(e, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Sent == 0 || res.Lost != 0 || res.Extra != 0 || res.Dead != 0 || res.Deliveries != res.Expected {
			t.Fatalf("broadcast rate %v: %+v", rate, res)
		}
		if res.Expected != res.Sent*25 || res.Hist.Count != res.Deliveries {
			t.Fatalf("broadcast rate %v: expected %d of sent %d, hist %d", rate, res.Expected, res.Sent, res.Hist.Count)
		}
	}
}

func TestSmokeStorm(t *testing.T) {
	e := smokeEnv(t, "/rooms/storm-{room}")
	res, err := RunStorm(e, StormConfig{Conns: 50, Rooms: 5, Settle: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 0 || res.OpenRate <= 0 || res.CloseRate <= 0 || res.CleanCloses != 50 {
		t.Fatalf("storm: %+v", res)
	}
	if res.FDsAfter > res.FDsBefore+8 {
		t.Fatalf("server fds %d before, %d after closing", res.FDsBefore, res.FDsAfter)
	}
}

// TestResultsRoundTrip writes results as JSON and markdown and reads the JSON back.
func TestResultsRoundTrip(t *testing.T) {
	r := NewResults(Target{URL: "ws://x/echo"})
	r.Idle = &IdleResult{Points: []IdlePoint{{Conns: 0, RSS: 1 << 20, HeapInuse: NaN}, {Conns: 10, RSS: 2 << 20, HeapInuse: 5}}}
	r.Idle.fit()
	r.Echo = []*EchoResult{{Conns: 1, Size: 64, CPUPerMillion: NaN, AllocsPerMsg: 0.5}}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Echo[0].CPUPerMillion.Known() || back.Echo[0].AllocsPerMsg != 0.5 || back.Idle.Points[0].HeapInuse.Known() {
		t.Fatalf("round trip: %+v %+v", back.Echo[0], back.Idle.Points[0])
	}
	if got := float64(back.Idle.RSSPerConn); math.Abs(got-(1<<20)/10.0) > 1e-6 {
		t.Fatalf("rss/conn %v", got)
	}
	var md bytes.Buffer
	back.WriteMarkdown(&md)
	if !strings.Contains(md.String(), "| idle conns |") || !strings.Contains(md.String(), "| 1 | 64 |") {
		t.Fatalf("markdown:\n%s", md.String())
	}
}

func TestLinearFit(t *testing.T) {
	xs := []float64{0, 1, 2, 3, 4}
	f := LinearFit(xs, []float64{3, 5, 7, 9, 11})
	if f.Slope != 2 || f.Intercept != 3 || f.R2 != 1 {
		t.Fatalf("exact line: %+v", f)
	}
	f = LinearFit(xs, []float64{1, math.NaN(), 2, 4, 3})
	if math.Abs(f.Slope-0.6285714) > 1e-6 || f.R2 <= 0 || f.R2 >= 1 {
		t.Fatalf("noisy line with a NaN: %+v", f)
	}
	if (LinearFit([]float64{1, 1}, []float64{2, 3}) != Fit{}) || (LinearFit(xs[:1], xs[:1]) != Fit{}) {
		t.Fatal("degenerate input must give a zero fit")
	}
}

func hasMetrics(e Env) bool {
	m, err := Scrape(e.Target.MetricsURL)
	return err == nil && m != nil
}

// testWriter sends scenario progress to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestSmokeHeartbeat(t *testing.T) {
	s := startWSDWith(t, "WSD_PING_INTERVAL=500ms", "WSD_IDLE_TIMEOUT=30s")
	e := Env{Target: s.Target("/rooms/hb-{room}"), Workers: 2, Out: testWriter{t}}
	res, err := RunHeartbeat(e, HeartbeatConfig{Conns: 40, Hold: 6 * time.Second, Rooms: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pings == 0 || !res.PingsOut.Known() || res.PingsOut <= 0 || res.Lost != 0 || !res.CPUPerPing.Known() {
		t.Fatalf("heartbeat: %+v", res)
	}
}

// TestSmokeSoak runs the soak for a few seconds at a tiny size: the well-behaved clients must get
// everything, in order, and the server's upgrade count must match theirs. (The hostile clients and
// the drift need the real run: make soak.)
func TestSmokeSoak(t *testing.T) {
	cfg := SoakConfig{Duration: 8 * time.Second, Workers: 3, Idle: 60, Echo: 4, Rooms: 1, Members: 5,
		SlowGood: 3, Slow: 1, SlowCycle: 3 * time.Second, ChurnRate: 5, HostileEvery: time.Second}
	s := startWSDEnv(t, cfg.ServerEnv())
	res, err := RunSoak(Env{Target: s.Target("/"), Out: testWriter{t}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"idle", "echo", "room member", "chat member", "room publisher",
		"churn: echo, clean close", "churn: echo, RST", "churn: room member", "churn: TCP connect and RST",
		"churn: keep-alive HTTP", "http: random bytes"} {
		c := findCheck(res.Clients, name)
		if c == nil || c.Runs == 0 || c.Failed > 0 {
			t.Errorf("%s: %+v", name, c)
		}
	}
	if up := res.Counters["wsd_upgrades_total"]; up != float64(res.Clients.Upgrades) || up == 0 {
		t.Errorf("upgrades: server %v, clients %d", up, res.Clients.Upgrades)
	}
	if len(res.Points) < 10 || !res.Final.Alive || res.Final.WebSockets != 0 {
		t.Errorf("%d samples, final %+v", len(res.Points), res.Final)
	}
}

func findCheck(r *SoakReport, name string) *Check {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return nil
}
