package natsbroker

import (
	"errors"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openspeed/wsd/rooms"
)

// In JetStream mode a node subscribes to a room's live subject (where the stream republishes every
// stored message of the room) while it has interest in the room. The room's receive worker keeps a
// liveRoom: the last stored message it delivered, by stream sequence and offset. It delivers a
// message only when it continues that position (the next offset, or offset 1 of a new epoch); any
// other message means something was missed (a slow consumer, a reconnect, a subscription that
// reached a NATS cluster late), and the worker reads the room's stored messages from its position
// on (direct gets, one message after another) before delivering the rest. So a node delivers every
// room's publications in the stream's order, without gaps or duplicates, from the position it
// reported in Sync.

// liveRoom is a room a worker delivers. Worker goroutine only.
type liveRoom struct {
	name, stored string
	owed         int  // Syncs owed to the table
	synced       bool // seq, off and epoch are known
	seq, off     uint64
	epoch        string
	busy         bool      // a read (or an epoch marker) is in flight
	catching     bool      // reading the stream forward: live messages wait in buf
	recheck      bool      // read the room's last message when idle
	pause        time.Time // no read before then (after a failure)
	buf          []*nats.Msg
	tries        int // failed attempts in a row
}

// Worker-side limits.
const (
	liveBuffer   = 4096                  // live messages a room holds while catching up (more are read back from the stream)
	recheckDelay = time.Second           // after a Sync, the room's last message is read again once (NATS clusters propagate subscriptions asynchronously)
	maxTries     = 5                     // reads that do not reach a message the live subject already delivered, before giving up on it
	retryBase    = 50 * time.Millisecond // first pause after a failed read, doubled per failure
	retryMax     = 2 * time.Second       // longest pause
	workerTick   = 25 * time.Millisecond // resolution of the workers' delayed actions
)

// errNoInterest answers an Interest(on) call that a later Interest(off) overtook.
var errNoInterest = errors.New("natsbroker: interest turned off")

func backoff(tries int) time.Duration {
	d := retryBase << min(tries, 8)
	return min(d, retryMax)
}

// start answers n Interest(on) calls for room (the control goroutine subscribed to its live subject
// before posting this).
func (w *worker) start(room string, n int) {
	lr := w.rooms[room]
	if lr == nil {
		lr = &liveRoom{name: room, stored: w.b.storedSubject(room)}
		w.rooms[room] = lr
	}
	lr.owed += n
	if lr.synced {
		w.answer(lr, nil)
	}
	w.pump(lr)
}

// stop forgets room (the control goroutine unsubscribed) and answers n Interest(on) calls that the
// interest turning off overtook.
func (w *worker) stop(room string, n int) {
	if lr := w.rooms[room]; lr != nil {
		n += lr.owed
		lr.owed = 0
		delete(w.rooms, room)
		w.b.js.seq.setLive(room, false, 0)
	}
	for range n {
		w.b.in.Sync(room, rooms.Position{}, errNoInterest)
	}
}

// answer sends the Syncs lr owes: its position, or err.
func (w *worker) answer(lr *liveRoom, err error) {
	pos := rooms.Position{Offset: lr.off, Epoch: lr.epoch}
	for ; lr.owed > 0; lr.owed-- {
		w.b.in.Sync(lr.name, pos, err)
	}
}

// current reports whether lr is still the worker's state of its room (a read's reply may come after
// the room was stopped).
func (w *worker) current(lr *liveRoom) bool { return w.rooms[lr.name] == lr }

// pump starts the read lr needs next, if any and none is in flight: every event that may change
// what a room needs (a reply, a gap, a timer) ends with it.
func (w *worker) pump(lr *liveRoom) {
	if !w.current(lr) || lr.busy || time.Now().Before(lr.pause) {
		return
	}
	switch {
	case !lr.synced:
		w.readSync(lr)
	case lr.catching:
		w.catchUp(lr)
	case lr.recheck:
		lr.recheck = false
		w.readLast(lr)
	}
}

// failed pauses lr's reads after a failure and pumps again after the pause.
func (w *worker) failed(lr *liveRoom) {
	lr.tries++
	d := backoff(lr.tries)
	lr.pause = time.Now().Add(d)
	w.later(d, func() { w.pump(lr) })
}

// read sends a direct get and hands its reply to fn on the worker goroutine, then pumps.
func (w *worker) read(lr *liveRoom, m *nats.Msg, fn func(*stored, error)) {
	lr.busy = true
	w.b.js.rq.send(m, func(reply *nats.Msg, err error) {
		st, derr := decodeReply(reply, err)
		w.mail.post(func() {
			lr.busy = false
			if w.current(lr) {
				fn(st, derr)
				w.pump(lr)
			}
		})
	})
}

// readSync reads the room's last stored message: the position the Syncs report.
func (w *worker) readSync(lr *liveRoom) {
	w.read(lr, w.b.lastReq(lr.stored), func(st *stored, err error) {
		switch {
		case err != nil:
			w.syncFailed(lr, err)
		case st == nil:
			w.writeMarker(lr)
		default:
			w.synced(lr, st)
		}
	})
}

// synced completes a room's sync at its last stored message st: the Syncs owed are answered, the
// live messages held are delivered.
func (w *worker) synced(lr *liveRoom, st *stored) {
	lr.synced, lr.tries = true, 0
	lr.seq, lr.off, lr.epoch = st.seq, st.last(), st.epoch
	w.answer(lr, nil)
	w.b.js.seq.setLive(lr.name, true, lr.seq)
	w.flush(lr)
	w.later(recheckDelay, func() { w.recheckRoom(lr.name) })
}

// writeMarker stores an epoch marker for a room without stored messages (see stored), unless
// another node or a publication got there first: then the sync reads again.
func (w *worker) writeMarker(lr *liveRoom) {
	b := w.b
	epoch := newEpoch()
	m := &nats.Msg{Subject: lr.stored, Header: nats.Header{},
		Data: appendStored(nil, storedHead{origin: b.opts.NodeID, at: time.Now().UnixNano()}, nil)}
	m.Header.Set(hdrEpoch, epoch)
	m.Header.Set(hdrOffset, "1")
	m.Header.Set(hdrExpectLast, "0")
	lr.busy = true
	b.js.rq.send(m, func(reply *nats.Msg, err error) {
		out, seq, cause := classify(reply, err)
		w.mail.post(func() {
			lr.busy = false
			if !w.current(lr) {
				return
			}
			switch out {
			case outStored:
				w.synced(lr, &stored{seq: seq, first: 1, epoch: epoch})
			case outConflict, outUncertain: // pump reads again
			default:
				w.syncFailed(lr, cause)
			}
			w.pump(lr)
		})
	})
}

// syncFailed answers the Syncs owed with err (the joins waiting go on without recovery) and tries
// again after a pause.
func (w *worker) syncFailed(lr *liveRoom, err error) {
	w.answer(lr, err)
	w.failed(lr)
}

// recheckRoom has room's last stored message read (when the room is idle) and catches up when this
// node is behind it.
func (w *worker) recheckRoom(room string) {
	if lr := w.rooms[room]; lr != nil {
		lr.recheck = true
		w.pump(lr)
	}
}

// readLast reads the room's last stored message for a recheck.
func (w *worker) readLast(lr *liveRoom) {
	w.read(lr, w.b.lastReq(lr.stored), func(st *stored, err error) {
		if err == nil && st != nil && st.seq > lr.seq {
			lr.catching = true
		}
	})
}

// catchUp reads the room's next stored message after lr.seq and delivers it; pump goes on until the
// stream has nothing more, then the live messages held meanwhile follow.
func (w *worker) catchUp(lr *liveRoom) {
	w.read(lr, w.b.nextReq(lr.stored, lr.seq+1), func(st *stored, err error) {
		switch {
		case err != nil:
			w.failed(lr)
		case st == nil:
			w.flush(lr)
		default:
			w.b.stats.caughtUp.Add(1)
			if !w.dup(lr, st) {
				w.deliver(lr, st) // the next stored message: what lies between is gone from the stream
			}
		}
	})
}

// flush delivers the live messages held while the room was syncing or catching up, as long as they
// continue the position; the room is then caught up.
func (w *worker) flush(lr *liveRoom) {
	for len(lr.buf) > 0 {
		st, err := decodeStored(lr.buf[0])
		switch {
		case err != nil:
			w.b.stats.decodeErrors.Add(1)
		case w.dup(lr, &st):
		case w.continues(lr, &st) || lr.tries >= maxTries:
			w.deliver(lr, &st)
		default:
			// The stream had nothing after lr.seq, yet this later message was republished: the read
			// came from a replica behind the stream's leader. Read again after a pause.
			lr.catching = true
			w.failed(lr)
			return
		}
		lr.buf[0] = nil
		lr.buf = lr.buf[1:]
	}
	lr.buf, lr.catching, lr.tries = nil, false, 0
}

// receiveLive handles a message of a room's live subject.
func (w *worker) receiveLive(m *nats.Msg) {
	b := w.b
	b.stats.received.Add(1)
	room, ok := b.roomOf(m.Subject, b.livePfx)
	lr := w.rooms[room]
	if !ok || lr == nil {
		return // the room's interest ended
	}
	if !lr.synced || lr.catching {
		if len(lr.buf) < liveBuffer {
			lr.buf = append(lr.buf, m)
		}
		return
	}
	st, err := decodeStored(m)
	switch {
	case err != nil:
		b.stats.decodeErrors.Add(1)
	case w.dup(lr, &st):
	case w.continues(lr, &st):
		w.deliver(lr, &st)
	default:
		lr.catching = true
		lr.buf = append(lr.buf, m)
		w.pump(lr)
	}
}

// continues reports whether st is the publication after lr's position.
func (w *worker) continues(lr *liveRoom, st *stored) bool {
	if st.epoch == lr.epoch {
		return st.first == lr.off+1
	}
	return st.first == 1
}

// dup reports (and skips) a message at or before lr's position.
func (w *worker) dup(lr *liveRoom, st *stored) bool {
	switch {
	case st.seq <= lr.seq:
	case st.epoch == lr.epoch && st.last() <= lr.off:
		lr.seq = st.seq
	default:
		return false
	}
	w.b.stats.duplicates.Add(1)
	return true
}

// deliver hands a stored message's publications to the table, in order: this node's own
// publications when they are still waiting for their echo, copies otherwise.
func (w *worker) deliver(lr *liveRoom, st *stored) {
	b := w.b
	var pubs []*rooms.Pub
	if string(st.origin) == b.opts.NodeID {
		pubs = b.js.seq.takeEcho(st.batch)
		for i, p := range pubs {
			p.Position = rooms.Position{Offset: st.first + uint64(i), Epoch: st.epoch}
			p.At = st.at
		}
	}
	if pubs == nil {
		if pubs = pubsOf(b.in, lr.name, st, w.variants); pubs == nil {
			b.stats.decodeErrors.Add(1)
		}
	}
	lr.seq, lr.off, lr.epoch = st.seq, st.last(), st.epoch
	for _, p := range pubs {
		b.in.Deliver(p)
	}
	b.stats.delivered.Add(uint64(len(pubs)))
	b.js.seq.observe(lr.name, st.seq, st.last(), st.epoch)
}

// later runs fn on the worker goroutine after d (within workerTick).
func (w *worker) later(d time.Duration, fn func()) {
	w.timers = append(w.timers, timed{at: time.Now().Add(d), fn: fn})
}

type timed struct {
	at time.Time
	fn func()
}

// runDue runs the delayed actions that are due.
func (w *worker) runDue(now time.Time) {
	var due []func()
	keep := w.timers[:0]
	for _, t := range w.timers {
		if now.Before(t.at) {
			keep = append(keep, t)
		} else {
			due = append(due, t.fn)
		}
	}
	clear(w.timers[len(keep):])
	w.timers = keep
	for _, fn := range due {
		fn()
	}
}
