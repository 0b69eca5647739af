//go:build linux

package engine

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Connections are counted when they are accepted (issue 13.1): past MaxConnections or
// MaxConnectionsPerIP a new socket is closed at once, before it sends anything, so a storm of idle
// sockets cannot hold descriptors for HandshakeTimeout; a socket whose request is already there is
// answered 503.

// alIdle dials n sockets to addr from local (dialTCP) that never send a byte.
func alIdle(t *testing.T, addr string, local net.IP, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dialTCP(t, addr, local)
	}
	return conns
}

// alExpectClosed expects the server to close each socket without writing a byte, well before
// HandshakeTimeout (which the tests set to minutes).
func alExpectClosed(t *testing.T, conns []net.Conn, what string) {
	t.Helper()
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(make([]byte, 1))
		if n > 0 || (err != io.EOF && !isConnReset(err)) {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%s %d: still open after 10 s, want it closed at once", what, i)
			}
			t.Fatalf("%s %d: read %d bytes, %v; want EOF", what, i, n, err)
		}
	}
}

// alExpectOpen expects each socket to be still open (a short read times out).
func alExpectOpen(t *testing.T, conns []net.Conn, what string) {
	t.Helper()
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s %d: %v, want it still open", what, i, err)
		}
	}
}

// MaxConnections 20: the keeper and 19 idle sockets fill it; 30 more idle sockets are closed at once,
// counted as too_many_connections; the WebSockets keep echoing; a freed slot is usable again.
func TestLimitIdleSocketsClosedAtAccept(t *testing.T) {
	const limit, over = 20, 30
	app, addr := startApp(t, Config{MaxConnections: limit, HandshakeTimeout: 2 * time.Minute}, echoRoute)
	k := ptKeep(t, addr, "/echo", nil)
	held := alIdle(t, addr, nil, limit-1)
	waitConnections(t, app, limit)
	refused := alIdle(t, addr, net.IPv4(127, 0, 0, 2), over)
	alExpectClosed(t, refused, "socket over MaxConnections")
	if n := int(app.Stats().Connections); n != limit {
		t.Fatalf("Connections() = %d, want %d", n, limit)
	}
	if got := ptStats(app).Rejected[RejectTooMany]; got != over {
		t.Fatalf("Stats.Rejected[too_many_connections] = %d, want %d", got, over)
	}
	alExpectOpen(t, held, "idle socket under the cap")
	k.progress(t, "after the idle storm")
	_ = held[0].Close()
	waitConnections(t, app, limit-1)
	again := leanDial(t, addr, "/echo", nil)
	again.expect101(t, 0)
	again.echo(t, "a freed slot")
	k.finish(t)
}

// MaxConnectionsPerIP 5: five idle sockets from 127.0.0.3 fill that address's share; ten more from it
// are closed at once, while a WebSocket from 127.0.0.2 connects and echoes.
func TestLimitIdleSocketsPerIPClosedAtAccept(t *testing.T) {
	const limit, over = 5, 10
	app, addr := startApp(t, Config{MaxConnectionsPerIP: limit, HandshakeTimeout: 2 * time.Minute}, echoRoute)
	attacker := net.IPv4(127, 0, 0, 3)
	held := alIdle(t, addr, attacker, limit)
	waitConnections(t, app, limit)
	refused := alIdle(t, addr, attacker, over)
	alExpectClosed(t, refused, "socket over MaxConnectionsPerIP")
	alExpectOpen(t, held, "idle socket under the per-IP cap")
	other := newPTClient(t, addr, "/echo", net.IPv4(127, 0, 0, 2))
	if err := other.roundTrip("another address"); err != nil {
		t.Fatal(err)
	}
	if got := ptStats(app).Rejected[RejectTooMany]; got != over {
		t.Fatalf("Stats.Rejected[too_many_connections] = %d, want %d", got, over)
	}
}

// A refused socket whose request has already arrived when it is accepted gets 503 with Retry-After and
// Connection: close. TCP_DEFER_ACCEPT on the listener makes the kernel hand over sockets only once
// their first bytes are there, so every socket here is in that case.
func TestLimitRefusedRequestAnswered503(t *testing.T) {
	const limit = 3
	app, addr := startApp(t, Config{MaxConnections: limit, RetryAfter: 9 * time.Second}, echoRoute)
	fd, err := app.eng.Dup()
	if err != nil {
		t.Fatal(err)
	}
	err = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 30)
	_ = unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	for i := range limit {
		leanDial(t, addr, "/echo", nil).expect101(t, i)
	}
	for i := range 10 {
		leanDial(t, addr, "/echo", nil).expect503(t, limit+i, "9")
	}
	if got := ptStats(app).Rejected[RejectTooMany]; got != 10 {
		t.Fatalf("Stats.Rejected[too_many_connections] = %d, want 10", got)
	}
}
