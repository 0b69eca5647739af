package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestSmokeCompare runs every scenario of the comparison at a tiny size against every server (each
// server in its own subtest, in parallel): it checks the machinery and the peers' routes, not the
// numbers.
func TestSmokeCompare(t *testing.T) {
	srvs := servers(t)
	cfg := Config{EchoConns: 8, EchoSizes: []int{64, 1024}, Members: 20, Rate: 50, Duration: 300 * time.Millisecond,
		Warmup: -1, IdleSteps: []int{0, 20, 40}, IdleRooms: 4, Settle: 100 * time.Millisecond,
		Drain: 2 * time.Second, Workers: 2}
	rep := NewReport(cfg, "smoke")
	for _, s := range srvs {
		rep.Results = append(rep.Results, NewResult(s))
	}
	t.Run("servers", func(t *testing.T) {
		for i, s := range srvs {
			t.Run(s.Name, func(t *testing.T) {
				t.Parallel()
				c := cfg
				c.Out = testWriter{t}
				for _, sc := range c.Scenarios() {
					if err := Measure(s, sc, c, rep.Results[i]); err != nil {
						t.Errorf("%s: %v", sc.Name, err)
					}
				}
			})
		}
	})
	rows := rep.Rows()
	for _, row := range rows[:7] { // the rows with DESIGN.md targets: echo 64 and 1024, broadcast ×4, idle
		for i, c := range row.Cells {
			if !c.Known() || c.Note != "" {
				t.Errorf("%s, %s: %v", row.Metric.Label, rep.Results[i].Server, c)
			}
		}
	}
	var md bytes.Buffer
	rep.Markdown(&md)
	t.Logf("\n%s", md.String())
	for _, want := range []string{"| metric | wsd | gorilla | gws | nbio |", "deliveries per server CPU-second"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

// testWriter sends scenario progress to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
