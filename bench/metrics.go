package bench

import (
	"fmt"
	"math"

	"github.com/openspeed/wsd/loadtest"
)

// Cell is one server's figure for one metric: V (NaN when not measured) and a note (a failure, "n/a").
type Cell struct {
	V    float64 `json:"v"`
	Note string  `json:"note,omitempty"`
}

// Known reports whether the cell holds a figure.
func (c Cell) Known() bool { return !math.IsNaN(c.V) && !math.IsInf(c.V, 0) }

func na(note string) Cell { return Cell{V: math.NaN(), Note: note} }

// Metric is one row of the table.
type Metric struct {
	Label string
	Lower bool // lower is better (the ratio's sense)
	Value func(r *Result) Cell
	// Goal judges wsd against the DESIGN.md target: the target's text and whether it is met (nil: no
	// verdict for this row). ratio is wsd ÷ best peer (NaN without a peer figure).
	Goal func(wsd, ratio float64) (string, *bool)
}

// Metrics are the rows of the table for the sizes of cfg: the DESIGN.md targets first (echo CPU,
// broadcast at saturation, broadcast at light load, idle memory), then context rows without targets.
func (c Config) Metrics() []Metric {
	c = c.withDefaults()
	var ms []Metric
	for _, size := range c.EchoSizes {
		ms = append(ms, Metric{Label: fmt.Sprintf("echo: server CPU µs per message (%d conns × %d B)", c.EchoConns, size),
			Lower: true, Value: echoCell(size, func(e *loadtest.EchoResult) float64 { return float64(e.CPUPerMillion) }),
			Goal: ratioGoal("≤ 0.85 × best peer", func(r float64) bool { return r <= 0.85 })})
	}
	ms = append(ms,
		Metric{Label: fmt.Sprintf("broadcast: deliveries per server CPU-second (1 × %d, max rate)", c.Members),
			Value: bcastCell(true, deliveriesPerCPU),
			Goal:  ratioGoal("≥ 2 × best peer (CPU per delivery ≤ 0.5 ×)", func(r float64) bool { return r >= 2 })},
		Metric{Label: fmt.Sprintf("broadcast: deliveries/s (1 × %d, max rate)", c.Members),
			Value: bcastCell(true, func(b *loadtest.BroadcastResult) float64 { return b.DeliveriesRate }),
			Goal:  ratioGoal("≥ 3 × best peer", func(r float64) bool { return r >= 3 })},
		Metric{Label: fmt.Sprintf("broadcast: server CPU µs per delivery (1 × %d, %g msg/s: the same load for all)", c.Members, c.Rate),
			Lower: true, Value: bcastCell(false, func(b *loadtest.BroadcastResult) float64 { return float64(b.CPUPerMillion) }),
			Goal: ratioGoal("≤ 1.1 × best peer", func(r float64) bool { return r <= 1.1 })},
		Metric{Label: fmt.Sprintf("broadcast: p99 latency ms (1 × %d, %g msg/s)", c.Members, c.Rate), Lower: true,
			Value: bcastCell(false, func(b *loadtest.BroadcastResult) float64 { return b.Latency.P99 / 1e3 }),
			Goal:  ratioGoal("≤ 1.1 × best peer", func(r float64) bool { return r <= 1.1 })},
		Metric{Label: fmt.Sprintf("idle: bytes per connection (RSS slope, 0 → %d conns)", c.IdleSteps[len(c.IdleSteps)-1]),
			Lower: true, Value: idleCell,
			Goal: func(wsd, _ float64) (string, *bool) { return "≤ 512 B", verdict(wsd, wsd <= 512) }},
	)
	return append(ms, c.contextMetrics()...)
}

// contextMetrics are rows that explain the others: throughput, allocations (wsd only), other percentiles.
// The allocation rows have no verdict: DESIGN.md's 0 per message and per recipient is asserted in
// process by the engine's allocation tests (TestEchoAllocs, TestBroadcastAllocs); the figures here
// divide the server's whole allocation count over the run, background work included.
func (c Config) contextMetrics() []Metric {
	var ms []Metric
	for _, size := range c.EchoSizes {
		ms = append(ms, Metric{Label: fmt.Sprintf("echo: messages/s (%d B)", size),
			Value: echoCell(size, func(e *loadtest.EchoResult) float64 { return e.MsgsPerSec }), Goal: noGoal("")})
	}
	ms = append(ms,
		Metric{Label: fmt.Sprintf("echo: round-trip p99 ms (%d B)", c.EchoSizes[0]), Lower: true,
			Value: echoCell(c.EchoSizes[0], func(e *loadtest.EchoResult) float64 { return e.Latency.P99 / 1e3 }), Goal: noGoal("")},
		Metric{Label: fmt.Sprintf("echo: allocations per message (%d B)", c.EchoSizes[0]), Lower: true,
			Value: wsdOnly(echoCell(c.EchoSizes[0], func(e *loadtest.EchoResult) float64 { return float64(e.AllocsPerMsg) })),
			Goal:  noGoal("0 (TestEchoAllocs; this delta includes background work)")},
		Metric{Label: "broadcast: allocations per delivery (max rate)", Lower: true,
			Value: wsdOnly(bcastCell(true, func(b *loadtest.BroadcastResult) float64 { return float64(b.AllocsPerDeliv) })),
			Goal:  noGoal("0 (TestBroadcastAllocs; this delta includes background work)")},
		Metric{Label: fmt.Sprintf("broadcast: p50 latency ms (%g msg/s)", c.Rate), Lower: true,
			Value: bcastCell(false, func(b *loadtest.BroadcastResult) float64 { return b.Latency.P50 / 1e3 }), Goal: noGoal("")},
		Metric{Label: "idle: anonymous RSS bytes per connection", Lower: true,
			Value: func(r *Result) Cell { return idleFigure(r, float64(idleOf(r).AnonPerConn)) }, Goal: noGoal("")},
	)
	return ms
}

func ratioGoal(text string, ok func(ratio float64) bool) func(wsd, ratio float64) (string, *bool) {
	return func(_, ratio float64) (string, *bool) { return text, verdict(ratio, ok(ratio)) }
}

func noGoal(text string) func(wsd, ratio float64) (string, *bool) {
	return func(float64, float64) (string, *bool) { return text, nil }
}

// verdict is ok, or nil when v is unknown.
func verdict(v float64, ok bool) *bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &ok
}

func wsdOnly(f func(*Result) Cell) func(*Result) Cell {
	return func(r *Result) Cell {
		if r.Peer {
			return na("n/a")
		}
		return f(r)
	}
}
