package main

import (
	"github.com/openspeed/wsd/rooms/natsbroker"
	"github.com/prometheus/client_golang/prometheus"
)

// The wsd_cluster_ metrics, served by a cluster node only (cluster.nats set): natsbroker.Stats
// read at scrape time (atomic loads; nothing is counted per message here).
var (
	descClusterPublished = desc("cluster_published_total", "Broadcasts handed to NATS for the other nodes.")
	descClusterPubFailed = desc("cluster_publish_failures_total",
		"Broadcasts not sent to the other nodes: publish queue or NATS reconnect buffer full, or too large for NATS.")
	descClusterReceived  = desc("cluster_received_total", "Room messages received from other nodes through NATS.")
	descClusterDelivered = desc("cluster_delivered_total", "Room messages from other nodes handed to this node's members.")
	descClusterOwn       = desc("cluster_dropped_own_total", "Room messages ignored because this node sent them.")
	descClusterDecode    = desc("cluster_decode_errors_total", "Room messages and presence reports that could not be decoded.")
	descClusterReconn    = desc("cluster_reconnects_total", "Successful reconnections to NATS.")
	descClusterDisconn   = desc("cluster_disconnects_total", "Connections to NATS lost.")
	descClusterSlow      = desc("cluster_slow_consumer_total",
		"Times NATS dropped messages for this node because a receive worker fell behind.")
	descClusterPresOut = desc("cluster_presence_sent_total", "Presence reports (chunks) published.")
	descClusterPresIn  = desc("cluster_presence_received_total", "Presence reports (chunks) received from other nodes.")
	descClusterRooms   = desc("cluster_subscribed_rooms", "Rooms this node is subscribed to (rooms with local members).")
	descClusterNodes   = desc("cluster_nodes", "Other nodes whose presence reports are fresh (this node not counted).")
	descClusterUp      = desc("cluster_connected", "1 while connected to a NATS server, else 0.")
	descClusterNode    = desc("cluster_node_info", "Always 1; the label is this node's id.", "node")
)

// The JetStream sequencer's metrics (cluster.history jetstream, or auto with JetStream offered).
var (
	descClusterJS        = desc("cluster_jetstream", "1 when the node keeps positions and history in NATS JetStream, else 0.")
	descClusterCommits   = desc("cluster_commits_total", "Stored messages written to the stream (each holds one or more publications).")
	descClusterConflicts = desc("cluster_commit_conflicts_total", "Commits refused because another node stored first (then retried).")
	descClusterCaughtUp  = desc("cluster_caught_up_total", "Stored messages read back from the stream to fill a gap in live delivery.")
	descClusterDupes     = desc("cluster_duplicates_total", "Live or read-back messages skipped as already delivered.")
	descClusterHistReads = desc("cluster_history_reads_total", "Recoveries that read the stream's history (past this node's own).")
	descClusterRemote    = desc("cluster_remote_members", "Members of other nodes known to presence.")
)

// clusterCollector turns the broker's Stats into the wsd_cluster_ metrics.
type clusterCollector struct{ b *natsbroker.Broker }

// Describe implements prometheus.Collector.
func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClusterPublished, descClusterPubFailed, descClusterReceived,
		descClusterDelivered, descClusterOwn, descClusterDecode, descClusterReconn, descClusterDisconn,
		descClusterSlow, descClusterPresOut, descClusterPresIn, descClusterRooms, descClusterNodes,
		descClusterUp, descClusterNode, descClusterJS, descClusterCommits, descClusterConflicts,
		descClusterCaughtUp, descClusterDupes, descClusterHistReads, descClusterRemote} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.b.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, m := range []struct {
		d *prometheus.Desc
		v uint64
	}{
		{descClusterPublished, st.Published}, {descClusterPubFailed, st.PublishFailures},
		{descClusterReceived, st.Received}, {descClusterDelivered, st.Delivered},
		{descClusterOwn, st.DroppedOwn}, {descClusterDecode, st.DecodeErrors},
		{descClusterReconn, st.Reconnects}, {descClusterDisconn, st.Disconnects},
		{descClusterSlow, st.SlowConsumer}, {descClusterPresOut, st.PresenceSent},
		{descClusterPresIn, st.PresenceReceived}, {descClusterCommits, st.Commits},
		{descClusterConflicts, st.Conflicts}, {descClusterCaughtUp, st.CaughtUp},
		{descClusterDupes, st.Duplicates}, {descClusterHistReads, st.HistoryReads},
	} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v))
	}
	gauge(descClusterRooms, float64(st.Rooms))
	gauge(descClusterNodes, float64(st.Nodes))
	gauge(descClusterRemote, float64(st.RemoteMembers))
	js := 0.0
	if st.JetStream {
		js = 1
	}
	gauge(descClusterJS, js)
	connected := 0.0
	if st.Connected {
		connected = 1
	}
	gauge(descClusterUp, connected)
	gauge(descClusterNode, 1, c.b.NodeID())
}
