package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/openspeed/wsd/engine"
)

// TestControlLimitConfig: control_limit is set like the other limits (file < env < flag), a route's
// block replaces the top-level one whole, and 0 turns it off (the engine's negative rate).
func TestControlLimitConfig(t *testing.T) {
	file := writeFile(t, "wsd.yaml", "control_limit: {per_second: 7}\nroutes:\n  ws: {control_limit: {per_second: 3, burst: 6}}\n")
	env := []string{"WSD_CONTROL_LIMIT_BURST=9", "WSD_ROUTES_ECHO_CONTROL_LIMIT_PER_SECOND=0"}
	c, err := loadArgs(t, "", env, "-config", file, "-routes.rooms.control-limit.burst=4")
	if err != nil {
		t.Fatal(err)
	}
	ec := c.engineConfig(nil, nil)
	checks := []struct {
		what      string
		got, want any
	}{
		{"defaults", defaults().engineConfig(nil, nil).ControlLimit,
			engine.Rate{PerSecond: engine.DefaultControlRate, Burst: engine.DefaultControlBurst}},
		{"top level (file, env)", ec.ControlLimit, engine.Rate{PerSecond: 7, Burst: 9}},
		{"routes.ws (file)", c.routeOptions(&c.Routes.WS).ControlLimit, engine.Rate{PerSecond: 3, Burst: 6}},
		{"routes.echo per_second 0 (env): off", c.routeOptions(&c.Routes.Echo).ControlLimit, engine.Rate{PerSecond: -1}},
		{"routes.rooms burst only (flag): a new block, off", c.routeOptions(&c.Routes.Rooms).ControlLimit,
			engine.Rate{PerSecond: -1, Burst: 0}},
		{"routes.chat (inherits)", c.routeOptions(&c.Routes.Chat).ControlLimit, engine.Rate{}},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: %+v, want %+v", ch.what, ch.got, ch.want)
		}
	}
	if _, err := loadArgs(t, "", []string{"WSD_CONTROL_LIMIT_PER_SECOND=-1"}); err == nil {
		t.Error("a negative control_limit.per_second was accepted")
	}
}

// TestMetricsControlFlood: a client that pings faster than control_limit is closed with 1008 and
// counted in wsd_control_flood_closes_total.
func TestMetricsControlFlood(t *testing.T) {
	c := svConfig()
	c.ControlLimit = ControlLimitConfig{PerSecond: 1, Burst: 5}
	_, addr := svStart(t, c, nil)
	expectMetrics(t, addr, eq("wsd_control_flood_closes_total", 0))
	ws := svDial(t, addr, "/echo", nil)
	for i := range 20 {
		err := ws.WriteControl(websocket.PingMessage, fmt.Appendf(nil, "%d", i), time.Now().Add(svWait))
		if err != nil {
			break // closed already
		}
	}
	_ = ws.SetReadDeadline(time.Now().Add(svWait))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
				t.Fatalf("after a ping flood: %v, want close 1008", err)
			}
			break
		}
	}
	eventuallyMetrics(t, addr, eq("wsd_control_flood_closes_total", 1))
}
