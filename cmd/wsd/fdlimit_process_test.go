//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"
)

// The reproduction of issue 13.1 with the wsd binary: wsd under RLIMIT_NOFILE 1024, three WebSockets
// open, and 1,300 idle sockets opened at it. Before, with -max-connections 1000, gnet's acceptor hit
// EMFILE and stopped the engine: every WebSocket was dropped and the process lingered. Now the sockets
// over the cap are closed at once and counted, the WebSockets keep echoing, new clients get in once
// the idle sockets are gone, and with the default cap for that limit the descriptors wsd holds once
// the storm settled stay below the limit with the headroom to spare. (A burst of accepts may still
// briefly reach the limit while the event loops close the sockets over the cap: accept then backs off,
// which the first case covers; whether it happens depends on the machine's load, so it is not
// asserted.)
func TestProcessDescriptorLimit(t *testing.T) {
	const limit = 1024
	t.Run("max-connections=1000", func(t *testing.T) { fdRun(t, limit, 1000, false) })
	t.Run("default", func(t *testing.T) { fdRun(t, limit, maxConnectionsFor(limit, 2), true) })
}

// fdRun runs wsd with the descriptor limit and max_connections, and the storm. headroom: once the
// storm settled, wsd must hold fewer descriptors than the limit minus the default headroom's fixed part.
func fdRun(t *testing.T, limit uint64, maxConns int, headroom bool) {
	const ws, idle = 3, 1300
	cmd, stderr := startChild(t, nil, "-addr", "127.0.0.1:0", "-loops", "2", "-max-connections",
		fmt.Sprint(maxConns), "-handshake-timeout", "2m")
	if err := unix.Prlimit(cmd.Process.Pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: limit, Max: limit}, nil); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	base := waitListening(t, lines)
	var logs syncBuffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&logs, stderr); close(copied) }()

	open := make([]*websocket.Conn, ws)
	for i := range open {
		open[i] = svDial(t, base, "/echo", nil)
		fdEcho(t, open[i], fmt.Sprint("before ", i))
	}
	held, refused := fdIdleStorm(t, base, idle, maxConns-ws)
	if headroom {
		if n := fdCount(t, cmd.Process.Pid); n > int(limit)-64 {
			t.Errorf("wsd holds %d descriptors at its default cap %d under a limit of %d", n, maxConns, limit)
		}
	}
	for i, c := range open {
		fdEcho(t, c, fmt.Sprint("at the cap ", i))
	}
	if c, _, err := websocket.DefaultDialer.Dial("ws://"+base+"/echo", nil); err == nil {
		_ = c.Close()
		t.Fatal("a new WebSocket was upgraded at the cap")
	}
	for _, c := range held {
		_ = c.Close()
	}
	clWaitFor(t, "a new WebSocket after the idle sockets closed", func() bool {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+base+"/echo", nil)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	fams := scrape(t, base)
	if v, _ := metricValue(fams, "wsd_handshakes_rejected_total", "reason", "too_many_connections"); v < float64(refused) {
		t.Errorf("wsd_handshakes_rejected_total{reason=too_many_connections} = %g, want at least %d", v, refused)
	}
	for i, c := range open {
		fdEcho(t, c, fmt.Sprint("after ", i))
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-copied
	if err := cmd.Wait(); err != nil {
		t.Fatalf("wsd exit: %v\n%s", err, logs.String())
	}
}

// fdCount is the number of descriptors process pid holds (Linux /proc).
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// fdIdleStorm opens n sockets to addr from 127.0.0.2 that never send a byte and waits until wsd has
// closed all but want of them. It returns the sockets still open and the number closed.
func fdIdleStorm(t *testing.T, addr string, n, want int) ([]net.Conn, int) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: svWait}
	pending := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range pending {
			_ = c.Close()
		}
	})
	for range n {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("idle socket %d: %v", len(pending), err)
		}
		pending = append(pending, c)
	}
	closed := 0
	deadline := time.Now().Add(30 * time.Second)
	for len(pending) > want && time.Now().Before(deadline) {
		open := pending[:0]
		for _, c := range pending {
			_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
				open = append(open, c)
				continue
			}
			_ = c.Close()
			closed++
		}
		pending = open
	}
	if len(pending) != want {
		t.Fatalf("of %d idle sockets wsd closed %d and kept %d; want it to keep %d", n, closed, len(pending), want)
	}
	return pending, closed
}

// fdEcho sends msg and expects it back.
func fdEcho(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(svWait))
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if typ, p, err := c.ReadMessage(); err != nil || typ != websocket.TextMessage || string(p) != msg {
		t.Fatalf("echo of %q: %d %q %v", msg, typ, p, err)
	}
}
