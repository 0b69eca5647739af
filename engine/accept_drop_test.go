//go:build linux

package engine

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// accept(2) failing for one connection (issue 13.1's "nothing the OS does may stop the engine"): its
// manual lists network errors to "treat like EAGAIN by retrying" and EPERM when firewall rules forbid
// the connection; upstream gnet stops the engine on them. The fault is injected for real: the child
// runs under strace, which makes the first accept4(2) of each of its threads fail with the error.

const adChildEnv = "WSD_TEST_ACCEPT_DROP_CHILD"

// TestAcceptDroppedConnectionKeepsServing: with accept4 failing once per thread with EPROTO (and, in a
// second child, EPERM), the child keeps serving: WebSockets dialled afterwards upgrade and echo, and
// the child shuts down cleanly.
func TestAcceptDroppedConnectionKeepsServing(t *testing.T) {
	if os.Getenv(adChildEnv) == "1" {
		adChild(t)
		return
	}
	strace := adStrace(t)
	for _, errno := range []string{"EPROTO", "EPERM"} {
		t.Run(errno, func(t *testing.T) {
			wrap := []string{strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=accept4",
				"-e", "inject=accept4:error=" + errno + ":when=1"}
			ch := afStartChildCmd(t, wrap, "TestAcceptDroppedConnectionKeepsServing", adChildEnv)
			for i := range 4 {
				d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
				c, _, err := gorillaConnect(ch.addr, "/echo", gorillaOpts{Dialer: d})
				if err != nil {
					t.Fatalf("WebSocket %d after accept4 failed with %s: %v (child %v)", i, errno, err, ch.exited())
				}
				afEcho(t, c, fmt.Sprint("after ", errno, " ", i))
				_ = c.Close()
			}
			if ch.logged(adErrnoText[errno]) == 0 {
				t.Errorf("the child never logged the injected %s (was it injected?)", errno)
			}
			ch.stop(t)
		})
	}
}

// adErrnoText is how Go prints each injected errno.
var adErrnoText = map[string]string{"EPROTO": "protocol error", "EPERM": "operation not permitted"}

// adStrace is the path of strace: missing, the test fails under make test (WSD_REQUIRE_STRACE=1)
// and is skipped otherwise.
func adStrace(t *testing.T) string {
	path, err := exec.LookPath("strace")
	if err != nil {
		if os.Getenv("WSD_REQUIRE_STRACE") == "1" {
			t.Fatal("strace is required (scripts/install-test-deps.sh installs it)")
		}
		t.Skip("strace not installed")
	}
	return path
}

// adChild serves /echo with the default configuration until stdin closes.
func adChild(t *testing.T) { afServe(t, Config{Loops: 2}) }
