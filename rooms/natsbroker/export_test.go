package natsbroker

import "fmt"

// DebugSeq describes the sequencer's state (tests only).
func (b *Broker) DebugSeq() string {
	if b.js == nil {
		return "relay"
	}
	sq := b.js.seq
	sq.mu.Lock()
	defer sq.mu.Unlock()
	out := fmt.Sprintf("bytes %d batches %d ready %d busy %d\n", sq.bytes, len(sq.batches), len(sq.ready), len(sq.busy))
	for name, r := range sq.rooms {
		out += fmt.Sprintf("  %s pending %d cur %v known %v last %d/%d %s reading %v retry %v queued %v live %v seen %d waiting %d\n",
			name, len(r.pending), r.cur != nil, r.known, r.lastSeq, r.lastOff, r.epoch, r.reading, r.retryAt, r.queued, r.live, r.seen, len(r.waiting))
		if r.cur != nil {
			out += fmt.Sprintf("    cur id %d pubs %d sent %v doubt %v seq %d\n", r.cur.id, len(r.cur.pubs), r.cur.sent, r.cur.doubt, r.cur.seq)
		}
	}
	b.js.rq.mu.Lock()
	out += fmt.Sprintf("requests pending %d\n", len(b.js.rq.pending))
	b.js.rq.mu.Unlock()
	return out
}

// Crash stops the broker the way a crashed node stops: no goodbye, nothing more sent.
func (b *Broker) Crash() {
	b.silent.Store(true)
	_ = b.Close()
}

// LiveRooms is the number of rooms the workers deliver with a known position (JetStream mode).
func (b *Broker) LiveRooms() int {
	n := 0
	for _, w := range b.workers {
		done := make(chan int)
		w.mail.post(func() {
			k := 0
			for _, lr := range w.rooms {
				if lr.synced {
					k++
				}
			}
			done <- k
		})
		n += <-done
	}
	return n
}
