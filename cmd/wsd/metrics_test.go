package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := svHTTP(t, http.MethodGet, "http://"+addr+"/metrics", "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// metricValue is the value of the sample of name with the given label pairs; ok is false when
// there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := fams[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// want is one expected sample: name and labels, and the check of its value.
type want struct {
	name   string
	labels []string
	ok     func(float64) bool
	desc   string
}

func eq(name string, v float64, labels ...string) want {
	return want{name, labels, func(x float64) bool { return x == v }, fmt.Sprintf("== %g", v)}
}

func atLeast(name string, v float64, labels ...string) want {
	return want{name, labels, func(x float64) bool { return x >= v }, fmt.Sprintf(">= %g", v)}
}

// mismatches lists the samples of ws that fams does not satisfy.
func mismatches(fams map[string]*dto.MetricFamily, ws ...want) []string {
	var bad []string
	for _, w := range ws {
		v, ok := metricValue(fams, w.name, w.labels...)
		if !ok || !w.ok(v) {
			bad = append(bad, fmt.Sprintf("%s%v = %g (present %v), want %s", w.name, w.labels, v, ok, w.desc))
		}
	}
	return bad
}

// expectMetrics checks ws against one scrape.
func expectMetrics(t *testing.T, addr string, ws ...want) {
	t.Helper()
	if bad := mismatches(scrape(t, addr), ws...); bad != nil {
		t.Fatalf("metrics:\n%s", strings.Join(bad, "\n"))
	}
}

// eventuallyMetrics scrapes until ws hold (for effects that complete after the client sees them,
// such as the server closing a socket); the wait is only an upper bound.
func eventuallyMetrics(t *testing.T, addr string, ws ...want) {
	t.Helper()
	deadline := time.Now().Add(svWait)
	for {
		bad := mismatches(scrape(t, addr), ws...)
		if bad == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics:\n%s", strings.Join(bad, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMetrics: the wsd_ metrics follow connections, messages, broadcasts, rate limiting, refused
// requests and closes, scraped from /metrics and parsed with the Prometheus text parser.
func TestMetrics(t *testing.T) {
	c := svConfig()
	c.Routes.Rooms.RateLimit = &RateLimitConfig{Messages: 0.001, Burst: 1} // the 2nd message is over
	_, addr := svStart(t, c, nil)
	expectMetrics(t, addr, eq("wsd_websockets", 0), eq("wsd_messages_received_total", 0),
		atLeast("wsd_loop_lag_seconds", 0), eq("wsd_build_info", 1, "version", version),
		atLeast("go_goroutines", 1), atLeast("process_open_fds", 1))

	const n, m = 3, 5 // echo connections, echo messages
	echo := make([]*websocket.Conn, n)
	for i := range echo {
		echo[i] = svDial(t, addr, "/echo", nil)
	}
	for i := range m {
		ws := echo[i%n]
		svWrite(t, ws, "12345")
		_ = ws.SetReadDeadline(time.Now().Add(svWait))
		if _, _, err := ws.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	a, b := svDial(t, addr, "/rooms/x", nil), svDial(t, addr, "/rooms/x", nil)
	svWrite(t, a, "one")
	_ = b.SetReadDeadline(time.Now().Add(svWait))
	if _, data, err := b.ReadMessage(); err != nil || string(data) != "one" {
		t.Fatalf("relay: %q %v", data, err)
	}
	svWrite(t, a, "two")
	psExpect(t, a, map[string]any{"type": "error", "error": "rate limited"})
	svStatus(t, http.StatusNotFound, http.MethodGet, "http://"+addr+"/nowhere", "")

	expectMetrics(t, addr,
		eq("wsd_websockets", n+2), eq("wsd_upgrades_total", n+2), atLeast("wsd_connections", n+2),
		atLeast("wsd_connections_opened_total", n+2),
		eq("wsd_messages_received_total", m+2), eq("wsd_bytes_received_total", 5*m+6),
		atLeast("wsd_messages_sent_total", m+1), atLeast("wsd_bytes_sent_total", 5*m+3),
		eq("wsd_broadcasts_total", 1), eq("wsd_deliveries_total", 1),
		eq("wsd_rate_limited_messages_total", 1), eq("wsd_rooms", 1), eq("wsd_room_members", 2),
		eq("wsd_handshakes_rejected_total", 1, "reason", "not_found"),
		eq("wsd_handshakes_rejected_total", 0, "reason", "unauthorized"),
		eq("wsd_dropped_messages_total", 0), eq("wsd_slow_consumer_closes_total", 0))

	closeWith(t, echo[0], websocket.CloseNormalClosure)
	closeWith(t, echo[1], 4001)
	eventuallyMetrics(t, addr, eq("wsd_websockets", n), eq("wsd_websocket_closes_total", 1, "code", "1000"),
		eq("wsd_websocket_closes_total", 1, "code", "3000-4999"),
		eq("wsd_websocket_closes_total", 0, "code", "1001"))
}

// closeWith does the client's side of a closing handshake with code.
func closeWith(t *testing.T, c *websocket.Conn, code int) {
	t.Helper()
	msg := websocket.FormatCloseMessage(code, "")
	if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(svWait)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(svWait))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, code) {
		t.Fatalf("close %d: %v", code, err)
	}
}

// TestMetricsLoopLag: the loops' lag is measured on their timer tasks and read by the probe in the
// background; /metrics reports it.
func TestMetricsLoopLag(t *testing.T) {
	c := svConfig()
	c.Metrics.LagInterval = Duration(10 * time.Millisecond)
	c.PingInterval = Duration(50 * time.Millisecond) // a timer due soon: heartbeats run timer tasks
	s, addr := svStart(t, c, nil)
	svDial(t, addr, "/echo", nil) // the engine knows a loop once it has served a connection
	deadline := time.Now().Add(svWait)
	for s.loopLag() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no loop lag measured")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if v, ok := metricValue(scrape(t, addr), "wsd_loop_lag_seconds"); !ok || v <= 0 {
		t.Fatalf("wsd_loop_lag_seconds %g %v, want > 0", v, ok)
	}
}
