package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/openspeed/wsd/engine"
)

// TestRejectLogSampling: at most rejects_per_second lines per reason and second; the lines over the
// cap are counted and reported by the next line of that reason; reasons do not share a budget.
func TestRejectLogSampling(t *testing.T) {
	var out syncBuffer
	now := time.Unix(1000, 0)
	r := newRejectLog(newLogger(LogConfig{Level: "info", Format: "json"}, &out), 2)
	r.now = func() time.Time { return now }
	for range 5 {
		r.onReject(engine.RejectNotFound, 404, nil, "/x")
	}
	r.onReject(engine.RejectUnauthorized, 401, nil, "/ws")
	now = now.Add(time.Second)
	r.onReject(engine.RejectNotFound, 404, nil, "/y")

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		lines = append(lines, m)
	}
	want := []string{"not_found /x 0", "not_found /x 0", "unauthorized /ws 0", "not_found /y 3"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, m := range lines {
		suppressed, _ := m["suppressed"].(float64)
		if got := m["reason"].(string) + " " + m["path"].(string) + " " + jsonNum(suppressed); got != want[i] || m["msg"] != "request rejected" {
			t.Fatalf("line %d: %v, want %s", i, m, want[i])
		}
	}
	if newRejectLog(discardLogger(), 0).hook() != nil {
		t.Fatal("rejects_per_second 0 still hooks the engine")
	}
}

func jsonNum(f float64) string { b, _ := json.Marshal(f); return string(b) }

// TestServerLogs: each refused request is logged with its reason, status and path; messages are
// not logged at all.
func TestServerLogs(t *testing.T) {
	var logs syncBuffer
	c := svConfig()
	c.Auth.JWTSecret = auSecret
	c.Routes.Rooms.Enabled = false
	_, addr := svStart(t, c, &logs)
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/echo", nil); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial without token: %v", err)
	}
	svStatus(t, http.StatusNotFound, http.MethodGet, "http://"+addr+"/rooms/off", "") // route turned off
	got := logs.String()
	for _, want := range []string{
		`msg="request rejected" reason=unauthorized status=401 path=/echo remote=127.0.0.1:`,
		`msg="request rejected" reason=not_found status=404 path=/rooms/off remote=127.0.0.1:`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("logs lack %q:\n%s", want, got)
		}
	}
	c2 := svConfig()
	_, open := svStart(t, c2, &logs)
	ws := svDial(t, open, "/echo", nil)
	for range 20 {
		svWrite(t, ws, "not logged")
		_ = ws.SetReadDeadline(time.Now().Add(svWait))
		if _, _, err := ws.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	if after := logs.String(); strings.Count(after, "\n") != 2 {
		t.Errorf("want only the two rejection lines:\n%s", after)
	}
}

// TestPprof: pprof is served on its own loopback listener, not on the main port, and stops with the
// server; a non-loopback address is refused.
func TestPprof(t *testing.T) {
	c := svConfig()
	c.Pprof.Addr = "127.0.0.1:0"
	s, addr := svStart(t, c, nil)
	paddr := s.pprof.Addr().String()
	if body := svStatus(t, http.StatusOK, http.MethodGet, "http://"+paddr+"/debug/pprof/", ""); !strings.Contains(body, "goroutine") {
		t.Fatalf("pprof index: %q", body)
	}
	svStatus(t, http.StatusOK, http.MethodGet, "http://"+paddr+"/debug/pprof/cmdline", "")
	svStatus(t, http.StatusNotFound, http.MethodGet, "http://"+addr+"/debug/pprof/", "")
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	if _, err := (&http.Client{Transport: tr}).Get("http://" + paddr + "/debug/pprof/"); err == nil {
		t.Fatal("pprof still served after shutdown")
	}
	for _, bad := range []string{"0.0.0.0:0", ":6060", "192.0.2.1:6060"} {
		if p, err := startPprof(bad); err == nil {
			p.close(t.Context())
			t.Fatalf("pprof on %s started", bad)
		}
	}
}

// TestProcessConfigError: wsd refuses to start on a bad file, printing the file and key, exit 1.
func TestProcessConfigError(t *testing.T) {
	file := writeFile(t, "bad.yaml", "routes:\n  chat:\n    max_rooms: 3\n")
	cmd := exec.Command(os.Args[0], "-config", file)
	cmd.Env = append(os.Environ(), "WSD_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1", err)
	}
	if want := "wsd: " + file + ": routes.chat.max_rooms: unknown key\n"; string(out) != want {
		t.Fatalf("output %q, want %q", out, want)
	}
}

// TestProcessSIGUSR1: SIGUSR1 drains with 1012 (service restart) and exits 0; the configuration
// comes from the environment.
func TestProcessSIGUSR1(t *testing.T) {
	cmd, stderr := startChild(t, []string{"WSD_ADDR=127.0.0.1:0", "WSD_LOOPS=1"})
	lines := bufio.NewScanner(stderr)
	base := waitListening(t, lines)
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	ws := svDial(t, base, "/ws", nil)
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(svWait))
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseServiceRestart) {
		t.Fatalf("after SIGUSR1: %v, want close 1012", err)
	}
	_ = ws.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("wsd exit: %v", err)
	}
}
