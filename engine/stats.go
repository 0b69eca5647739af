package engine

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"
)

// RejectReason names why a request was refused before any upgrade.
type RejectReason uint8

// Reject reasons (indexes of Stats.Rejected).
const (
	RejectBadRequest      RejectReason = iota // 400: malformed request or upgrade headers
	RejectUnauthorized                        // 401 from an Upgrade hook
	RejectForbidden                           // 403: origin or an Upgrade hook
	RejectNotFound                            // 404
	RejectMethod                              // 405
	RejectTimeout                             // 408: request not completed within HandshakeTimeout
	RejectTooLarge                            // 411, 413, 414, 431: size limits
	RejectUpgradeRequired                     // 426: not an upgrade, or WebSocket version not 13
	RejectTooMany                             // 503: MaxConnections / MaxConnectionsPerIP
	RejectOther                               // any other status >= 400
	numRejectReasons
)

var rejectNames = [numRejectReasons]string{"bad_request", "unauthorized", "forbidden", "not_found",
	"method_not_allowed", "timeout", "too_large", "upgrade_required", "too_many_connections", "other"}

// String is the reason's metric label.
func (r RejectReason) String() string {
	if r < numRejectReasons {
		return rejectNames[r]
	}
	return "other"
}

// rejectReasonOf maps an HTTP status to a reason.
func rejectReasonOf(status int) RejectReason {
	switch status {
	case http.StatusBadRequest, http.StatusHTTPVersionNotSupported:
		return RejectBadRequest
	case http.StatusUnauthorized:
		return RejectUnauthorized
	case http.StatusForbidden:
		return RejectForbidden
	case http.StatusNotFound:
		return RejectNotFound
	case http.StatusMethodNotAllowed:
		return RejectMethod
	case http.StatusRequestTimeout:
		return RejectTimeout
	case http.StatusLengthRequired, http.StatusRequestEntityTooLarge, http.StatusRequestURITooLong,
		http.StatusRequestHeaderFieldsTooLarge:
		return RejectTooLarge
	case http.StatusUpgradeRequired:
		return RejectUpgradeRequired
	case http.StatusServiceUnavailable:
		return RejectTooMany
	}
	return RejectOther
}

// numCloseSlots counts closes per code: 1000-1015 by code, then one slot for 3000-4999 and one for
// anything else.
const numCloseSlots = 18

func closeSlot(code CloseCode) int {
	switch {
	case code >= 1000 && code <= 1015:
		return int(code - 1000)
	case code >= 3000 && code <= 4999:
		return 16
	}
	return 17
}

// loopStats are one loop's counters. The loop (and, for drops, senders under the loop lock) writes
// them; the atomics are uncontended; Stats sums them over loops.
type loopStats struct {
	opened, closed        atomic.Uint64
	upgrades              atomic.Uint64
	messagesIn, bytesIn   atomic.Uint64
	messagesOut, bytesOut atomic.Uint64
	rateLimited           atomic.Uint64 // messages refused by a RateLimit
	controlFloods         atomic.Uint64 // connections failed for control frames over ControlLimit
	drops                 atomic.Uint64 // messages skipped by the slow-consumer policy
	slowCloses            atomic.Uint64 // connections closed by the slow-consumer policy
	readPauses            atomic.Uint64 // HTTP connections no longer read until their answers drain
	pipelineOverflows     atomic.Uint64 // HTTP connections answered 429 for holding too many requests
	rejected              [numRejectReasons]atomic.Uint64
	closes                [numCloseSlots]atomic.Uint64 // WebSocket closes by the peer's code
}

// Stats is a snapshot of the App's counters (totals since start unless noted).
type Stats struct {
	Connections int64 // open sockets now
	WebSockets  int64 // open WebSockets now
	Opened      uint64
	Closed      uint64
	Upgrades    uint64
	// Rejected counts requests refused before an upgrade, by RejectReason.
	Rejected [numRejectReasons]uint64
	// Closes counts closed WebSockets by close code: index CloseSlot(code).
	Closes                [numCloseSlots]uint64
	MessagesIn, BytesIn   uint64
	MessagesOut, BytesOut uint64 // WebSocket frames and bytes handed to the sockets (control frames included)
	Broadcasts            uint64 // Publish/Broadcast calls that reached a room
	Deliveries            uint64 // frames queued by broadcasts
	Drops                 uint64 // messages skipped by the slow-consumer policy
	SlowCloses            uint64
	RateLimited           uint64
	ControlFloods         uint64 // connections failed with 1008 for control frames over ControlLimit
	Rooms, Members        int
	// LoopLag is the longest time a task waited for a loop, measured by Stats itself.
	LoopLag time.Duration

	// ReadPauses counts the times an HTTP connection stopped being read because the answers queued for
	// it reached MaxBackpressure (it is read again once they drain to half of it).
	ReadPauses uint64
	// PipelineOverflows counts HTTP connections closed (with 429) because, while they were not being
	// read, the requests they pipelined grew past MaxHeaderBytes + MaxBodyBytes.
	PipelineOverflows uint64
}

// CloseSlot is the index of Stats.Closes for code: 0-15 for 1000-1015, 16 for 3000-4999, 17 others.
func CloseSlot(code CloseCode) int { return closeSlot(code) }

// Counters sums the loops' counters without measuring loop lag (Stats.LoopLag is 0). Safe from any
// goroutine, handlers included; it allocates, call it at scrape frequency.
func (a *App) Counters() Stats {
	s := a.counters()
	return s
}

// Stats is Counters plus LoopLag, measured with one tiny task per loop, waited for at most until ctx
// is done. It waits for every loop, so it must not be called from a handler (the handler's own loop
// cannot run the task until the handler returns): call it from another goroutine. Safe from any other
// goroutine.
func (a *App) Stats(ctx context.Context) Stats {
	s := a.counters()
	s.LoopLag = a.measureLag(ctx, a.loopList())
	return s
}

func (a *App) counters() Stats {
	s := Stats{Connections: a.conns.Load(), Rooms: a.table.Len()}
	s.Broadcasts, s.Deliveries = a.broadcasts.Load(), a.deliveries.Load()
	for i := range a.codecConns {
		s.WebSockets += a.codecConns[i].Load()
	}
	for _, rc := range a.table.List() {
		s.Members += rc.Members
	}
	for _, l := range a.loopList() {
		s.add(&l.stats)
	}
	return s
}

func (s *Stats) add(ls *loopStats) {
	s.Opened += ls.opened.Load()
	s.Closed += ls.closed.Load()
	s.Upgrades += ls.upgrades.Load()
	s.MessagesIn += ls.messagesIn.Load()
	s.BytesIn += ls.bytesIn.Load()
	s.MessagesOut += ls.messagesOut.Load()
	s.BytesOut += ls.bytesOut.Load()
	s.Drops += ls.drops.Load()
	s.SlowCloses += ls.slowCloses.Load()
	s.ReadPauses += ls.readPauses.Load()
	s.PipelineOverflows += ls.pipelineOverflows.Load()
	s.RateLimited += ls.rateLimited.Load()
	s.ControlFloods += ls.controlFloods.Load()
	for i := range s.Rejected {
		s.Rejected[i] += ls.rejected[i].Load()
	}
	for i := range s.Closes {
		s.Closes[i] += ls.closes[i].Load()
	}
}

// measureLag queues one task on every loop and returns the longest wait.
func (a *App) measureLag(ctx context.Context, loops []*loop) time.Duration {
	if len(loops) == 0 || a.draining.Load() {
		return 0
	}
	done := make(chan time.Duration, len(loops))
	start := time.Now()
	queued := 0
	for _, l := range loops {
		if l.execute(func() { done <- time.Since(start) }) {
			queued++
		}
	}
	var worst time.Duration
	for ; queued > 0; queued-- {
		select {
		case d := <-done:
			worst = max(worst, d)
		case <-ctx.Done():
			return max(worst, time.Since(start))
		}
	}
	return worst
}
