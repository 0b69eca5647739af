// Package extest holds the helpers the examples' tests share: start an example's App on a free
// loopback port, drive it with a gorilla/websocket client, read what the docs say arrives, and record
// what the example logs. Every wait is bounded by Wait, an upper bound for a hang and never a timing
// assertion.
package extest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/openspeed/wsd/engine"
)

// Wait bounds every wait of the examples' tests.
const Wait = 10 * time.Second

// Start starts app on 127.0.0.1:0 and returns its address; the test's cleanup shuts it down.
func Start(t testing.TB, app *engine.App) string {
	t.Helper()
	if err := app.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Wait)
		defer cancel()
		if err := app.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return app.Addr().String()
}

// Dial opens a WebSocket to path, offering subprotocols when given. The server's open handler has run
// when it returns: the engine writes the 101 answer when the handler returns.
func Dial(t testing.TB, addr, path string, subprotocols ...string) *websocket.Conn {
	t.Helper()
	c, resp, err := TryDial(addr, path, subprotocols...)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TryDial is Dial that returns the error (and the response, when one arrived) instead of failing.
func TryDial(addr, path string, subprotocols ...string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: Wait, Subprotocols: subprotocols}
	return d.Dial("ws://"+addr+path, nil)
}

// Write sends s as a text message.
func Write(t testing.TB, c *websocket.Conn, s string) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(Wait))
	if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatalf("write %q: %v", s, err)
	}
}

// WriteJSON sends v as a JSON text message.
func WriteJSON(t testing.TB, c *websocket.Conn, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	Write(t, c, string(b))
}

// Read returns the next data message; a close (or any error) fails the test.
func Read(t testing.TB, c *websocket.Conn) (int, []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(Wait))
	typ, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, data
}

// Text returns the next message, which must be a text message.
func Text(t testing.TB, c *websocket.Conn) string {
	t.Helper()
	typ, data := Read(t, c)
	if typ != websocket.TextMessage {
		t.Fatalf("got a binary message %q, want text", data)
	}
	return string(data)
}

// Expect reads the next message and checks that it is the text want.
func Expect(t testing.TB, c *websocket.Conn, want string) {
	t.Helper()
	if got := Text(t, c); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// JSON reads the next message, a JSON text message, into a map.
func JSON(t testing.TB, c *websocket.Conn) map[string]any {
	t.Helper()
	s := Text(t, c)
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("message %q is not a JSON object: %v", s, err)
	}
	return m
}

// ExpectJSON reads the next message and checks that it is a JSON object with exactly want's fields
// (compared after a JSON round trip of want, so numbers may be given as Go ints).
func ExpectJSON(t testing.TB, c *websocket.Conn, want any) {
	t.Helper()
	s := Text(t, c)
	if !SameJSON(s, want) {
		wb, _ := json.Marshal(want)
		t.Fatalf("got %s, want %s", s, wb)
	}
}

// SameJSON reports whether the JSON text got equals want's JSON encoding, field order aside.
func SameJSON(got string, want any) bool {
	wb, err := json.Marshal(want)
	if err != nil {
		return false
	}
	var g, w any
	if json.Unmarshal([]byte(got), &g) != nil || json.Unmarshal(wb, &w) != nil {
		return false
	}
	gb, _ := json.Marshal(g)
	wb, _ = json.Marshal(w)
	return string(gb) == string(wb)
}

// ExpectClose reads until the server's close frame (data messages before it fail the test) and checks
// its code and reason. gorilla answers the close frame itself.
func ExpectClose(t testing.TB, c *websocket.Conn, code int, reason string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(Wait))
	typ, data, err := c.ReadMessage()
	if err == nil {
		t.Fatalf("got message (type %d) %q, want close %d", typ, data, code)
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("want close %d %q, got %v", code, reason, err)
	}
	if ce.Code != code || ce.Text != reason {
		t.Fatalf("close %d %q, want %d %q", ce.Code, ce.Text, code, reason)
	}
}

// CloseNormally sends a close frame with 1000 and waits for the server's answer.
func CloseNormally(t testing.TB, c *websocket.Conn) {
	t.Helper()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(Wait)); err != nil {
		t.Fatalf("write close: %v", err)
	}
	ExpectClose(t, c, websocket.CloseNormalClosure, "")
}

// Eventually polls cond until it holds; it fails the test with what after Wait.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not true after %v: %s", Wait, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// HTTP does one request without keep-alive (no idle connection outlives the test) and returns the
// status and body.
func HTTP(t testing.TB, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: Wait, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp.StatusCode, string(b)
}
