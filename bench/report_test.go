package bench

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/openspeed/wsd/loadtest"
)

// fakeResult is a server result with the headline figures set directly.
func fakeResult(name string, peer bool, echoCPU, delivPerCPU, idle float64) *Result {
	r := NewResult(Server{Name: name, Peer: peer})
	for _, size := range []int{64, 1024} {
		r.Echo = append(r.Echo, &loadtest.EchoResult{Size: size, CPUPerMillion: loadtest.Num(echoCPU),
			AllocsPerMsg: loadtest.NaN})
	}
	r.BcastMax = []*loadtest.BroadcastResult{{Deliveries: int64(delivPerCPU), ServerCPU: 1, AllocsPerDeliv: loadtest.NaN}}
	r.BcastRate = []*loadtest.BroadcastResult{{Latency: loadtest.Latency{P99: 5000}}}
	r.Idle = &loadtest.IdleResult{RSSPerConn: loadtest.Num(idle), AnonPerConn: loadtest.Num(idle)}
	return r
}

func TestReportRatiosAndVerdicts(t *testing.T) {
	rep := &Report{Config: Config{}.withDefaults(), Results: []*Result{
		fakeResult("wsd", false, 8, 300, 600),
		fakeResult("a", true, 10, 100, 1000),
		fakeResult("b", true, 12, 250, 900),
	}}
	failedPeer := fakeResult("c", true, 1, 1e9, 1)
	failedPeer.Echo, failedPeer.BcastMax, failedPeer.Idle = nil, nil, nil
	failedPeer.Errs["echo-64"] = "boom"
	rep.Results = append(rep.Results, failedPeer)
	rows := rep.Rows()
	check := func(i int, best, ratio float64, met bool) {
		t.Helper()
		r := rows[i]
		if r.Best != best || math.Abs(r.Ratio-ratio) > 1e-9 || r.Verdict == nil || *r.Verdict != met {
			t.Errorf("%s: best %v ratio %v verdict %v; want %v %v %v", r.Metric.Label, r.Best, r.Ratio,
				r.Verdict, best, ratio, met)
		}
	}
	check(0, 10, 0.8, true)         // echo CPU: lower is better, 8/10 ≤ 0.85
	check(2, 250, 1.2, false)       // deliveries per CPU-s: higher is better, 300/250 < 2
	check(5, 5, 1, true)            // light-load p99: 5 ms for all, 1 ≤ 1.1
	check(6, 900, 600/900.0, false) // idle: 600 B > 512 B
	if c := rows[0].Cells[3]; c.Known() || c.String() != "failed: boom" {
		t.Errorf("failed peer cell: %q", c)
	}
	if c := rows[1].Cells[3]; c.String() != "not run" {
		t.Errorf("peer without a result: %q", c)
	}
	var md strings.Builder
	rep.Markdown(&md)
	for _, want := range []string{"| 0.80× | ≤ 0.85 × best peer | **met** |", "- c, echo-64: boom"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

func TestReplaceSection(t *testing.T) {
	doc := []byte("intro\n" + BeginMarker + "\nold\n" + EndMarker + "\noutro\n")
	got := string(replaceSection(doc, []byte("new\n")))
	want := "intro\n" + BeginMarker + "\n\nnew\n\n" + EndMarker + "\noutro\n"
	if got != want {
		t.Fatalf("replace:\n%s\nwant:\n%s", got, want)
	}
	if got := string(replaceSection([]byte("intro"), []byte("x\n"))); !strings.HasPrefix(got, "intro\n"+BeginMarker) ||
		!strings.HasSuffix(got, EndMarker+"\n") {
		t.Fatalf("append:\n%s", got)
	}
}

// TestReportMedianOfRounds: with several rounds a cell is the median of its rounds (an outlier round
// does not move it), unknown figures are left out, and the header says how many rounds.
func TestReportMedianOfRounds(t *testing.T) {
	wsd := fakeResult("wsd", false, 8, 300, 600)
	for _, cpu := range []float64{30, 9} { // rounds 2 and 3 of echo 64 B (round 1: 8)
		wsd.Echo = append(wsd.Echo, &loadtest.EchoResult{Size: 64, CPUPerMillion: loadtest.Num(cpu)})
	}
	wsd.BcastMax = append(wsd.BcastMax, &loadtest.BroadcastResult{Deliveries: 500, ServerCPU: 1},
		&loadtest.BroadcastResult{ServerCPU: 0}) // a round without CPU figures: NaN, left out
	rep := &Report{Config: Config{Rounds: 3}.withDefaults(), Results: []*Result{wsd, fakeResult("a", true, 10, 100, 1000)}}
	rows := rep.Rows()
	if c := rows[0].Cells[0]; c.V != 9 {
		t.Errorf("echo 64 B over rounds 8, 30, 9: %v, want the median 9", c)
	}
	if c := rows[1].Cells[0]; c.V != 8 {
		t.Errorf("echo 1 KiB with one round: %v, want 8", c)
	}
	if c := rows[2].Cells[0]; c.V != 400 {
		t.Errorf("deliveries per CPU-s over rounds 300, 500, unknown: %v, want 400", c)
	}
	var md strings.Builder
	rep.Markdown(&md)
	if !strings.Contains(md.String(), "medians of 3 rounds") {
		t.Errorf("markdown does not say the figures are medians:\n%s", md.String())
	}
	sc := rep.Config.Scenarios()
	if got := sc[0].subName(rep.Config, 1, "wsd"); got != "echo-64/round=2/server=wsd" {
		t.Errorf("sub-benchmark name %q", got)
	}
	if idle := sc[len(sc)-1]; idle.rounds(rep.Config) != 1 || idle.subName(rep.Config, 0, "wsd") != "idle/server=wsd" {
		t.Errorf("idle runs %d rounds as %q; want once, without a round in its name", idle.rounds(rep.Config),
			idle.subName(rep.Config, 0, "wsd"))
	}
}

// TestBroadcastTime: the light-load broadcast measures 3 × Duration unless RateTime says otherwise;
// the maximum-rate one measures Duration.
func TestBroadcastTime(t *testing.T) {
	c := Config{Duration: 4 * time.Second}.withDefaults()
	if got := c.broadcastTime(c.Rate); got != 12*time.Second {
		t.Errorf("light load: %v, want 12s", got)
	}
	if got := c.broadcastTime(0); got != 4*time.Second {
		t.Errorf("maximum rate: %v, want 4s", got)
	}
	c = Config{Duration: 4 * time.Second, RateTime: time.Second}.withDefaults()
	if got := c.broadcastTime(c.Rate); got != time.Second {
		t.Errorf("light load with RateTime 1s: %v", got)
	}
}
