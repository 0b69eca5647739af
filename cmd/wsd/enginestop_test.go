//go:build linux

package main

import (
	"bufio"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/openspeed/wsd/internal/wstest"
)

// When the engine stops on its own (here: its listening socket is shut down from outside, so accept(2)
// fails with EINVAL), wsd logs why and exits 1, so that systemd or Kubernetes restarts it; it used to
// keep running without serving anything.
func TestProcessEngineStopExitsNonZero(t *testing.T) {
	cmd, stderr := startChild(t, nil, "-addr", "127.0.0.1:0", "-metrics.lag-interval", "50ms")
	lines := bufio.NewScanner(stderr)
	base := waitListening(t, lines)
	rest := make(chan string, 1)
	go func() {
		var b strings.Builder
		for lines.Scan() {
			b.WriteString(lines.Text() + "\n")
		}
		rest <- b.String()
	}()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+base+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr, err := net.ResolveTCPAddr("tcp", base)
	if err != nil {
		t.Fatal(err)
	}
	if err := wstest.BreakListener(cmd.Process.Pid, addr); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(svWait))
	if _, _, err := c.ReadMessage(); err == nil {
		t.Fatal("the WebSocket still reads after the engine stopped")
	}
	var logs string
	select {
	case logs = <-rest: // stderr closed: the process has exited
	case <-time.After(svWait):
		t.Fatal("wsd still runs after its engine stopped")
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("wsd exit: %v, want exit status 1\n%s", err, logs)
	}
	if !strings.Contains(logs, "engine stopped on its own") || !strings.Contains(logs, "invalid argument") {
		t.Fatalf("wsd's log does not say why it stopped:\n%s", logs)
	}
}
