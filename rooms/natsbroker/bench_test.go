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

	"github.com/openspeed/wsd/rooms/natsbroker"
)

// benchReceivers is the number of receivers in the benchmarked room.
const benchReceivers = 10

// benchWindow bounds the broadcasts in flight in the throughput benchmark, so no queue overflows and
// every broadcast is delivered.
const benchWindow = 256

// BenchmarkBroadcast measures one sender broadcasting to benchReceivers members of a room:
//
//	single      one node, no broker
//	same-node   two nodes on NATS, sender and receivers on the same node (the broker's publish cost)
//	cross-node  two nodes on NATS, sender on one, receivers on the other (through NATS)
//
// throughput sends b.N broadcasts with at most benchWindow in flight and reports deliveries/s;
// latency sends one broadcast at a time and reports the p50 and p99 of send-to-receive time, from
// timestamps in the payloads (same clock: one process).
func BenchmarkBroadcast(b *testing.B) {
	for _, topo := range []string{"single", "same-node", "cross-node"} {
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
	s := startNATS(b, -1)
	a := startNode(b, s.ClientURL(), natsbroker.Options{NodeID: "a", PresenceInterval: time.Second})
	c := startNode(b, s.ClientURL(), natsbroker.Options{NodeID: "b", PresenceInterval: time.Second})
	if topo == "same-node" {
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
