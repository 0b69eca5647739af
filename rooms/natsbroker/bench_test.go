package natsbroker_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/rooms/natsbroker"
)

// benchReceivers is the number of receivers in the benchmarked room.
const benchReceivers = 10

// benchWindow bounds the broadcasts in flight in the throughput benchmark, so no queue overflows and
// every broadcast is delivered.
const benchWindow = 256

// BenchmarkBroadcast measures one sender broadcasting to benchReceivers members of a room:
//
//	single         one node, no broker
//	same-node      two nodes on core NATS (relay), sender and receivers on the same node (the broker's
//	               publish cost)
//	cross-node     two nodes on core NATS (relay), sender on one, receivers on the other
//	js-same-node   two nodes on JetStream (file storage), sender and receivers on the same node: every
//	               publication is stored and comes back from the stream before it is delivered
//	js-cross-node  two nodes on JetStream, sender on one, receivers on the other
//
// throughput sends b.N broadcasts with at most benchWindow in flight and reports deliveries/s;
// latency sends one broadcast at a time and reports the p50 and p99 of send-to-receive time, from
// timestamps in the payloads (same clock: one process).
func BenchmarkBroadcast(b *testing.B) {
	for _, topo := range []string{"single", "same-node", "cross-node", "js-same-node", "js-cross-node"} {
		b.Run(topo+"/throughput", func(b *testing.B) { benchBroadcast(b, topo, false) })
		b.Run(topo+"/latency", func(b *testing.B) { benchBroadcast(b, topo, true) })
	}
}

func benchBroadcast(b *testing.B, topo string, paced bool) {
	sendNode, recvNode := benchTopology(b, topo)
	src := dial(b, sendNode, "bench")
	rs := make([]*benchReceiver, benchReceivers)
	for i := range rs {
		rs[i] = startReceiver(dial(b, recvNode, "bench"))
	}
	defer func() {
		for _, r := range rs {
			r.close()
		}
	}()
	nodes, local := []*node{sendNode}, []int{benchReceivers + 1}
	if recvNode != sendNode {
		nodes, local = []*node{sendNode, recvNode}, []int{1, benchReceivers}
	}
	if sendNode.b != nil {
		settle(b, "bench", nodes, local)
		waitSynced(b, nodes, "bench")
	} else {
		waitFor(b, "members", func() bool { return sendNode.app.LocalCount("bench") == local[0] })
	}
	pad := strings.Repeat(" ", 48)

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := src.write(strconv.FormatInt(time.Now().UnixNano(), 10) + pad); err != nil {
			b.Fatal(err)
		}
		waitReceivers(b, rs, int64(i+1), paced)
	}
	waitReceivers(b, rs, int64(b.N), true)
	elapsed := time.Since(start)
	b.StopTimer()

	b.ReportMetric(float64(b.N*benchReceivers)/elapsed.Seconds(), "deliveries/s")
	if paced {
		var all []time.Duration
		for _, r := range rs {
			all = append(all, r.samples()...)
		}
		slices.Sort(all)
		b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	}
}

// benchTopology starts the nodes of topo and returns the sender's and the receivers' node.
func benchTopology(b *testing.B, topo string) (*node, *node) {
	if topo == "single" {
		n := startNode(b, "", natsbroker.Options{})
		return n, n
	}
	o := natsbroker.Options{PresenceInterval: time.Second, History: natsbroker.HistoryOff}
	var s *server.Server
	if strings.HasPrefix(topo, "js-") {
		s, o.History = startJS(b, -1, ""), natsbroker.HistoryJetStream
	} else {
		s = startNATS(b, -1)
	}
	o.NodeID = "a"
	a := startNode(b, s.ClientURL(), o)
	o.NodeID = "b"
	c := startNode(b, s.ClientURL(), o)
	if strings.HasSuffix(topo, "same-node") {
		return a, a
	}
	return a, c
}

// waitReceivers waits until every receiver has n messages (paced), or n-benchWindow (throughput).
func waitReceivers(b *testing.B, rs []*benchReceiver, n int64, paced bool) {
	if !paced {
		n -= benchWindow
	}
	deadline := time.Now().Add(wait)
	for _, r := range rs {
		for r.count.Load() < n {
			if time.Now().After(deadline) {
				b.Fatalf("receiver stuck at %d of %d messages", r.count.Load(), n)
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// benchReceiver counts a client's messages and records their latency.
type benchReceiver struct {
	cl    *client
	count atomic.Int64
	mu    sync.Mutex
	lat   []time.Duration
	done  chan struct{}
}

func startReceiver(cl *client) *benchReceiver {
	r := &benchReceiver{cl: cl, done: make(chan struct{})}
	go r.run()
	return r
}

func (r *benchReceiver) run() {
	defer close(r.done)
	for {
		select {
		case m := <-r.cl.msgs:
			ns, err := strconv.ParseInt(strings.TrimRight(m, " "), 10, 64)
			if err != nil {
				panic(fmt.Sprintf("bad payload %q", m))
			}
			d := time.Since(time.Unix(0, ns))
			r.mu.Lock()
			r.lat = append(r.lat, d)
			r.mu.Unlock()
			r.count.Add(1)
		case <-r.cl.stop:
			return
		}
	}
}

func (r *benchReceiver) samples() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lat)
}

func (r *benchReceiver) close() {
	r.cl.close()
	<-r.done
}

// waitSynced waits until every JetStream node knows room's position (its Sync came): before, a
// broadcast is stored but not yet delivered to the node's members.
func waitSynced(tb testing.TB, nodes []*node, room string) {
	for _, n := range nodes {
		if n.b.Sequenced() {
			waitFor(tb, "the room's position", func() bool { return n.b.LiveRooms() > 0 })
		}
	}
}

// BenchmarkRecovery measures a member that missed 1,000 publications rejoining on another node of a
// JetStream cluster: "ring" on a node that received them (its own history serves the recovery),
// "stream" on a node without members in the room (the recovery reads JetStream). The time from the
// join request to the last recovered publication is reported per recovery.
func BenchmarkRecovery(b *testing.B) {
	const missed = 1000
	s := startJS(b, -1, "")
	o := natsbroker.Options{PresenceInterval: time.Second, History: natsbroker.HistoryJetStream}
	var nodes []*node
	for _, id := range []string{"a", "b", "c"} {
		o.NodeID = id
		nodes = append(nodes, startNode(b, s.ClientURL(), o))
	}
	src := dialRec(b, nodes[0], "rec", engine.Position{})
	keep := dialRec(b, nodes[1], "rec", engine.Position{})
	pos := src.join.pos
	for _, target := range []struct {
		name   string
		n      *node
		others int
	}{{"ring", nodes[1], 1}, {"stream", nodes[2], 0}} {
		b.Run(target.name, func(b *testing.B) {
			var total time.Duration
			for range b.N {
				publishN(b, src.client, "m", missed)
				ps := src.expectRun(b, pos, missed)
				keep.expectRun(b, pos, missed)
				began := time.Now()
				m := dialRec(b, target.n, "rec", pos)
				if !m.join.recovered {
					b.Fatalf("not recovered: %+v", m.join)
				}
				m.expectRun(b, pos, missed)
				total += time.Since(began)
				m.close()
				pos = engine.Position{Offset: ps[missed-1].off, Epoch: ps[missed-1].epoch}
				waitFor(b, "the member to leave", func() bool { return target.n.app.LocalCount("rec") == target.others })
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/recovery")
		})
	}
}
