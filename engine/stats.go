package engine

import (
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

// String is the reason's metric label. Safe from any goroutine.
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
	// Closes counts closed WebSockets by the peer's close code: 1000-1015 each under its code, the
	// application codes 3000-4999 all under 3000, anything else under 0.
	Closes                map[CloseCode]uint64
	MessagesIn, BytesIn   uint64
	MessagesOut, BytesOut uint64 // WebSocket frames and bytes handed to the sockets (control frames included)
	Broadcasts            uint64 // publications that reached at least one connection of this node
	Deliveries            uint64 // frames queued by publications
	Drops                 uint64 // messages skipped by the slow-consumer policy
	SlowCloses            uint64
	RateLimited           uint64
	ControlFloods         uint64 // connections failed with 1008 for control frames over ControlLimit
	Rooms, Members        int    // rooms with members on this node, and their memberships
	// History: bytes and publications kept by all rooms' histories, publications a history could not
	// keep (over MaxEntry or the budget), joins from a position that recovered (missed nothing) or
	// could not, and publications replayed by recoveries.
	HistoryBytes, HistoryEntries int64
	HistoryNotKept               uint64
	Recovered, RecoveryFailed    uint64
	Replayed                     uint64
	// LoopLag is how long the last timer task of the busiest loop waited for it to run (timer tasks
	// run while connections have timers due, at least every few seconds with heartbeats; 0 before the
	// first).
	LoopLag time.Duration

	// ReadPauses counts the times an HTTP connection stopped being read because the answers queued for
	// it reached MaxBackpressure (it is read again once they drain to half of it).
	ReadPauses uint64
	// PipelineOverflows counts HTTP connections closed (with 429) because, while they were not being
	// read, the requests they pipelined grew past MaxHeaderBytes + MaxBodyBytes.
	PipelineOverflows uint64
}

// Stats returns the App's counters. Safe from any goroutine, handlers included; it allocates, call it
// at scrape frequency.
func (a *App) Stats() Stats {
	s := Stats{Connections: a.conns.Load(), Closes: make(map[CloseCode]uint64)}
	for i := range a.codecConns {
		s.WebSockets += a.codecConns[i].Load()
	}
	for _, rc := range a.table.LocalList() {
		s.Rooms++
		s.Members += rc.Members
	}
	ts := a.table.Stats()
	s.HistoryBytes, s.HistoryEntries, s.HistoryNotKept = ts.HistoryBytes, ts.HistoryEntries, ts.NotKept
	s.Recovered, s.RecoveryFailed, s.Replayed = ts.Recovered, ts.RecoveryFailed, ts.Replayed
	s.Broadcasts, s.Deliveries = ts.Broadcasts, ts.Deliveries
	for _, l := range a.loopList() {
		s.add(&l.stats)
		s.LoopLag = max(s.LoopLag, time.Duration(l.lag.Load()))
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
	for i := range ls.closes {
		if n := ls.closes[i].Load(); n > 0 {
			s.Closes[slotCode(i)] += n
		}
	}
}

// slotCode is the code Stats.Closes reports slot i under.
func slotCode(i int) CloseCode {
	switch {
	case i < 16:
		return CloseCode(1000 + i)
	case i == 16:
		return 3000
	}
	return 0
}
