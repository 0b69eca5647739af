package main

import "testing"

// TestReclaimer: memory is given back once connections fall below half of their peak by at least
// reclaimMin, and the peak restarts from there.
func TestReclaimer(t *testing.T) {
	var r reclaimer
	for _, step := range []struct{ open, wantPeak int }{
		{100, 100},
		{5000, 5000},
		{3000, 5000}, // above half of the peak: nothing
		{2400, 2400}, // below half and 2600 fewer: reclaimed, the peak restarts
		{2600, 2600},
		{1250, 1250}, // below half of 2600 and 1350 fewer: reclaimed
	} {
		r.check(step.open)
		if r.peak != step.wantPeak {
			t.Fatalf("after %d open: peak %d, want %d", step.open, r.peak, step.wantPeak)
		}
	}
	r = reclaimer{peak: 1500}
	r.check(700) // below half but only 800 fewer: not worth a forced GC
	if r.peak != 1500 {
		t.Fatalf("peak %d after a small drop, want 1500", r.peak)
	}
}
