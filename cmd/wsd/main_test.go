package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/internal/wstest"
)

// TestMain doubles as the wsd binary: with WSD_TEST_MAIN=1 the test executable runs main, so process
// tests need no separate build.
func TestMain(m *testing.M) {
	if os.Getenv("WSD_TEST_MAIN") == "1" {
		main()
		return
	}
	wstest.VerifyTestMain(m)
}

func TestBuiltinRoutes(t *testing.T) {
	app := newApp(engine.Config{Loops: 1}, nil)
	if err := app.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Shutdown(context.Background()) })
	base := app.Addr().String()
	checkHealthz(t, base)
	checkEcho(t, base)
}

func checkHealthz(t *testing.T, base string) {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, body)
	}
}

func checkEcho(t *testing.T, base string) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+base+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, m := range []struct {
		typ  int
		data string
	}{{websocket.TextMessage, "hi"}, {websocket.BinaryMessage, "\x00\x01"}, {websocket.TextMessage, ""}} {
		if err := c.WriteMessage(m.typ, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
		typ, data, err := c.ReadMessage()
		if err != nil || typ != m.typ || string(data) != m.data {
			t.Fatalf("echo: %d %q %v, want %d %q", typ, data, err, m.typ, m.data)
		}
	}
}

// TestProcessSIGTERM runs wsd as a process, uses it, and checks that SIGTERM drains: the open
// WebSocket gets close 1001 and the process exits 0.
func TestProcessSIGTERM(t *testing.T) {
	cmd, stderr := startChild(t, nil, "-addr", "127.0.0.1:0")
	lines := bufio.NewScanner(stderr)
	base := waitListening(t, lines)
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	checkHealthz(t, base)
	c, _, err := websocket.DefaultDialer.Dial("ws://"+base+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err = c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("after SIGTERM: %v, want close 1001", err)
	}
	_ = c.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("wsd exit: %v", err)
	}
}

// startChild runs the test binary as wsd (with WSD_TEST_MAIN=1, TestMain runs main) with args and the
// extra environment env, killed when the test ends, and returns it with its standard error.
func startChild(t *testing.T, env []string, args ...string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := childCmd(env, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, stderr
}

// childCmd is the command that runs the test binary as wsd with args and the extra environment env.
func childCmd(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "WSD_TEST_MAIN=1"), env...)
	return cmd
}

var listenRE = regexp.MustCompile(`msg="wsd listening" addr=(\S+)`)

func waitListening(t *testing.T, lines *bufio.Scanner) string {
	t.Helper()
	for lines.Scan() {
		if m := listenRE.FindStringSubmatch(lines.Text()); m != nil {
			return m[1]
		}
	}
	t.Fatal("wsd exited before listening")
	return ""
}

// TestProcessAddressInUse: wsd pointed at an address another socket listens on exits 1 and says which
// address and why (it printed "setsockopt: bad file descriptor" before gnet's listener was fixed).
func TestProcessAddressInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	out, err := childCmd(nil, "-addr", busy.Addr().String()).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("wsd on a busy address: %v, want exit status 1; output:\n%s", err, out)
	}
	want := "listen " + busy.Addr().String() + ": bind: address already in use"
	if !strings.Contains(string(out), want) {
		t.Fatalf("wsd on a busy address printed:\n%s\nwant a line with %q", out, want)
	}
}
