package extest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// Record is one log record as the recorder keeps it: the message and its attributes by key.
type Record struct {
	Msg   string
	Level slog.Level
	Attrs map[string]slog.Value
}

// Recorder is a slog.Handler that keeps every record, for tests of what an example logs. Give
// Logger() to engine.Config.Logger.
type Recorder struct {
	mu      sync.Mutex
	records []Record
	changed chan struct{}
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{changed: make(chan struct{})} }

// Logger is a logger that writes to r.
func (r *Recorder) Logger() *slog.Logger { return slog.New(r) }

// Enabled implements slog.Handler: every level is kept.
func (r *Recorder) Enabled(context.Context, slog.Level) bool { return true }

// Handle implements slog.Handler.
func (r *Recorder) Handle(_ context.Context, rec slog.Record) error {
	out := Record{Msg: rec.Message, Level: rec.Level, Attrs: make(map[string]slog.Value)}
	rec.Attrs(func(a slog.Attr) bool {
		out.Attrs[a.Key] = a.Value.Resolve()
		return true
	})
	r.mu.Lock()
	r.records = append(r.records, out)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	return nil
}

// WithAttrs implements slog.Handler (the examples log flat records; attributes are not kept).
func (r *Recorder) WithAttrs([]slog.Attr) slog.Handler { return r }

// WithGroup implements slog.Handler.
func (r *Recorder) WithGroup(string) slog.Handler { return r }

// Records returns a copy of what was logged with message msg, in order.
func (r *Recorder) Records(msg string) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	for _, rec := range r.records {
		if rec.Msg == msg {
			out = append(out, rec)
		}
	}
	return out
}

// WaitFor waits until a record with message msg for which match holds (match nil: any) was logged and
// returns it; it fails the test after Wait.
func (r *Recorder) WaitFor(t testing.TB, msg string, match func(Record) bool) Record {
	t.Helper()
	timeout := time.After(Wait)
	for {
		r.mu.Lock()
		changed := r.changed
		for _, rec := range r.records {
			if rec.Msg == msg && (match == nil || match(rec)) {
				r.mu.Unlock()
				return rec
			}
		}
		r.mu.Unlock()
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("no log record %q (matching) after %v", msg, Wait)
			return Record{}
		}
	}
}
