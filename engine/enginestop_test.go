//go:build linux

package engine

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/openspeed/wsd/internal/wstest"
	"go.uber.org/goleak"
)

// The engine stops for a reason other than Shutdown (issue 13.1): the listening socket is broken for
// real (wstest.BreakListener shuts it down: accept(2) then fails with EINVAL, which no acceptor can
// retry). Listen and Run return ErrEngineStopped, Start's caller learns it from Done and Err,
// the open WebSocket is dropped, and no goroutine of the App outlives the engine.
func TestEngineStopReported(t *testing.T) {
	for _, how := range []string{"Run", "Start"} {
		t.Run(how, func(t *testing.T) { esCheck(t, how) })
	}
}

func esCheck(t *testing.T, how string) {
	defer goleak.VerifyNone(t, append(wstest.LeakOptions(), goleak.IgnoreCurrent())...)
	app := New(Config{Loops: 2, Logger: discardLogger()})
	app.WS("/echo", echoOpen)
	stopped := make(chan error, 1)
	switch how {
	case "Run":
		go func() { stopped <- app.Run(context.Background(), "127.0.0.1:0") }()
	case "Start":
		if err := app.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		go func() {
			<-app.Done()
			stopped <- app.Err()
		}()
	}
	poll(t, "the App to listen", func() bool { return app.Addr() != nil })
	addr := app.Addr()
	ws, _ := dialGorilla(t, addr.String(), "/echo", gorillaOpts{})
	defer ws.Close() // before goleak's check
	afEcho(t, ws, "before")

	if err := wstest.BreakListener(os.Getpid(), addr); err != nil {
		t.Fatal(err)
	}
	err := recv(t, stopped, "the App to report that its engine stopped")
	if !errors.Is(err, ErrEngineStopped) {
		t.Fatalf("%s after the engine stopped: %v, want ErrEngineStopped", how, err)
	}
	t.Logf("%s: %v", how, err)
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("the WebSocket still reads after the engine stopped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := app.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown after the engine stopped: %v", err)
	}
}

// TestStartAddressInUse: Start and Run on an address another socket listens on return the bind error
// (EADDRINUSE), not what gnet v2.9.7 reported: it overwrote the failed listen's error with the one of
// the keep-alive setsockopt on the socket it had just closed ("setsockopt: bad file descriptor"; and
// with the descriptor number reused meanwhile, it could have served on someone else's socket). The
// vendored gnet carries the fix (third_party/gnet/README.md). Both keep-alive settings are checked:
// 0 (the default, 15 s: the bug's path) and -1 (off: the bind error always came through).
func TestStartAddressInUse(t *testing.T) {
	defer goleak.VerifyNone(t, append(wstest.LeakOptions(), goleak.IgnoreCurrent())...)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, keepAlive := range []time.Duration{0, -1} {
		app := New(Config{Loops: 1, Logger: discardLogger(), TCPKeepAlive: keepAlive})
		err := app.Start(busy.Addr().String())
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("Start on a busy address (TCPKeepAlive %v): %v, want EADDRINUSE", keepAlive, err)
		}
		if err == nil {
			_ = app.Shutdown(context.Background())
		}
		err = New(Config{Loops: 1, Logger: discardLogger(), TCPKeepAlive: keepAlive}).Run(context.Background(), busy.Addr().String())
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("Run on a busy address (TCPKeepAlive %v): %v, want EADDRINUSE", keepAlive, err)
		}
	}
}
