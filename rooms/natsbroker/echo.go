package natsbroker

import (
	"time"

	"github.com/openspeed/wsd/rooms"
)

// A commit of a room this node delivers comes back through the room's live subject like anyone's:
// the worker then delivers this node's own publications (with their Skip and done callbacks)
// instead of copies, which finishes them. These functions are the worker's side of that hand-over.

// echoWait is how long a stored commit may wait for its echo before the worker is asked to read the
// room's stream (the echo was lost: a slow consumer, a reconnect).
const echoWait = time.Second

// takeEcho returns the publications of this node's commit id for delivery by its echo, or nil when
// they are no longer waiting (then the echo is delivered like another node's message).
func (sq *sequencer) takeEcho(id uint64) []*rooms.Pub {
	sq.mu.Lock()
	defer sq.mu.Unlock()
	bt := sq.batches[id]
	if bt == nil || bt.pubs == nil {
		return nil
	}
	ps := bt.pubs
	bt.pubs = nil
	if bt.seq != 0 {
		delete(sq.batches, id)
		bt.room.waiting = removeBatch(bt.room.waiting, bt)
	}
	return ps
}

func removeBatch(list []*batch, bt *batch) []*batch {
	for i, b := range list {
		if b == bt {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// setLive records that a worker starts (with its position's stream sequence) or stops delivering
// room. Stopping finishes the commits that waited for their echo.
func (sq *sequencer) setLive(room string, on bool, seen uint64) {
	sq.mu.Lock()
	r := sq.room(room)
	r.live = on
	var finish []*rooms.Pub
	if on {
		finish = sq.seenUpTo(r, seen)
	} else {
		for _, bt := range r.waiting {
			finish = append(finish, bt.pubs...)
			bt.pubs = nil
			delete(sq.batches, bt.id)
		}
		r.waiting = nil
	}
	sq.mu.Unlock()
	sq.finish(finish)
}

// observe records that the worker delivered room up to the stored message seq (offset off, epoch):
// the sequencer's knowledge of the room's last message improves (fewer conflicts), and commits
// stored at or before seq whose echo did not come are finished.
func (sq *sequencer) observe(room string, seq, off uint64, epoch string) {
	sq.mu.Lock()
	r := sq.rooms[room]
	if r == nil {
		sq.mu.Unlock()
		return
	}
	if r.cur == nil && !r.reading && seq > r.lastSeq {
		r.known, r.lastSeq, r.lastOff, r.epoch = true, seq, off, epoch
	}
	finish := sq.seenUpTo(r, seq)
	sq.mu.Unlock()
	sq.finish(finish)
}

// seenUpTo raises r.seen and returns the publications of waiting commits stored at or before it.
// Caller holds sq.mu.
func (sq *sequencer) seenUpTo(r *seqRoom, seen uint64) []*rooms.Pub {
	r.seen = max(r.seen, seen)
	var finish []*rooms.Pub
	keep := r.waiting[:0]
	for _, bt := range r.waiting {
		if bt.seq > r.seen {
			keep = append(keep, bt)
			continue
		}
		finish = append(finish, bt.pubs...)
		bt.pubs = nil
		delete(sq.batches, bt.id)
	}
	clear(r.waiting[len(keep):])
	r.waiting = keep
	return finish
}

// idleFor is how long the sequencer remembers a room's last stored message after its last use.
const idleFor = time.Minute

// sweep fails publications queued longer than Options.PublishTimeout, wakes rooms whose pause is
// over, asks workers to look for lost echoes and forgets idle rooms. Control goroutine.
func (sq *sequencer) sweep(now time.Time) {
	var fail []*rooms.Pub
	var lookFor []string
	sq.mu.Lock()
	for r := range sq.busy {
		fail = sq.expire(r, now, fail)
		if len(r.waiting) > 0 && !r.waiting[0].asked && now.Sub(r.waiting[0].stored) > echoWait {
			r.waiting[0].asked = true
			lookFor = append(lookFor, r.name)
		}
		switch {
		case len(r.pending) > 0 || r.cur != nil:
			sq.wake(r)
		case len(r.waiting) == 0 && !r.reading:
			delete(sq.busy, r)
		}
	}
	if now.Sub(sq.forgot) > idleFor/4 {
		sq.forgot = now
		for name, r := range sq.rooms {
			if !sq.busy[r] && !r.live && now.Sub(r.used) > idleFor {
				delete(sq.rooms, name)
			}
		}
	}
	sq.mu.Unlock()
	sq.fail(fail, ErrPublishTimeout)
	for _, room := range lookFor {
		sq.b.recheck(room)
	}
}

// expire appends to fail the publications of r that waited too long: queued ones, and the current
// commit when it is known not to be stored (not in flight, no doubtful attempt). Caller holds sq.mu.
func (sq *sequencer) expire(r *seqRoom, now time.Time, fail []*rooms.Pub) []*rooms.Pub {
	limit := sq.b.opts.PublishTimeout
	if bt := r.cur; bt != nil && !bt.sent && len(bt.doubt) == 0 && bt.pubs != nil && now.Sub(bt.since) > limit {
		fail = append(fail, bt.pubs...)
		bt.pubs = nil
		delete(sq.batches, bt.id)
		r.cur = nil
	}
	n := 0
	for n < len(r.pending) && now.Sub(r.pending[n].at) > limit {
		fail = append(fail, r.pending[n].p)
		sq.bytes -= pubSize(r.pending[n].p)
		n++
	}
	clear(r.pending[:n])
	r.pending = r.pending[n:]
	return fail
}

// close fails the publications queued or in commits not known to be stored, and finishes those
// stored (their echo will not come any more). The requests were closed before: no reply comes.
func (sq *sequencer) close() {
	sq.mu.Lock()
	sq.closed = true
	var fail, done []*rooms.Pub
	for r := range sq.busy {
		for _, q := range r.pending {
			fail = append(fail, q.p)
		}
		r.pending, r.waiting, r.cur = nil, nil, nil
	}
	for id, bt := range sq.batches {
		if bt.seq != 0 {
			done = append(done, bt.pubs...)
		} else {
			fail = append(fail, bt.pubs...)
		}
		bt.pubs = nil
		delete(sq.batches, id)
	}
	fail = append(fail, sq.rejects...)
	sq.rejects = nil
	sq.mu.Unlock()
	sq.fail(fail, errClosed)
	sq.finish(done)
}
