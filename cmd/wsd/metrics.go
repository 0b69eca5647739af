package main

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/openspeed/wsd/engine"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// metrics renders GET /metrics: a private registry with wsd's collector, the Go runtime collector
// and the process collector, encoded in the Prometheus text format. The counters live in the
// engine, per event loop, and are summed only when scraped (App.Stats), so the message path takes
// no lock and allocates nothing for them. The handler runs on an event loop; a scrape costs about
// a millisecond of it.
type metrics struct {
	reg    *prometheus.Registry
	format expfmt.Format
	log    func(msg string, args ...any)
}

func newMetrics(s *server) *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		&statsCollector{s: s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if s.broker != nil {
		reg.MustRegister(&clusterCollector{b: s.broker})
	}
	return &metrics{reg: reg, format: expfmt.NewFormat(expfmt.TypeTextPlain), log: s.log.Warn}
}

// serve is the GET /metrics handler. A collector error is logged and the rest still served.
func (m *metrics) serve(ctx *engine.Context) error {
	families, err := m.reg.Gather()
	if err != nil {
		m.log("metrics: gathering", "err", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, m.format)
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return ctx.Blob(http.StatusOK, string(m.format), buf.Bytes())
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("wsd_"+name, help, labels, nil)
}

// The wsd_ metrics. Counters are totals since the process started.
var (
	descConnections = desc("connections", "Open sockets, WebSocket or plain HTTP.")
	descWebSockets  = desc("websockets", "Open WebSocket connections.")
	descOpened      = desc("connections_opened_total", "Sockets accepted.")
	descClosed      = desc("connections_closed_total", "Sockets closed.")
	descUpgrades    = desc("upgrades_total", "Successful WebSocket upgrades.")
	descCloses      = desc("websocket_closes_total",
		"Closed WebSockets by the close code the peer sent (1006 when it sent none).", "code")
	descRejected = desc("handshakes_rejected_total",
		"Requests refused by the server before any upgrade, by reason.", "reason")
	descMsgsIn      = desc("messages_received_total", "WebSocket data messages received.")
	descBytesIn     = desc("bytes_received_total", "Payload bytes of the WebSocket data messages received.")
	descMsgsOut     = desc("messages_sent_total", "Frames written to sockets (data, control, and HTTP responses).")
	descBytesOut    = desc("bytes_sent_total", "Bytes written to sockets.")
	descBroadcasts  = desc("broadcasts_total", "Publications and broadcasts that reached at least one member.")
	descDeliveries  = desc("deliveries_total", "Messages queued for room members by broadcasts.")
	descDrops       = desc("dropped_messages_total", "Messages skipped for connections over max_backpressure (slow_consumer: drop).")
	descSlowCloses  = desc("slow_consumer_closes_total", "Connections closed with 1008 for being over max_backpressure (slow_consumer: close).")
	descRateLimited = desc("rate_limited_messages_total", "Messages refused by a rate limit.")
	descCtlFloods   = desc("control_flood_closes_total", "Connections closed with 1008 for sending control frames (ping, pong) over control_limit.")
	descRooms       = desc("rooms", "Rooms with at least one member.")
	descMembers     = desc("room_members", "Room memberships (a connection in two rooms counts twice).")
	descLoopLag     = desc("loop_lag_seconds", "How long the last timer task of the busiest event loop waited to run (read every metrics.lag_interval).")
	descBuild       = desc("build_info", "Always 1; the labels name the build.", "version", "goversion", "gnet")
)

// Plain HTTP connections held back by their outbound budget.
var (
	descReadPauses = desc("http_read_pauses_total",
		"Times a plain HTTP connection stopped being read because the answers queued for it reached max_backpressure.")
	descPipelineOverflows = desc("http_pipeline_overflows_total",
		"HTTP connections answered 429 and closed for pipelining more than one request's worth while not read.")
)

// Room history and recovery (joins from a position).
var (
	descRecoveries = desc("recoveries_total",
		"Joins from a position (clients rejoining after a reconnect), by result: recovered (nothing missed) or failed.", "result")
	descRecovered = desc("recovered_publications_total", "Publications replayed to rejoining clients.")
	descHistBytes = desc("history_bytes", "Bytes kept by the rooms' histories on this node (payloads and frame headers, plus 128 bytes per entry).")
	descHistLen   = desc("history_entries", "Publications kept by the rooms' histories on this node.")
	descNotKept   = desc("history_not_kept_total",
		"Publications a room's history could not keep (over history.max_entry, or the history.budget).")
)

// closeLabel is the code label of a key of engine.Stats.Closes.
func closeLabel(code engine.CloseCode) string {
	switch code {
	case 3000:
		return "3000-4999"
	case 0:
		return "other"
	}
	return strconv.Itoa(int(code))
}

// statsCollector turns one App.Stats snapshot per scrape into the wsd_ metrics.
type statsCollector struct{ s *server }

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnections, descWebSockets, descOpened, descClosed,
		descUpgrades, descCloses, descRejected, descMsgsIn, descBytesIn, descMsgsOut, descBytesOut,
		descBroadcasts, descDeliveries, descDrops, descSlowCloses, descRateLimited, descCtlFloods, descRooms,
		descMembers, descLoopLag, descBuild, descReadPauses, descPipelineOverflows, descRecoveries,
		descRecovered, descHistBytes, descHistLen, descNotKept} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.App.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descConnections, float64(st.Connections))
	gauge(descWebSockets, float64(st.WebSockets))
	counter(descOpened, st.Opened)
	counter(descClosed, st.Closed)
	counter(descUpgrades, st.Upgrades)
	for code := engine.CloseCode(1000); code <= 1015; code++ { // every series, zeros included
		counter(descCloses, st.Closes[code], closeLabel(code))
	}
	counter(descCloses, st.Closes[3000], closeLabel(3000))
	counter(descCloses, st.Closes[0], closeLabel(0))
	for reason, n := range st.Rejected {
		counter(descRejected, n, engine.RejectReason(reason).String())
	}
	counter(descMsgsIn, st.MessagesIn)
	counter(descBytesIn, st.BytesIn)
	counter(descMsgsOut, st.MessagesOut)
	counter(descBytesOut, st.BytesOut)
	counter(descBroadcasts, st.Broadcasts)
	counter(descDeliveries, st.Deliveries)
	counter(descDrops, st.Drops)
	counter(descSlowCloses, st.SlowCloses)
	counter(descRateLimited, st.RateLimited)
	counter(descReadPauses, st.ReadPauses)
	counter(descPipelineOverflows, st.PipelineOverflows)
	counter(descCtlFloods, st.ControlFloods)
	counter(descRecoveries, st.Recovered, "recovered")
	counter(descRecoveries, st.RecoveryFailed, "failed")
	counter(descRecovered, st.Replayed)
	gauge(descHistBytes, float64(st.HistoryBytes))
	gauge(descHistLen, float64(st.HistoryEntries))
	counter(descNotKept, st.HistoryNotKept)
	gauge(descRooms, float64(st.Rooms))
	gauge(descMembers, float64(st.Members))
	gauge(descLoopLag, c.s.loopLag().Seconds())
	b := buildInfo()
	gauge(descBuild, 1, b.version, b.goVersion, b.gnet)
}
