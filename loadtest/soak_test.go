package loadtest

import (
	"flag"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

var (
	flagSoakDuration = flag.Duration("soak-duration", 10*time.Minute, "soak: load phase (make test runs 60s)")
	flagSoakSVG      = flag.String("soak-svg", "", "soak: write the server's curves over time to this SVG file")
	flagSoakNoPipe   = flag.Bool("soak-no-pipeliner", false, "soak: leave out the HTTP pipeliner (its held answers and their 64 MiB read add to the heap figures)")
	flagSoakDrift    = flag.Float64("soak-max-drift", 0.05, "soak: RSS and live-heap drift bound (make test's 60 s run: 0.15, see the Makefile)")
)

// BenchmarkSoak runs everything at once for -soak-duration against one wsd with realistic limits
// (SoakConfig.ServerEnv: rate limits on; -wsd-env, when given, is added after them) and fails on
// every broken assertion: losses or reordering for well-behaved clients, a hostile client that did
// not get its exact answer, server counters that disagree with the clients, goroutine growth, RSS or
// live-heap drift over 5 % after warm-up.
//
//	cd loadtest && go test -run '^$' -bench Soak -benchtime 1x -timeout 30m -args -soak-duration 10m -soak-svg soak.svg
func BenchmarkSoak(b *testing.B) {
	cfg := SoakConfig{Duration: *flagSoakDuration, Workers: *flagWorkers, NoPipeliner: *flagSoakNoPipe,
		MaxDrift: *flagSoakDrift}
	env := cfg.ServerEnv()
	if flagGiven("wsd-env") && *flagWSDEnv != "" {
		env = append(env, strings.Split(*flagWSDEnv, ",")...)
	}
	s := startWSDEnv(b, env)
	res, err := RunSoak(Env{Target: s.Target("/"), Workers: *flagWorkers}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if l := s.Log(); strings.Contains(strings.Join(l.Tail, "\n"), "panic") {
		res.Failures = append(res.Failures, "wsd logged a panic: "+strings.Join(l.Tail, " | "))
	}
	record(func(r *Results) { r.Soak = res })
	d := res.Drift
	report(b, map[string]Num{
		"rss-drift-%":       Num(100 * d.RSS.Drift),
		"live-heap-drift-%": Num(100 * d.LiveHeap.Drift),
		"rss-MiB":           Num(d.RSS.Last / (1 << 20)),
		"live-heap-MiB":     Num(d.LiveHeap.Last / (1 << 20)),
		"goroutines-spread": Num(d.Goroutines.Max - d.Goroutines.Min),
		"echoed":            Num(res.Clients.Echoed),
		"delivered":         Num(res.Clients.Delivered),
		"hostile":           Num(res.Clients.Hostile),
		"failures":          Num(len(res.Failures)),
		"server-cpu-%":      Num(100 * cpuShare(res.Points)),
	})
	if *flagSoakSVG != "" {
		if err := os.WriteFile(*flagSoakSVG, []byte(res.SVG()), 0o644); err != nil {
			b.Error(err)
		}
	}
	for _, f := range res.Failures {
		b.Error(f)
	}
}

func TestDriftWindows(t *testing.T) {
	cfg := SoakConfig{Duration: 100 * time.Second, Warmup: 20 * time.Second, Window: 10 * time.Second}.withDefaults()
	var pts []SoakPoint
	for i := range 101 {
		rss := int64(100 << 20)
		if i < 20 {
			rss = 50 << 20 // warm-up: ignored
		}
		if i >= 90 {
			rss = 104 << 20 // last window: +4 %
		}
		pts = append(pts, SoakPoint{T: float64(i), RSS: rss, LiveHeap: NaN, Goroutines: Num(10 + i%2)})
	}
	d := analyze(pts, cfg)
	if math.Abs(d.RSS.Drift-0.04) > 1e-9 || d.RSS.First != 100<<20 || d.RSS.Last != 104<<20 {
		t.Fatalf("rss drift %+v", d.RSS)
	}
	if d.RSS.N != 81 || d.RSS.Min != 100<<20 || d.RSS.SlopeDrift <= 0 {
		t.Fatalf("rss samples %+v", d.RSS)
	}
	if d.LiveHeap.N != 0 || !math.IsNaN(d.LiveHeap.Drift) {
		t.Fatalf("no live heap samples must give an unknown drift: %+v", d.LiveHeap)
	}
	if d.Goroutines.Max-d.Goroutines.Min != 1 {
		t.Fatalf("goroutines %+v", d.Goroutines)
	}
	res := &SoakResult{Drift: d, Clients: &SoakReport{}, Final: SoakFinal{Alive: true}, Counters: map[string]float64{}}
	fails := strings.Join(res.verify(cfg), "\n")
	if strings.Contains(fails, "RSS drifted") || !strings.Contains(fails, "live Go heap (after GC) drifted") {
		t.Fatalf("4%% RSS drift passes, an unknown heap drift fails:\n%s", fails)
	}
	for i := 90; i <= 100; i++ {
		pts[i].RSS = 106 << 20 // +6 %
	}
	res.Drift = analyze(pts, cfg)
	if !strings.Contains(strings.Join(res.verify(cfg), "\n"), "RSS drifted") {
		t.Fatalf("drift %+v must fail", res.Drift.RSS)
	}
}

func TestSoakMemberAccounting(t *testing.T) {
	m := newSoakMember()
	for _, seq := range []int64{1, 2, 4, 3, 5, 5, 7} {
		m.receive(seq, time.Second)
	}
	err := m.verdict(7)
	if err == nil || !strings.Contains(err.Error(), "1 of 7 publications lost, 1 out of order, 1 twice") ||
		!strings.Contains(err.Error(), "first: publication 4 arrived when 3 was due (at 1.0s)") {
		t.Fatalf("verdict: %v", err)
	}
	ok := newSoakMember()
	for seq := int64(1); seq <= 3; seq++ {
		ok.receive(seq, 0)
	}
	if err := ok.verdict(3); err != nil || ok.received() != 3 {
		t.Fatalf("in-order member: %v, %d received", err, ok.received())
	}
	if err := ok.verdict(4); err == nil {
		t.Fatal("a missing last publication must fail")
	}
}
