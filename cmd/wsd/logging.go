package main

import (
	"io"
	"log/slog"
	"net"
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

// rejectLog logs requests the engine refused before an upgrade, at most perSecond lines per reason
// and second; the lines over the cap are counted and the count is reported as "suppressed" in the
// next line of that reason. It is engine.Config.OnReject: it runs on the event loops, takes no lock
// and, past the cap, costs two atomic operations.
type rejectLog struct {
	log       *slog.Logger
	perSecond int64
	now       func() time.Time
	reasons   [numRejectReasons]rejectWindow
}

// rejectWindow counts one reason's lines in the current second.
type rejectWindow struct {
	second     atomic.Int64 // unix second of the window
	lines      atomic.Int64 // lines logged (or attempted) in it
	suppressed atomic.Int64 // lines not logged since the last logged one
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
	if int(reason) >= len(r.reasons) {
		reason = engine.RejectOther
	}
	w := &r.reasons[reason]
	sec := r.now().Unix()
	if old := w.second.Load(); old != sec && w.second.CompareAndSwap(old, sec) {
		w.lines.Store(0)
	}
	if w.lines.Add(1) > r.perSecond {
		w.suppressed.Add(1)
		return
	}
	attrs := []any{"reason", reason.String(), "status", status, "path", truncate(path, 200)}
	if remote != nil {
		attrs = append(attrs, "remote", remote.String())
	}
	if n := w.suppressed.Swap(0); n > 0 {
		attrs = append(attrs, "suppressed", n)
	}
	r.log.Info("request rejected", attrs...)
}

// truncate cuts s to at most n bytes (for logging attacker-chosen strings).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
