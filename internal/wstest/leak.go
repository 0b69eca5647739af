// Package wstest holds helpers shared by the project's tests: the goroutine-leak gate and a raw
// WebSocket client that writes arbitrary frames. It is imported only by _test.go files.
package wstest

import (
	"testing"

	"go.uber.org/goleak"
)

// LeakOptions ignores the two goroutines gnet's package-level worker pool (ants) starts at init: they
// exist once per process, whatever the server does, so they are not leaks.
func LeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	}
}

// VerifyTestMain runs the package's tests and fails the run on leaked goroutines.
func VerifyTestMain(m *testing.M) {
	goleak.VerifyTestMain(m, LeakOptions()...)
}
