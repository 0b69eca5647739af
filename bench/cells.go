package bench

import (
	"fmt"
	"math"
	"slices"

	"github.com/openspeed/wsd/loadtest"
)

// The cells of one server's result for each scenario. A failed scenario gives its error as the note;
// a scenario that measured but failed (deliveries lost) gives both.

func echoCell(size int, f func(*loadtest.EchoResult) float64) func(*Result) Cell {
	return func(r *Result) Cell {
		note := r.Errs[fmt.Sprintf("echo-%d", size)]
		var vs []float64
		for _, e := range r.Echo {
			if e.Size == size {
				vs = append(vs, f(e))
			}
		}
		if len(vs) == 0 {
			return na(failed(note))
		}
		return Cell{V: median(vs), Note: note}
	}
}

func bcastCell(maxRate bool, f func(*loadtest.BroadcastResult) float64) func(*Result) Cell {
	return func(r *Result) Cell {
		bs, name := r.BcastRate, "bcast-rate"
		if maxRate {
			bs, name = r.BcastMax, "bcast-max"
		}
		note := r.Errs[name]
		if len(bs) == 0 {
			return na(failed(note))
		}
		vs := make([]float64, len(bs))
		for i, b := range bs {
			vs[i] = f(b)
		}
		return Cell{V: median(vs), Note: note}
	}
}

// median is the median of the known values in vs (the mean of the middle two for an even count);
// NaN when none is known.
func median(vs []float64) float64 {
	known := make([]float64, 0, len(vs))
	for _, v := range vs {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			known = append(known, v)
		}
	}
	if len(known) == 0 {
		return math.NaN()
	}
	slices.Sort(known)
	n := len(known)
	if n%2 == 1 {
		return known[n/2]
	}
	return (known[n/2-1] + known[n/2]) / 2
}

// deliveriesPerCPU is deliveries per server CPU-second over the whole run (publishing and draining).
func deliveriesPerCPU(b *loadtest.BroadcastResult) float64 {
	if b.ServerCPU <= 0 {
		return math.NaN()
	}
	return float64(b.Deliveries) / b.ServerCPU
}

func idleCell(r *Result) Cell { return idleFigure(r, float64(idleOf(r).RSSPerConn)) }

func idleOf(r *Result) *loadtest.IdleResult {
	if r.Idle == nil {
		return &loadtest.IdleResult{RSSPerConn: loadtest.NaN, AnonPerConn: loadtest.NaN}
	}
	return r.Idle
}

func idleFigure(r *Result, v float64) Cell {
	note := r.Errs["idle"]
	if r.Idle == nil {
		return na(failed(note))
	}
	return Cell{V: v, Note: note}
}

// failed is the note of a scenario that produced no figure.
func failed(note string) string {
	if note == "" {
		return "not run"
	}
	return "failed: " + note
}
