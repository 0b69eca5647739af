package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openspeed/wsd/engine"
)

// newLogger returns the process logger: text (key=value) or JSON lines on w, at the configured
// level. Nothing is logged per message; refused requests are logged by rejectLog.
func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level.slog()}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// numRejectReasons is the number of engine.RejectReason values.
const numRejectReasons = len(engine.Stats{}.Rejected)

// window lets at most a number of lines a second through; the lines over the cap are counted and
// the count is handed to the next line let through ("suppressed"). It takes no lock (it runs on the
// event loops) and, past the cap, costs two atomic operations.
type window struct {
	second     atomic.Int64 // unix second of the window
	lines      atomic.Int64 // lines logged (or attempted) in it
	suppressed atomic.Int64 // lines not logged since the last logged one
}

// allow reports whether a line may be logged at now, and how many were suppressed before it.
func (w *window) allow(now time.Time, perSecond int64) (ok bool, suppressed int64) {
	sec := now.Unix()
	if old := w.second.Load(); old != sec && w.second.CompareAndSwap(old, sec) {
		w.lines.Store(0)
	}
	if w.lines.Add(1) > perSecond {
		w.suppressed.Add(1)
		return false, 0
	}
	return true, w.suppressed.Swap(0)
}

// rejectLog logs requests the engine refused before an upgrade, at most perSecond lines per reason
// and second (see window). It is engine.Config.OnReject: it runs on the event loops.
type rejectLog struct {
	log       *slog.Logger
	perSecond int64
	now       func() time.Time
	reasons   [numRejectReasons]window
}

// newRejectLog returns nil when perSecond is 0 (no rejection lines).
func newRejectLog(log *slog.Logger, perSecond int) *rejectLog {
	if perSecond <= 0 {
		return nil
	}
	return &rejectLog{log: log, perSecond: int64(perSecond), now: time.Now}
}

// hook is the engine.Config.OnReject function (nil for a nil rejectLog).
func (r *rejectLog) hook() func(engine.RejectReason, int, net.Addr, string) {
	if r == nil {
		return nil
	}
	return r.onReject
}

func (r *rejectLog) onReject(reason engine.RejectReason, status int, remote net.Addr, path string) {
	if int(reason) >= numRejectReasons {
		reason = engine.RejectOther
	}
	ok, suppressed := r.reasons[reason].allow(r.now(), r.perSecond)
	if !ok {
		return
	}
	attrs := []any{"reason", reason.String(), "status", status, "path", truncate(path, 200)}
	if remote != nil {
		attrs = append(attrs, "remote", remote.String())
	}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	r.log.Info("request rejected", attrs...)
}

// rateLog logs messages refused by a rate limit, at most perSecond lines per route and second (see
// window), so that a client that stalls because of a limit (a load tool pointed at /echo) shows why
// in the log: the route, the peer, the limit and the keys that set it. It is
// engine.Config.OnRateLimit: it runs on the event loops.
type rateLog struct {
	log       *slog.Logger
	perSecond int64
	now       func() time.Time
	routes    sync.Map // route pattern -> *window; routes are fixed at start, so it stays small
}

// newRateLog returns nil when perSecond is 0 (no rate-limit lines).
func newRateLog(log *slog.Logger, perSecond int) *rateLog {
	if perSecond <= 0 {
		return nil
	}
	return &rateLog{log: log, perSecond: int64(perSecond), now: time.Now}
}

// hook is the engine.Config.OnRateLimit function (nil for a nil rateLog).
func (r *rateLog) hook() func(string, net.Addr, *engine.RateLimit, string) {
	if r == nil {
		return nil
	}
	return r.onRateLimit
}

func (r *rateLog) onRateLimit(route string, remote net.Addr, limit *engine.RateLimit, event string) {
	w, found := r.routes.Load(route)
	if !found {
		w, _ = r.routes.LoadOrStore(route, new(window))
	}
	ok, suppressed := w.(*window).allow(r.now(), r.perSecond)
	if !ok {
		return
	}
	attrs := []any{"route", route}
	if remote != nil {
		attrs = append(attrs, "remote", remote.String())
	}
	action, keys := "message dropped, error event sent", "rate_limit.messages, rate_limit.burst, rate_limit.bytes (0 = no cap)"
	if limit.Close {
		action = "connection closed with 1008"
	}
	if event != "" {
		keys = "rate_limit.events"
	}
	attrs = append(attrs, "limit", describeLimit(limit, event), "action", action, "keys", keys)
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	r.log.Info("rate limited", attrs...)
}

// describeLimit writes the caps that may have refused a message: for event "" the message caps
// ("100 messages/s (burst 200), 1MiB/s"), else the event type's ("publish events: 10/s
// (burst 20)").
func describeLimit(l *engine.RateLimit, event string) string {
	if event != "" {
		e := l.Events[event]
		return fmt.Sprintf("%s events: %s/s (burst %s)", truncate(event, 64), num(e.PerSecond),
			num(burstOr(float64(e.Burst), e.PerSecond)))
	}
	var parts []string
	if l.Messages > 0 {
		parts = append(parts, fmt.Sprintf("%s messages/s (burst %s)", num(l.Messages),
			num(burstOr(float64(l.Burst), l.Messages))))
	}
	if l.Bytes > 0 {
		parts = append(parts, formatSize(l.Bytes)+"/s")
	}
	return strings.Join(parts, ", ")
}

// burstOr is the engine's burst rule: the burst when set, else max(1, rate).
func burstOr(burst, rate float64) float64 {
	if burst > 0 {
		return burst
	}
	return max(1, rate)
}

// num formats a rate without a needless fraction (100, 0.5).
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// truncate cuts s to at most n bytes (for logging attacker-chosen strings).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
