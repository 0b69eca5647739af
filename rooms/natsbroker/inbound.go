package natsbroker

import (
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// worker delivers the messages of the rooms hashed to it, in the order NATS delivered them. All its
// room subscriptions share its channel (nats.ChanSubscribe), so the number of goroutines does not grow
// with the number of rooms.
type worker struct {
	b        *Broker
	ch       chan *nats.Msg
	variants [][]byte // scratch, len maxVariants

	// JetStream mode (worker goroutine only, but mail)
	mail   mailbox              // work for this worker's rooms from other goroutines
	rooms  map[string]*liveRoom // the rooms this worker delivers
	timers []timed              // delayed actions
}

// mailbox queues functions for a worker goroutine. It is unbounded, but what it holds is bounded by
// the rooms and the requests in flight: at most one read per room, one start or stop per Interest.
type mailbox struct {
	mu    sync.Mutex
	items []func()
	ready chan struct{}
}

func (mb *mailbox) post(fn func()) {
	mb.mu.Lock()
	mb.items = append(mb.items, fn)
	mb.mu.Unlock()
	select {
	case mb.ready <- struct{}{}:
	default:
	}
}

func (mb *mailbox) take() []func() {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	items := mb.items
	mb.items = nil
	return items
}

// workerFor picks the worker of a room subject (FNV-1a of the subject).
func (b *Broker) workerFor(subj string) *worker {
	h := uint32(2166136261)
	for i := 0; i < len(subj); i++ {
		h ^= uint32(subj[i])
		h *= 16777619
	}
	return b.workers[h%uint32(len(b.workers))]
}

func (w *worker) run() {
	defer w.b.wg.Done()
	if w.b.js != nil {
		w.runLive()
		return
	}
	for {
		select {
		case m := <-w.ch:
			w.receive(m)
		case <-w.b.wstop:
			return
		}
	}
}

// runLive is the worker's loop in JetStream mode.
func (w *worker) runLive() {
	tick := time.NewTicker(workerTick)
	defer tick.Stop()
	for {
		select {
		case m := <-w.ch:
			w.receiveLive(m)
		case <-w.mail.ready:
			for _, fn := range w.mail.take() {
				fn()
			}
		case now := <-tick.C:
			w.runDue(now)
		case <-w.b.wstop:
			for _, fn := range w.mail.take() {
				fn()
			}
			for _, lr := range w.rooms {
				w.answer(lr, errClosed)
			}
			return
		}
	}
}

// receive decodes one room message and hands it to the engine, unless this node sent it.
func (w *worker) receive(m *nats.Msg) {
	b := w.b
	b.stats.received.Add(1)
	room, ok := b.roomOf(m.Subject, b.roomPfx)
	if !ok {
		b.stats.decodeErrors.Add(1)
		return
	}
	origin, err := decodeEnvelope(m.Data, w.variants)
	if err != nil {
		b.stats.decodeErrors.Add(1)
		return
	}
	if string(origin) == b.opts.NodeID {
		b.stats.droppedOwn.Add(1)
		return
	}
	p := b.in.NewPub(room)
	p.Main = b.in.FromWire(w.variants[0])
	if w.variants[1] != nil {
		p.Alt = b.in.FromWire(w.variants[1])
	}
	clear(w.variants)
	if p.Main == nil {
		p.Release()
		b.stats.decodeErrors.Add(1)
		return
	}
	p.Origin = string(origin)
	b.in.Deliver(p)
	b.stats.delivered.Add(1)
}

// roomOf returns the room name of a room subject (relay or live) starting with pfx. A hashed (long)
// name is known only while this node is subscribed to it.
func (b *Broker) roomOf(subj, pfx string) (string, bool) {
	tok, ok := strings.CutPrefix(subj, pfx)
	if !ok || tok == "" {
		return "", false
	}
	if tok[0] == hashedMark {
		room, ok := b.hashed.Load(subj)
		if !ok {
			return "", false
		}
		return room.(string), true
	}
	room, err := Unescape(tok)
	return room, err == nil
}
