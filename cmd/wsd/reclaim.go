package main

import "runtime/debug"

// reclaimer gives memory back to the operating system after many connections closed. The Go runtime
// keeps the heap it grew for a crowd of connections until a garbage collection shrinks the heap goal,
// and an idle server allocates too little to trigger one, so after a connection storm RSS would stay at
// its peak for minutes. It runs on the metrics probe goroutine (every metrics.lag_interval).
type reclaimer struct {
	peak int
}

// reclaimMin is the drop in open connections that makes a reclaim worth its cost (a forced GC).
const reclaimMin = 1000

// check frees memory once open connections have fallen below half of their peak since the last
// reclaim, by at least reclaimMin.
func (r *reclaimer) check(open int) {
	r.peak = max(r.peak, open)
	if open < r.peak/2 && r.peak-open >= reclaimMin {
		debug.FreeOSMemory()
		r.peak = open
	}
}
