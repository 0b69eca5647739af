package natsbroker

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openspeed/wsd/rooms"
)

// queue is the work the rooms.Broker methods hand to the broker's goroutine: they are called from event
// loops with room locks held, and a nats.go call may block (it writes to the socket under the
// connection's lock once its 32 KiB buffer is full), so they only append here. mu is a leaf lock.
type queue struct {
	mu       sync.Mutex
	want     map[string]bool // latest Interest per room since the last drain (on/off flapping coalesces)
	order    []string        // the rooms of want, in first-change order
	pubs     []outMsg
	bytes    int // sum of len(pubs[i].data)
	limit    int // Options.PublishQueue
	flushers []chan struct{}
}

// outMsg is one encoded broadcast waiting to be published.
type outMsg struct {
	subject string
	data    *[]byte // from Broker.bufs
}

// maxPooledBuf is the largest buffer returned to Broker.bufs; bigger ones are left to the GC.
const maxPooledBuf = 64 << 10

// putBuf returns an envelope buffer to the broker's pool.
func (b *Broker) putBuf(p *[]byte) {
	if cap(*p) <= maxPooledBuf {
		*p = (*p)[:0]
		b.bufs.Put(p)
	}
}

// Interest records that this node now has members in room (on) or no longer has (off). It never
// blocks: the broker's goroutine subscribes or unsubscribes later, applying only the latest state of
// each room. Messages other nodes publish before the subscription reaches the NATS server (about one
// round trip after the first member joined) are not received.
func (b *Broker) Interest(room string, on bool) {
	if b.closing.Load() {
		return
	}
	q := &b.queue
	q.mu.Lock()
	if q.want == nil {
		q.want = make(map[string]bool)
	}
	if _, ok := q.want[room]; !ok {
		q.order = append(q.order, room)
	}
	q.want[room] = on
	q.mu.Unlock()
	b.kick()
}

// Publish sends a publication already delivered to this node's members to the other nodes (the broker
// is a relay: it keeps nothing of p). It encodes the envelope (the frames' wire bytes, once) and
// queues it; it never blocks. A publication that cannot be queued (broker closed, queue full) is
// counted in Stats.PublishFailures and not sent.
func (b *Broker) Publish(p *rooms.Pub) {
	if !b.ready.Load() || b.closing.Load() {
		b.stats.publishFailures.Add(1)
		return
	}
	if p.Main == nil {
		return
	}
	b.relay(p.Room, [maxVariants]*rooms.Frame{p.Main, p.Alt})
}

// relay queues the envelope of a publication's frames for the room's subject.
func (b *Broker) relay(room string, fs [maxVariants]*rooms.Frame) {
	p := b.bufs.Get().(*[]byte)
	if need := envelopeSize(b.opts.NodeID, fs); cap(*p) < need {
		*p = make([]byte, 0, need)
	}
	*p = appendEnvelope((*p)[:0], b.opts.NodeID, fs)
	subj, ok := b.subjects.Load(room)
	if !ok {
		subj = b.Subject(room)
	}
	q := &b.queue
	q.mu.Lock()
	if q.bytes+len(*p) > q.limit {
		q.mu.Unlock()
		b.putBuf(p)
		b.stats.publishFailures.Add(1)
		return
	}
	q.pubs = append(q.pubs, outMsg{subject: subj.(string), data: p})
	q.bytes += len(*p)
	q.mu.Unlock()
	b.kick()
}

// kick wakes the broker's goroutine.
func (b *Broker) kick() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// control is the broker's goroutine: it applies Interest changes, publishes queued broadcasts, sends
// presence reports and forgets silent nodes. It owns subs.
func (b *Broker) control() {
	defer close(b.ctlDone)
	subs := make(map[string]*nats.Subscription)
	epoch := uint64(time.Now().UnixNano())
	b.sendPresence(subs, epoch)
	tick := time.NewTicker(b.opts.PresenceInterval)
	defer tick.Stop()
	for {
		select {
		case <-b.wake:
			b.drain(subs)
		case now := <-tick.C:
			epoch++
			b.sendPresence(subs, epoch)
			b.pres.sweep(now)
		case <-b.stop:
			b.drain(subs)
			b.sendBye()
			return
		}
	}
}

// drain applies everything queued until the queue is empty, then releases the Flush callers that were
// waiting when it started. The publish slice is double-buffered: b.spare and queue.pubs never share
// an array.
func (b *Broker) drain(subs map[string]*nats.Subscription) {
	q := &b.queue
	for {
		q.mu.Lock()
		want, order, pubs, flushers := q.want, q.order, q.pubs, q.flushers
		q.want, q.order, q.pubs, q.flushers, q.bytes = nil, nil, b.spare[:0], nil, 0
		q.mu.Unlock()
		for _, room := range order {
			b.applyInterest(subs, room, want[room])
		}
		for i := range pubs {
			b.publishNow(pubs[i])
			pubs[i] = outMsg{}
		}
		for _, f := range flushers {
			close(f)
		}
		b.spare = pubs
		if len(order) == 0 && len(pubs) == 0 && len(flushers) == 0 {
			return
		}
	}
}

// publishNow hands one broadcast to nats.go (which copies it into its buffer).
func (b *Broker) publishNow(m outMsg) {
	if err := b.nc.Publish(m.subject, *m.data); err != nil {
		b.stats.publishFailures.Add(1)
	} else {
		b.stats.published.Add(1)
	}
	b.putBuf(m.data)
}

// applyInterest subscribes to or unsubscribes from room's subject.
func (b *Broker) applyInterest(subs map[string]*nats.Subscription, room string, on bool) {
	sub, have := subs[room]
	switch {
	case on && !have:
		tok, hashed := roomToken(room)
		subj := b.roomPfx + tok
		s, err := b.nc.ChanSubscribe(subj, b.workerFor(subj).ch)
		if err != nil {
			b.logger().Error("natsbroker: subscribe", "node", b.opts.NodeID, "subject", subj, "err", err)
			return
		}
		subs[room] = s
		b.subjects.Store(room, subj)
		if hashed {
			b.hashed.Store(subj, room)
		}
		b.stats.rooms.Add(1)
	case !on && have:
		if err := sub.Unsubscribe(); err != nil && !b.closing.Load() {
			b.logger().Warn("natsbroker: unsubscribe", "node", b.opts.NodeID, "subject", sub.Subject, "err", err)
		}
		delete(subs, room)
		b.subjects.Delete(room)
		b.hashed.Delete(sub.Subject)
		b.stats.rooms.Add(-1)
	}
}

// sendPresence publishes this node's local member counts.
func (b *Broker) sendPresence(subs map[string]*nats.Subscription, epoch uint64) {
	e := presenceEncoder{node: b.opts.NodeID, epoch: epoch, emit: b.publishPresence}
	switch {
	case b.opts.Counts != nil:
		for room, n := range b.opts.Counts() {
			e.add(room, n)
		}
	case b.opts.LocalCount != nil:
		for room := range subs {
			e.add(room, b.opts.LocalCount(room))
		}
	}
	e.finish()
}

// sendBye tells the other nodes to forget this node's counts.
func (b *Broker) sendBye() {
	e := presenceEncoder{node: b.opts.NodeID, emit: b.publishPresence}
	e.bye()
}

func (b *Broker) publishPresence(data []byte) {
	if err := b.nc.Publish(b.presSubj, data); err == nil {
		b.stats.presenceSent.Add(1)
	}
}
