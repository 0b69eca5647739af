package natsbroker

import (
	"strings"

	"github.com/nats-io/nats.go"
)

// worker delivers the messages of the rooms hashed to it, in the order NATS delivered them. All its
// room subscriptions share its channel (nats.ChanSubscribe), so the number of goroutines does not grow
// with the number of rooms.
type worker struct {
	b        *Broker
	ch       chan *nats.Msg
	variants [][]byte // scratch, len maxVariants
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
	for {
		select {
		case m := <-w.ch:
			w.receive(m)
		case <-w.b.wstop:
			return
		}
	}
}

// receive decodes one room message and hands it to the engine, unless this node sent it.
func (w *worker) receive(m *nats.Msg) {
	b := w.b
	b.stats.received.Add(1)
	room, ok := b.roomOf(m.Subject)
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

// roomOf returns the room name of a room subject. A hashed (long) name is known only while this node is
// subscribed to it.
func (b *Broker) roomOf(subj string) (string, bool) {
	tok, ok := strings.CutPrefix(subj, b.roomPfx)
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
