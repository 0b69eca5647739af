package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/openspeed/wsd/engine"
)

// newApp is the constructor of the route tests (main_test.go, routes_test.go): the built-in routes
// over exactly cfg, with the HTTP API open (no key needed to publish). It returns the engine App, so
// Start and Shutdown are the App's and the server's extras (lag probe, pprof) never run.
func newApp(cfg engine.Config, auth *authenticator) *engine.App {
	c := defaults()
	c.API.PublishWithoutKey = true
	return buildServer(cfg, c, auth).App
}

// svWait bounds every wait of these tests: an upper bound for a hang, never a timing assertion.
const svWait = 10 * time.Second

// svConfig is the default configuration for a test server: two loops, a free loopback port.
func svConfig() *Config {
	c := defaults()
	c.Addr = "127.0.0.1:0"
	c.Loops = 2
	return c
}

// syncBuffer is a log destination the test reads while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// svStart validates c, starts its server and returns it with its address; the test's cleanup
// shuts it down. Logs go to logs (nil: discarded).
func svStart(t *testing.T, c *Config, logs io.Writer) (*server, string) {
	t.Helper()
	c.resolve()
	if err := c.validate(sources{}); err != nil {
		t.Fatal(err)
	}
	if logs == nil {
		logs = io.Discard
	}
	s, err := newServer(c, newLogger(c.Log, logs))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(c.Addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), svWait)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s, s.Addr().String()
}

// svDial opens a WebSocket to path with extra request headers; the server's Open handler has run
// when it returns.
func svDial(t *testing.T, addr, path string, hdr http.Header) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+path, hdr)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// svHTTP does one request with headers (name, value pairs) and returns the response and its body.
func svHTTP(t *testing.T, method, url, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: svWait}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(got)
}

// svStatus does a request and checks the status code; it returns the body.
func svStatus(t *testing.T, want int, method, url, body string, hdr ...string) string {
	t.Helper()
	resp, got := svHTTP(t, method, url, body, hdr...)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %q, want %d", method, url, resp.StatusCode, got, want)
	}
	return got
}

// svReadJSON reads the next message, which must be a JSON text message, into a map.
func svReadJSON(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(svWait))
	typ, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if typ != websocket.TextMessage || json.Unmarshal(data, &m) != nil {
		t.Fatalf("got type %d %q, want a JSON object", typ, data)
	}
	return m
}

// svWrite sends a text message.
func svWrite(t *testing.T, c *websocket.Conn, text string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		t.Fatal(err)
	}
}

// discardLogger is a logger for tests that do not read logs.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
