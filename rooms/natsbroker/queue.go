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
	ons      map[string]int  // Interest(on) calls per room since the last drain (JetStream answers each)
	order    []string        // the rooms of want, in first-change order
	asks     []string        // nodes to ask for a presence snapshot ("": all)
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
// each room. In relay mode, messages other nodes publish before the subscription reaches the NATS
// server (about one round trip after the first member joined) are not received. In JetStream mode
// every Interest(on) call is answered with Inbound.Sync, and the room's publications are delivered
// from the position it reports, none missed.
func (b *Broker) Interest(room string, on bool) {
	if b.closing.Load() {
		return
	}
	q := &b.queue
	q.mu.Lock()
	if q.want == nil {
		q.want, q.ons = make(map[string]bool), make(map[string]int)
	}
	if _, ok := q.want[room]; !ok {
		q.order = append(q.order, room)
	}
	q.want[room] = on
	if on {
		q.ons[room]++
	}
	q.mu.Unlock()
	b.kick()
}

// Publish implements rooms.Broker; it never blocks.
//
// In relay mode it sends a publication already delivered to this node's members to the other nodes
// (it keeps nothing of p): it encodes the envelope (the frames' wire bytes, once) and queues it. A
// publication that cannot be queued (broker closed, queue full) is counted in Stats.PublishFailures
// and not sent.
//
// In JetStream mode it takes p over and queues it for its room's next commit to the stream; p is
// finished once stored (and delivered on this node, through its echo, when the node has interest in
// the room), or with an error (ErrQueueFull, ErrTooLarge, ErrPublishTimeout) when it cannot be.
func (b *Broker) Publish(p *rooms.Pub) {
	if b.js != nil {
		b.js.seq.publish(p) // the sequencer takes p over
		return
	}
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

// control is the broker's goroutine: it applies Interest changes, publishes queued broadcasts and
// commits, sends presence messages and counts reports, and forgets silent nodes. It owns subs.
func (b *Broker) control() {
	defer close(b.ctlDone)
	subs := make(map[string]*nats.Subscription)
	epoch := uint64(time.Now().UnixNano())
	b.sendMembers([]string{""}) // learn the members already there
	b.sendReports(subs, epoch)
	tick := time.NewTicker(b.opts.PresenceInterval)
	defer tick.Stop()
	var fast <-chan time.Time
	if b.js != nil {
		t := time.NewTicker(sweepEvery)
		defer t.Stop()
		fast = t.C
	}
	for {
		select {
		case <-b.wake:
			b.drain(subs)
		case now := <-fast:
			b.js.rq.sweep(now)
			b.js.seq.sweep(now)
			b.drain(subs)
		case now := <-tick.C:
			epoch++
			b.sendReports(subs, epoch)
			b.pres.sweep(now)
			b.deliverEvents(b.remote.sweep(now))
		case <-b.stop:
			if b.silent.Load() {
				return
			}
			b.drain(subs)
			b.sendBye()
			return
		}
	}
}

// sweepEvery is how often the JetStream side looks for timeouts and retries.
const sweepEvery = 100 * time.Millisecond

// sendReports publishes this node's counts and its presence beat.
func (b *Broker) sendReports(subs map[string]*nats.Subscription, epoch uint64) {
	b.sendPresence(subs, epoch)
	if err := b.nc.Publish(b.membSubj, b.local.beat(b.opts.NodeID)); err == nil {
		b.stats.presenceSent.Add(1)
	}
}

// drain applies everything queued until the queue is empty, then releases the Flush callers that were
// waiting when it started. The publish slice is double-buffered: b.spare and queue.pubs never share
// an array.
func (b *Broker) drain(subs map[string]*nats.Subscription) {
	q := &b.queue
	for {
		q.mu.Lock()
		want, ons, order, pubs, flushers, asks := q.want, q.ons, q.order, q.pubs, q.flushers, q.asks
		q.want, q.ons, q.order, q.pubs, q.flushers, q.asks, q.bytes = nil, nil, nil, b.spare[:0], nil, nil, 0
		q.mu.Unlock()
		for _, room := range order {
			if b.js != nil {
				b.applyLive(subs, room, want[room], ons[room])
			} else {
				b.applyInterest(subs, room, want[room])
			}
		}
		for i := range pubs {
			b.publishNow(pubs[i])
			pubs[i] = outMsg{}
		}
		b.sendMembers(asks)
		if b.js != nil {
			b.js.seq.drain()
		}
		for _, f := range flushers {
			close(f)
		}
		b.spare = pubs
		if len(order) == 0 && len(pubs) == 0 && len(flushers) == 0 && len(asks) == 0 {
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

// applyInterest subscribes to or unsubscribes from room's subject (relay mode).
func (b *Broker) applyInterest(subs map[string]*nats.Subscription, room string, on bool) {
	sub, have := subs[room]
	switch {
	case on && !have:
		b.subscribe(subs, room, b.roomPfx)
	case !on && have:
		b.unsubscribe(subs, room, sub)
	}
}

// applyLive subscribes to or unsubscribes from room's live subject (JetStream mode) and has the
// room's worker answer the ons Interest(on) calls: with the room's position when the interest is
// still on, else with an error (the table ignores it, but counts it).
func (b *Broker) applyLive(subs map[string]*nats.Subscription, room string, on bool, ons int) {
	sub, have := subs[room]
	w := b.workerFor(b.liveSubject(room))
	switch {
	case on && !have && !b.subscribe(subs, room, b.livePfx):
		on = false // the subscription failed (connection closed): answer with errors
	case !on && have:
		b.unsubscribe(subs, room, sub)
	}
	switch {
	case on:
		w.mail.post(func() { w.start(room, ons) })
	case have || ons > 0:
		w.mail.post(func() { w.stop(room, ons) })
	}
}

// subscribe subscribes to room's subject under pfx, delivering to the room's worker.
func (b *Broker) subscribe(subs map[string]*nats.Subscription, room, pfx string) bool {
	tok, hashed := roomToken(room)
	subj := pfx + tok
	w := b.workerFor(subj)
	s, err := b.nc.ChanSubscribe(subj, w.ch)
	if err != nil {
		b.logger().Error("natsbroker: subscribe", "node", b.opts.NodeID, "subject", subj, "err", err)
		return false
	}
	subs[room] = s
	b.subjects.Store(room, subj)
	if hashed {
		b.hashed.Store(subj, room)
	}
	b.stats.rooms.Add(1)
	return true
}

// unsubscribe drops room's subscription.
func (b *Broker) unsubscribe(subs map[string]*nats.Subscription, room string, sub *nats.Subscription) {
	if err := sub.Unsubscribe(); err != nil && !b.closing.Load() {
		b.logger().Warn("natsbroker: unsubscribe", "node", b.opts.NodeID, "subject", sub.Subject, "err", err)
	}
	delete(subs, room)
	b.subjects.Delete(room)
	b.hashed.Delete(sub.Subject)
	b.stats.rooms.Add(-1)
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

// sendBye tells the other nodes to forget this node's counts and members.
func (b *Broker) sendBye() {
	e := presenceEncoder{node: b.opts.NodeID, emit: b.publishPresence}
	e.bye()
	_ = b.nc.Publish(b.membSubj, membersHeader(nil, membersBye, b.opts.NodeID, b.local.inc, 0, 0))
}

func (b *Broker) publishPresence(data []byte) {
	if err := b.nc.Publish(b.presSubj, data); err == nil {
		b.stats.presenceSent.Add(1)
	}
}
