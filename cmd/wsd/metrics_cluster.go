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

// clusterCollector turns the broker's Stats into the wsd_cluster_ metrics.
type clusterCollector struct{ b *natsbroker.Broker }

// Describe implements prometheus.Collector.
func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClusterPublished, descClusterPubFailed, descClusterReceived,
		descClusterDelivered, descClusterOwn, descClusterDecode, descClusterReconn, descClusterDisconn,
		descClusterSlow, descClusterPresOut, descClusterPresIn, descClusterRooms, descClusterNodes,
		descClusterUp, descClusterNode} {
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
		{descClusterPresIn, st.PresenceReceived},
	} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v))
	}
	gauge(descClusterRooms, float64(st.Rooms))
	gauge(descClusterNodes, float64(st.Nodes))
	connected := 0.0
	if st.Connected {
		connected = 1
	}
	gauge(descClusterUp, connected)
	gauge(descClusterNode, 1, c.b.NodeID())
}
