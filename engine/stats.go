package engine

import "sync/atomic"

// loopStats are one loop's counters. Only the loop (and, for drops, senders under the loop lock)
// writes them, so the atomics are uncontended; readers sum them over loops.
type loopStats struct {
	rateLimited atomic.Uint64 // messages refused by a RateLimit
	drops       atomic.Uint64 // messages skipped by the slow-consumer policy
	slowCloses  atomic.Uint64 // connections closed by the slow-consumer policy
}
