package engine

import (
	"log/slog"
	"testing"
	"time"
)

// discardLogger is the engine tests' logger: nothing is printed (handler panics and engine errors are
// asserted through handlers and Stats, not logs).
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// poll waits up to 10 s for cond, failing the test with what when it does not hold by then.
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
