package bench

import (
	"fmt"
	"math"

	"github.com/openspeed/wsd/loadtest"
)

// The cells of one server's result for each scenario. A failed scenario gives its error as the note;
// a scenario that measured but failed (deliveries lost) gives both.

func echoCell(size int, f func(*loadtest.EchoResult) float64) func(*Result) Cell {
	return func(r *Result) Cell {
		note := r.Errs[fmt.Sprintf("echo-%d", size)]
		for _, e := range r.Echo {
			if e.Size == size {
				return Cell{V: f(e), Note: note}
			}
		}
		return na(failed(note))
	}
}

func bcastCell(maxRate bool, f func(*loadtest.BroadcastResult) float64) func(*Result) Cell {
	return func(r *Result) Cell {
		b, name := r.BcastRate, "bcast-rate"
		if maxRate {
			b, name = r.BcastMax, "bcast-max"
		}
		note := r.Errs[name]
		if b == nil {
			return na(failed(note))
		}
		return Cell{V: f(b), Note: note}
	}
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
