package engine

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"
)

// deferApp serves /later (answered from a goroutine after a while), /now (deferred but answered in
// the handler) and /never (deferred, never answered).
func deferApp(t *testing.T, cfg Config) string {
	_, addr := startApp(t, cfg, func(a *App) {
		a.GET("/later/:n", func(ctx *Context) error {
			n := strings.Clone(ctx.Param("n")) // the request is gone once the handler returns
			ctx.Defer()
			go func() {
				time.Sleep(20 * time.Millisecond)
				_ = ctx.String(http.StatusOK, "later "+n)
			}()
			return nil
		})
		a.GET("/now", func(ctx *Context) error {
			ctx.Defer()
			return ctx.JSON(http.StatusOK, map[string]int{"now": 1})
		})
		a.GET("/never", func(ctx *Context) error {
			ctx.Defer()
			return nil
		})
		a.GET("/fail", func(ctx *Context) error {
			ctx.Defer()
			go func() { _ = ctx.String(http.StatusConflict, "busy\n") }()
			return nil
		})
	})
	return addr
}

// TestDeferredAnswersKeepPipelineOrder: requests pipelined behind a deferred one are answered after
// it, in order, on the same connection.
func TestDeferredAnswersKeepPipelineOrder(t *testing.T) {
	addr := deferApp(t, Config{})
	c := dialTCP(t, addr, nil)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var req strings.Builder
	for _, p := range []string{"/later/1", "/now", "/later/2", "/fail", "/now"} {
		req.WriteString("GET " + p + " HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	if _, err := c.Write([]byte(req.String())); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	want := []struct {
		status int
		body   string
	}{{200, "later 1"}, {200, `{"now":1}`}, {200, "later 2"}, {409, "busy\n"}, {200, `{"now":1}`}}
	for i, w := range want {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != w.status || body != w.body {
			t.Fatalf("answer %d: %d %q, want %d %q", i, resp.StatusCode, body, w.status, w.body)
		}
	}
}

// TestDeferredAnswerTimesOut: a deferred answer that never comes is a 503 after HandshakeTimeout,
// and the connection closes.
func TestDeferredAnswerTimesOut(t *testing.T) {
	addr := deferApp(t, Config{HandshakeTimeout: 200 * time.Millisecond})
	c := dialTCP(t, addr, nil)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("GET /never HTTP/1.1\r\nHost: x\r\n\r\nGET /now HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusServiceUnavailable || !resp.Close {
		t.Fatalf("%d %q (close %v), want 503 and Connection: close", resp.StatusCode, body, resp.Close)
	}
	if _, err := http.ReadResponse(br, nil); err == nil {
		t.Fatal("a request pipelined after the timed-out one was answered")
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return b.String()
}
