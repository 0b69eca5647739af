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
func (t *Table[M]) JoinFrom(name string, m M, opts RoomOptions, since Position, done JoinDone) {
	t.joinFrom(name, m, opts, since, done, false)
}

// JoinDone receives the outcome of JoinFrom; async reports whether it runs after JoinFrom returned
// (on a broker goroutine).
type JoinDone func(rec Recovery, err error, async bool)

func (t *Table[M]) joinFrom(name string, m M, opts RoomOptions, since Position, done JoinDone, async bool) {
	if err := t.CheckName(name); err != nil {
		done(Recovery{}, err, async)
		return
	}
	for {
		r := t.getOrCreate(name, opts)
		r.pubMu.Lock()
		if r.dead {
			r.pubMu.Unlock()
			continue
		}
		if t.sequenced() && !r.synced.Load() {
			t.wait(r, func() { t.joinFrom(name, m, opts, since, done, true) })
			return
		}
		t.trim(r, time.Now().UnixNano())
		if since == (Position{}) {
			t.joinReplay(r, m, nil, r.st.n, reasonFresh, done, async) // from now: nothing to recover
			return
		}
		idx, reason := r.st.check(since)
		if reason == ReasonExpired && t.sequenced() {
			r.pubMu.Unlock()
			t.fetch(r, m, since, done)
			return
		}
		t.joinReplay(r, m, nil, idx, reason, done, async) // unlocks r.pubMu
		return
	}
}

// wait parks a join until the cluster's position of r is known (Sync). Caller holds r.pubMu; wait
// releases it.
func (t *Table[M]) wait(r *Room[M], join func()) {
	r.waiters = append(r.waiters, join)
	first := len(r.waiters) == 1 && r.count.Load() == 0
	r.pubMu.Unlock()
	if first {
		t.interest(r.name, true) // nobody here yet: subscribe so that the position arrives
	}
}

// joinReplay adds m to r, replays fetched (publications from the broker that precede the history)
// and the history from index idx on, and calls done. reason != "" means recovery failed: m joins
// without replay. Caller holds r.pubMu; joinReplay releases it.
func (t *Table[M]) joinReplay(r *Room[M], m M, fetched []*Pub, idx int, reason string, done JoinDone,
	async bool) {
	r.mu.Lock()
	added, err := t.joinLocked(r, m)
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
		rec.Missed = len(fetched) + s.n - idx
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

// replay queues one publication to m.
func (t *Table[M]) replay(m M, p *Pub) {
	v := [1]uint8{m.Variant()}
	t.fan.Prepare(p, v[:])
	t.fan.Replay(m, p)
}

// fetch reads the publications after since from a sequencing broker, then joins m with them and what
// the room's history holds after them.
func (t *Table[M]) fetch(r *Room[M], m M, since Position, done JoinDone) {
	t.broker.History(r.name, since, maxFetch, func(h HistoryReply) {
		defer releasePubs(h.Pubs)
		for {
			r.pubMu.Lock()
			if !r.dead {
				break
			}
			r.pubMu.Unlock()
			r = t.getOrCreate(r.name, RoomOptions{Limit: int(r.limit), History: r.hist})
		}
		reason := ""
		switch {
		case h.Err != nil:
			reason = ReasonFailed
		case h.Position.Epoch != r.st.epoch || since.Epoch != r.st.epoch:
			reason = ReasonEpoch
		case !covers(h.Pubs, since.Offset, r.st.first()):
			reason = ReasonExpired
		}
		var use []*Pub
		if reason == "" {
			use = h.Pubs[:r.st.first()-since.Offset-1]
		}
		t.joinReplay(r, m, use, 0, reason, done, true)
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
	r.pubMu.Lock()
	r.mu.RLock()
	s := &r.st
	res := PubResult{Position: p.Position}
	if !r.dead && (p.Position.Epoch != s.epoch || p.Position.Offset > s.last) {
		if p.Position.Epoch != s.epoch || p.Position.Offset != s.last+1 {
			t.restart(r, Position{Offset: p.Position.Offset - 1, Epoch: p.Position.Epoch})
		}
		s.last = p.Position.Offset
		res.Delivered = t.deliverLocked(r, p)
	}
	r.mu.RUnlock()
	waiters := t.markSynced(r)
	r.pubMu.Unlock()
	runAll(waiters)
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

// Sync implements Inbound.
func (t *Table[M]) Sync(room string, pos Position, err error) {
	r := t.Lookup(room)
	if r == nil {
		return
	}
	r.pubMu.Lock()
	if err == nil && !r.synced.Load() {
		t.restart(r, pos)
	}
	if err != nil && !r.synced.Load() {
		t.restart(r, Position{Epoch: "unknown-" + t.newEpoch()}) // no recovery until a publication arrives
	}
	waiters := t.markSynced(r)
	r.pubMu.Unlock()
	runAll(waiters)
	if r.count.Load() == 0 {
		t.interest(room, false) // the waiting joins failed or left
		t.removeIfEmpty(r)
	}
}
