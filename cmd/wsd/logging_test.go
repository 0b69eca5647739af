package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/openspeed/wsd/engine"
)

// waitLog polls logs until re matches a line; the wait is only an upper bound.
func waitLog(t *testing.T, logs *syncBuffer, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(svWait)
	for {
		if m := re.FindString(logs.String()); m != "" {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line matches %s:\n%s", re, logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRateLimitLogged: a load tool pointed at /echo with the default limits stalls after the burst
// of 200 messages; wsd says why in its log: the route, the client and the limit in force. A route
// whose limit closes the connection says so.
func TestRateLimitLogged(t *testing.T) {
	var logs syncBuffer
	c := svConfig()
	c.Routes.Rooms.RateLimit = &RateLimitConfig{Messages: 0.001, Burst: 1, Close: true}
	_, addr := svStart(t, c, &logs)

	ws := svDial(t, addr, "/echo", nil)
	const sent = 1000 // far more than the burst, sent faster than the refill can make up
	for i := range sent {
		svWrite(t, ws, "m"+string(rune('0'+i%10)))
	}
	echoes := 0
	for {
		_ = ws.SetReadDeadline(time.Now().Add(svWait))
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after %d echoes: %v", echoes, err)
		}
		if string(data) == `{"type":"error","error":"rate limited"}` {
			break
		}
		echoes++
	}
	if echoes < 200 || echoes >= sent {
		t.Fatalf("%d echoes before the rate-limit error, want the burst of 200 (and not all %d)", echoes, sent)
	}
	waitLog(t, &logs, regexp.MustCompile(`level=INFO msg="rate limited" route=/echo remote=127\.0\.0\.1:\d+ `+
		`limit="100 messages/s \(burst 200\), 1MiB/s" action="message dropped, error event sent" `+
		`keys="rate_limit\.messages, rate_limit\.burst, rate_limit\.bytes \(0 = no cap\)"`))

	a := svDial(t, addr, "/rooms/x", nil)
	svWrite(t, a, "one")
	svWrite(t, a, "two")
	_ = a.SetReadDeadline(time.Now().Add(svWait))
	if _, _, err := a.ReadMessage(); !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Fatalf("rooms over its limit: %v, want close 1008", err)
	}
	waitLog(t, &logs, regexp.MustCompile(`msg="rate limited" route=/rooms/:room remote=127\.0\.0\.1:\d+ `+
		`limit="0\.001 messages/s \(burst 1\)" action="connection closed with 1008"`))
}

// TestRateLogSampling: at most log.rejects_per_second rate-limit lines per route and second, the
// rest counted and reported by the route's next line; an event cap is named with its event type; 0
// turns the lines off.
func TestRateLogSampling(t *testing.T) {
	var out syncBuffer
	now := time.Unix(1000, 0)
	r := newRateLog(newLogger(LogConfig{Level: "info", Format: "json"}, &out), 2)
	r.now = func() time.Time { return now }
	msgs := &engine.RateLimit{Messages: 0.5, Bytes: 1000}
	events := &engine.RateLimit{Messages: 10, Burst: 20, Events: map[string]engine.Rate{"publish": {PerSecond: 2}}, Close: true}
	for range 4 {
		r.onRateLimit("/ws", nil, msgs, "")
	}
	r.onRateLimit("/echo", nil, msgs, "") // routes do not share a budget
	now = now.Add(time.Second)
	r.onRateLimit("/ws", nil, events, "publish")

	var lines []map[string]any
	for l := range strings.Lines(strings.TrimSpace(out.String())) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		lines = append(lines, m)
	}
	want := []string{
		"/ws|0.5 messages/s (burst 1), 1000/s|message dropped, error event sent|0",
		"/ws|0.5 messages/s (burst 1), 1000/s|message dropped, error event sent|0",
		"/echo|0.5 messages/s (burst 1), 1000/s|message dropped, error event sent|0",
		"/ws|publish events: 2/s (burst 2)|connection closed with 1008|2",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, m := range lines {
		suppressed, _ := m["suppressed"].(float64)
		got := m["route"].(string) + "|" + m["limit"].(string) + "|" + m["action"].(string) + "|" + jsonNum(suppressed)
		if got != want[i] || m["msg"] != "rate limited" {
			t.Fatalf("line %d: %v, want %s", i, m, want[i])
		}
	}
	if newRateLog(discardLogger(), 0).hook() != nil {
		t.Fatal("rejects_per_second 0 still hooks the engine")
	}
}
