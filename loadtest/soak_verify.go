package loadtest

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// guards names the fix of issue 13 a check protects: a failure there is that fix regressing.
var guards = map[string]string{
	lingerName: "issue 13 §6: after failing a connection, or answering a peer's close, wsd closes TCP " +
		"once its close frame is written",
	"upgrade: with a body":                            "issue 13 §6: upgrade requests with a body are refused",
	"http: request pipelined after Connection: close": "issue 13 §6: nothing is parsed after Connection: close",
	"ping flood": "issue 13 §6: pings are outside the message rate limit; the control-frame limit closes " +
		"a flooder with 1008",
	"silent peer": "issue 13 §6: a silent peer is closed idle_timeout after its last byte",
	"pipeliner":   "issue 13 §2: HTTP answers count against max_backpressure",
}

// requiredChecks must each have run at least once in a soak (silent peers and slowloris need a load
// phase longer than their timeouts).
func requiredChecks(cfg SoakConfig) []string {
	names := []string{"idle", "echo", "room member", "chat member", "room publisher", "slow consumer (drop)",
		"slow consumer (close)", "churn: echo, clean close", "churn: echo, RST", "churn: room member",
		"churn: TCP connect and RST", "churn: keep-alive HTTP", "ping flood", lingerName}
	l := cfg.Limits
	if cfg.Duration > l.IdleTimeout+l.PingInterval {
		names = append(names, "silent peer")
	}
	if cfg.Duration > l.HandshakeTimeout+5*time.Second {
		names = append(names, "slowloris")
	}
	if !cfg.NoPipeliner {
		names = append(names, "pipeliner")
	}
	return names
}

// verify checks everything the soak asserts and returns a line per failure.
func (r *SoakResult) verify(cfg SoakConfig) []string {
	var fails []string
	failf := func(format string, args ...any) { fails = append(fails, fmt.Sprintf(format, args...)) }
	if !r.Final.Alive {
		failf("the wsd process died during the soak")
	}
	r.verifyClients(failf, cfg)
	r.verifyCounters(failf)
	d := r.Drift
	note := ""
	if r.checkFailed("pipeliner") {
		note = " (the pipeliner failed too: " + guards["pipeliner"] + ")"
	}
	for _, m := range []struct {
		name string
		d    Drift
	}{{"RSS", d.RSS}, {"live Go heap (after GC)", d.LiveHeap}} {
		if !(math.Abs(m.d.Drift) <= cfg.MaxDrift) {
			failf("%s drifted %+.1f%% after warm-up (mean %.1f MiB over the first window, %.1f MiB over the last; bound ±%.0f%%)%s",
				m.name, 100*m.d.Drift, m.d.First/(1<<20), m.d.Last/(1<<20), 100*cfg.MaxDrift, note)
		}
	}
	g := d.Goroutines
	if !(g.Max-g.Min <= cfg.GoroutineSpread) || !(g.Last-g.First <= 1) {
		failf("goroutines after warm-up: %v to %v (bound %v apart), mean %.1f over the first window, %.1f over the last",
			g.Min, g.Max, cfg.GoroutineSpread, g.First, g.Last)
	}
	return fails
}

// verifyClients turns failed client checks into failure lines, naming the fix a check guards.
func (r *SoakResult) verifyClients(failf func(string, ...any), cfg SoakConfig) {
	ran := map[string]bool{}
	for _, c := range r.Clients.Checks {
		ran[c.Name] = ran[c.Name] || c.Runs > 0
		if c.Failed == 0 {
			continue
		}
		line := fmt.Sprintf("%s: %d of %d runs failed (want: %s); e.g. %s", c.Name, c.Failed, c.Runs, c.Want,
			strings.Join(c.Samples, " | "))
		if k := guards[c.Name]; k != "" {
			line += " [guards " + k + "]"
		}
		failf("%s", line)
	}
	for _, name := range requiredChecks(cfg) {
		if !ran[name] {
			failf("%s: never ran", name)
		}
	}
}

// verifyCounters compares the server's counters with what the clients saw.
func (r *SoakResult) verifyCounters(failf func(string, ...any)) {
	c, cl := r.Counters, r.Clients
	eq := func(what string, server float64, clients int64) {
		if server != float64(clients) {
			failf("%s: server counted %.0f, clients saw %d", what, server, clients)
		}
	}
	eq("upgrades (wsd_upgrades_total)", c["wsd_upgrades_total"], cl.Upgrades)
	eq("slow-consumer closes (wsd_slow_consumer_closes_total)", c["wsd_slow_consumer_closes_total"], cl.SlowCloses)
	eq("slow-consumer drops (wsd_dropped_messages_total) vs gaps in the slow consumers' streams",
		c["wsd_dropped_messages_total"], cl.DropGaps)
	reasons := map[string]bool{}
	for k := range cl.Rejects {
		reasons[k] = true
	}
	for k := range c {
		if reason, ok := strings.CutPrefix(k, `wsd_handshakes_rejected_total{reason="`); ok {
			reasons[strings.TrimSuffix(reason, `"}`)] = true
		}
	}
	var keys []string
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		what := fmt.Sprintf("rejected requests, reason %s", k)
		if k == "not_found" {
			what += " (the only 404s are requests pipelined after Connection: close, which must not run: issue 13 §6)"
		}
		eq(what, c[`wsd_handshakes_rejected_total{reason="`+k+`"}`], cl.Rejects[k])
	}
	if closes := c["wsd_websocket_closes_total"]; closes != c["wsd_upgrades_total"] {
		failf("WebSocket closes (wsd_websocket_closes_total, all codes) %.0f != upgrades %.0f: connections unaccounted for",
			closes, c["wsd_upgrades_total"])
	}
	if opened, closed := c["wsd_connections_opened_total"], c["wsd_connections_closed_total"]; opened-closed > 1 {
		failf("sockets opened %.0f, closed %.0f during the soak", opened, closed)
	}
	f := r.Final
	if f.WebSockets != 0 || f.FDs > f.FDsBefore+2 {
		failf("after the soak: %v WebSockets open, %d descriptors (before: %d)", f.WebSockets, f.FDs, f.FDsBefore)
	}
}

// checkFailed reports whether the named client check failed at least once.
func (r *SoakResult) checkFailed(name string) bool {
	for _, c := range r.Clients.Checks {
		if c.Name == name {
			return c.Failed > 0
		}
	}
	return false
}
