package rooms

import "time"

// maxFetch bounds the publications a recovery reads from a sequencing broker.
const maxFetch = 10000

// reasonFresh marks a join from the zero Position: from now on, nothing to recover.
const reasonFresh = "\x00fresh"

// JoinFrom adds m to room name like Join, and before any later publication of the room reaches m,
// replays to m (through Fanout.Replay) every publication after since, when the history still holds
// them all and since is in the room's current epoch. The zero Position joins from now: nothing is
// replayed, Recovery.Recovered is false with no Reason, and the join is not counted as a recovery.
// done runs exactly once with the outcome: during
// the call when it is known at once (always on a single node; async false); otherwise later, on a
// broker goroutine (async true). On an error (ErrFull, ErrName) m is not in the room.
//
// With a sequencing broker the join may have to wait for the cluster's position of the room (Sync)
// and read what this node's history lacks from the broker (History): meanwhile the join holds the
// room's interest (Room.pending), so the room keeps receiving, and is not forgotten, even when it
// has no member yet or its last member leaves.
func (t *Table[M]) JoinFrom(name string, m M, opts RoomOptions, since Position, done JoinDone) {
	if err := t.CheckName(name); err != nil {
		done(Recovery{}, err, false)
		return
	}
	for {
		r := t.getOrCreate(name, opts)
		r.pubMu.Lock()
		if r.dead {
			r.pubMu.Unlock()
			continue
		}
		if t.sequenced() {
			t.hold(r)
			t.joinSequenced(r, m, since, done, false)
			return
		}
		t.freshen(r)
		t.trim(r, time.Now().UnixNano())
		if since == (Position{}) {
			t.joinReplay(r, m, nil, r.st.n, reasonFresh, done, false, false) // from now: nothing to recover
			return
		}
		idx, reason := r.st.check(since)
		t.joinReplay(r, m, nil, idx, reason, done, false, false) // unlocks r.pubMu
		return
	}
}

// JoinDone receives the outcome of JoinFrom; async reports whether it runs after JoinFrom returned
// (on a broker goroutine).
type JoinDone func(rec Recovery, err error, async bool)

// hold makes a join from a position hold r's interest until it completes. Caller holds r.pubMu.
func (t *Table[M]) hold(r *Room[M]) {
	r.mu.Lock()
	r.pending++
	if r.pending == 1 && r.count.Load() == 0 {
		t.gainInterest(r) // nobody here yet: subscribe so that the position arrives
	}
	r.mu.Unlock()
}

// unhold drops a join's hold on r. Caller holds r.pubMu and r.mu.
func (t *Table[M]) unhold(r *Room[M]) {
	r.pending--
	if r.pending == 0 && r.count.Load() == 0 {
		t.loseInterest(r)
	}
}

// joinSequenced continues a join from a position with a sequencing broker: it waits until the
// room's cluster position is known, then joins from the history, or reads the older publications
// from the broker first. Caller holds r.pubMu and one hold on r; joinSequenced releases both (the
// hold once the join completed).
func (t *Table[M]) joinSequenced(r *Room[M], m M, since Position, done JoinDone, async bool) {
	if !r.synced.Load() {
		r.waiters = append(r.waiters, func() {
			r.pubMu.Lock()
			t.joinSequenced(r, m, since, done, true)
		})
		r.pubMu.Unlock()
		return
	}
	t.trim(r, time.Now().UnixNano())
	if since == (Position{}) {
		t.joinReplay(r, m, nil, r.st.n, reasonFresh, done, async, true) // from now: nothing to recover
		return
	}
	idx, reason := r.st.check(since)
	switch {
	case r.failed:
		reason = ReasonFailed
	case reason == ReasonExpired:
		r.pubMu.Unlock()
		t.fetch(r, m, since, done, 1)
		return
	}
	t.joinReplay(r, m, nil, idx, reason, done, async, true)
}

// joinReplay adds m to r, replays fetched (publications from the broker that precede the history)
// and the history from index idx on, and calls done. reason != "" means recovery failed: m joins
// without replay. held: the join holds r's interest (released here). Caller holds r.pubMu;
// joinReplay releases it.
func (t *Table[M]) joinReplay(r *Room[M], m M, fetched []*Pub, idx int, reason string, done JoinDone,
	async, held bool) {
	r.mu.Lock()
	added, err := t.joinLocked(r, m)
	if held {
		t.unhold(r)
	}
	r.mu.Unlock()
	if err != nil {
		r.pubMu.Unlock()
		t.removeIfEmpty(r)
		done(Recovery{}, err, async)
		return
	}
	rec := Recovery{Position: r.st.position(), Reason: reason}
	if reason == reasonFresh {
		rec.Reason = ""
	} else if reason == "" {
		rec.Recovered = true
		for _, p := range fetched {
			t.replay(m, p)
		}
		t.replayHistory(r, m, idx)
		rec.Missed = len(fetched) + r.st.n - idx
	}
	r.pubMu.Unlock()
	switch {
	case reason == reasonFresh:
	case rec.Recovered:
		t.stats.recovered.Add(1)
		t.stats.replayed.Add(uint64(rec.Missed))
	default:
		t.stats.failed.Add(1)
	}
	if added {
		t.announce(r.name, m, true)
	}
	done(rec, nil, async)
}

// replayHistory replays r's history from index idx on to m. Caller holds r.pubMu.
func (t *Table[M]) replayHistory(r *Room[M], m M, idx int) {
	s := &r.st
	for i := idx; i < s.n; i++ {
		e := s.at(i)
		p := t.NewPub(r.name)
		p.Position, p.At = Position{Offset: e.off, Epoch: s.epoch}, e.at
		p.Main = e.main
		e.main.Retain(1)
		if e.alt != nil {
			p.Alt = e.alt
			e.alt.Retain(1)
		}
		t.replay(m, p)
		p.Release()
	}
}

// replay queues one publication to m.
func (t *Table[M]) replay(m M, p *Pub) {
	v := [1]uint8{m.Variant()}
	t.fan.Prepare(p, v[:])
	t.fan.Replay(m, p)
}

// fetchAttempts bounds the reads of one recovery from a sequencing broker: a read that no longer
// reaches the history (publications kept arriving and pushed the history past what the read
// returned) is retried.
const fetchAttempts = 4

// fetch reads the publications after since from a sequencing broker, then joins m with them and what
// the room's history holds after them. The join's hold on r keeps the room alive meanwhile.
func (t *Table[M]) fetch(r *Room[M], m M, since Position, done JoinDone, attempt int) {
	t.broker.History(r.name, since, maxFetch, func(h HistoryReply) {
		defer releasePubs(h.Pubs)
		r.pubMu.Lock()
		first := r.st.first()
		reason := ""
		switch {
		case h.Err != nil:
			reason = ReasonFailed
		case h.Position.Epoch != r.st.epoch || since.Epoch != r.st.epoch:
			reason = ReasonEpoch
		case since.Offset >= first:
			// the history caught up meanwhile: nothing to take from the broker
		case !covers(h.Pubs, since.Offset, first):
			reason = ReasonExpired
			if h.Position.Offset < first-1 && len(h.Pubs) < maxFetch && attempt < fetchAttempts {
				r.pubMu.Unlock() // the history moved past the read: read again
				t.stats.refetched.Add(1)
				t.fetch(r, m, since, done, attempt+1)
				return
			}
		}
		var use []*Pub
		idx := 0
		if reason == "" && since.Offset < first {
			use = h.Pubs[:first-since.Offset-1]
		} else if reason == "" {
			idx = int(since.Offset + 1 - first)
		}
		t.joinReplay(r, m, use, idx, reason, done, true, true)
	})
}

// covers reports whether pubs hold every offset from after+1 up to first-1 (then the history takes over).
func covers(pubs []*Pub, after, first uint64) bool {
	need := first - after - 1
	if uint64(len(pubs)) < need {
		return false
	}
	for i := uint64(0); i < need; i++ {
		if pubs[i].Position.Offset != after+1+i {
			return false
		}
	}
	return true
}

func releasePubs(ps []*Pub) {
	for _, p := range ps {
		p.Release()
	}
}

// Deliver implements Inbound.
func (t *Table[M]) Deliver(p *Pub) {
	if !t.sequenced() {
		p.Finish(t.publishLocal(p)) // from a relay: this node sequences it, and does not relay it back
		return
	}
	r := t.Lookup(p.Room)
	if r == nil {
		p.Finish(PubResult{Position: p.Position})
		return
	}
	res := PubResult{Position: p.Position}
	r.pubMu.Lock()
	r.mu.RLock()
	// Only while the room is synced: before the Sync answering the last Interest(on), deliveries may
	// come from an older subscription, with a gap before the next one.
	if !r.dead && r.interested() && r.owed == 0 && r.synced.Load() {
		s := &r.st
		if p.Position.Epoch != s.epoch || p.Position.Offset > s.last {
			if p.Position.Epoch != s.epoch || p.Position.Offset != s.last+1 {
				t.restart(r, Position{Offset: p.Position.Offset - 1, Epoch: p.Position.Epoch})
			}
			s.last = p.Position.Offset
			r.failed = false
			res.Delivered = t.deliverLocked(r, p)
		}
	}
	r.mu.RUnlock()
	r.pubMu.Unlock()
	p.Finish(res)
}

// restart makes r's stream continue from pos, dropping the history when it would not be contiguous.
// Caller holds r.pubMu.
func (t *Table[M]) restart(r *Room[M], pos Position) {
	s := &r.st
	if pos.Epoch == s.epoch && pos.Offset == s.last {
		return
	}
	n0, b0 := s.n, s.bytes
	s.clear()
	t.account(s, n0, b0)
	s.epoch, s.last = pos.Epoch, pos.Offset
}

// markSynced records that r's cluster position is known and returns the joins that waited for it.
// Caller holds r.pubMu.
func (t *Table[M]) markSynced(r *Room[M]) []func() {
	r.synced.Store(true)
	w := r.waiters
	r.waiters = nil
	return w
}

func runAll(fns []func()) {
	for _, fn := range fns {
		fn()
	}
}

// Sync implements Inbound. Only the answer to the last Interest(on) call counts (the broker answers
// each call, in order).
func (t *Table[M]) Sync(room string, pos Position, err error) {
	r := t.Lookup(room)
	if r == nil {
		return // a room is kept while it is owed a Sync: this answers nothing
	}
	var waiters []func()
	r.pubMu.Lock()
	if r.owed > 0 {
		r.owed--
	}
	if r.owed == 0 && !r.dead && r.interested() && !r.synced.Load() {
		if err == nil {
			t.restart(r, pos)
		} else {
			t.restart(r, Position{Epoch: "unknown-" + t.newEpoch()}) // no recovery until a publication arrives
		}
		r.failed = err != nil
		waiters = t.markSynced(r)
	}
	empty := r.owed == 0 && !r.interested()
	r.pubMu.Unlock()
	runAll(waiters)
	if empty {
		t.removeIfEmpty(r)
	}
}
