package natsbroker

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openspeed/wsd/rooms"
)

// The sequencer commits this node's publications to the stream (JetStream mode). Per room, one
// commit is in flight at a time; the publications published meanwhile wait and go into the next
// commit together (group commit), so a room's throughput is not one round trip per publication.
// A commit claims the offsets after the room's last stored message with
// Nats-Expected-Last-Subject-Sequence: when another node stored a message first, JetStream refuses
// it, the sequencer reads the room's last message and retries with the following offsets. So
// offsets stay contiguous, without duplicates or holes, whatever the number of publishing nodes.
//
// A commit keeps its identity (node id and batch number, in the payload) across attempts: a reply
// lost in a disconnect is resolved by reading back the message after the attempt's expected one, so
// a commit is never stored twice.

// Errors a publication can finish with in JetStream mode.
var (
	// ErrQueueFull: the publish queue (Options.PublishQueue) is full.
	ErrQueueFull = errors.New("natsbroker: publish queue full")
	// ErrTooLarge: the publication does not fit in a NATS message (the server's max_payload).
	ErrTooLarge = errors.New("natsbroker: publication larger than the NATS max_payload")
	// ErrPublishTimeout: the stream could not take the publication within Options.PublishTimeout.
	ErrPublishTimeout = errors.New("natsbroker: publication not stored in time")
)

// maxBatch bounds the publications of one commit.
const maxBatch = 1024

// errCodeWrongLastSeq is JetStream's error code for a failed Nats-Expected-Last-Subject-Sequence.
const errCodeWrongLastSeq = 10071

type sequencer struct {
	b *Broker

	mu      sync.Mutex
	rooms   map[string]*seqRoom
	ready   []*seqRoom        // rooms the control goroutine must look at
	busy    map[*seqRoom]bool // rooms with queued, in-flight or waiting publications
	batches map[uint64]*batch // this node's commits until finished
	bytes   int               // queued publication bytes
	nextID  uint64
	closed  bool
	forgot  time.Time    // last pass forgetting idle rooms
	rejects []*rooms.Pub // publications too large for a message, failed by the next drain
}

// seqRoom is the sequencer's state of one room. Guarded by sequencer.mu.
type seqRoom struct {
	name, subj string
	pending    []queued
	cur        *batch // the commit in flight, or waiting to be retried

	known   bool   // lastSeq, lastOff, epoch describe the room's last stored message
	lastSeq uint64 // its stream sequence (0: the room has no stored message)
	lastOff uint64
	epoch   string
	reading bool      // a read of the last (or a doubtful) message is in flight
	retryAt time.Time // after a failure, no attempt before then
	queued  bool      // in sequencer.ready

	live    bool     // a receive worker delivers the room: commits come back as echoes
	seen    uint64   // the stream sequence the worker delivered up to
	waiting []*batch // stored commits waiting for their echo
	used    time.Time
}

type queued struct {
	p  *rooms.Pub
	at time.Time
}

// batch is one commit of publications of one room.
type batch struct {
	id     uint64
	room   *seqRoom
	pubs   []*rooms.Pub // nil once delivered by its echo
	count  int          // len(pubs) when taken
	size   int
	since  time.Time // when its oldest publication was queued
	first  uint64    // attempt: offset of the first publication
	epoch  string    // attempt: the room's epoch
	expect uint64    // attempt: the room's last stream sequence
	sent   bool      // an attempt is in flight
	doubt  []uint64  // expects of attempts whose outcome is unknown (reply lost)
	seq    uint64    // stream sequence once stored
	stored time.Time
	asked  bool // the worker was asked to look for the echo
}

func newSequencer(b *Broker) *sequencer {
	return &sequencer{b: b, rooms: make(map[string]*seqRoom), busy: make(map[*seqRoom]bool),
		batches: make(map[uint64]*batch)}
}

// room returns the state of room, creating it. Caller holds sq.mu.
func (sq *sequencer) room(name string) *seqRoom {
	r := sq.rooms[name]
	if r == nil {
		r = &seqRoom{name: name, subj: sq.b.storedSubject(name)}
		sq.rooms[name] = r
	}
	r.used = time.Now()
	return r
}

// wake queues r for the control goroutine. Caller holds sq.mu.
func (sq *sequencer) wake(r *seqRoom) {
	sq.busy[r] = true
	if !r.queued {
		r.queued = true
		sq.ready = append(sq.ready, r)
	}
}

// publish queues p for its room's next commit. It never blocks.
func (sq *sequencer) publish(p *rooms.Pub) {
	size := pubSize(p)
	sq.mu.Lock()
	switch {
	case sq.closed:
		sq.mu.Unlock()
		sq.fail([]*rooms.Pub{p}, errClosed)
		return
	case sq.bytes+size > sq.b.opts.PublishQueue:
		sq.mu.Unlock()
		sq.fail([]*rooms.Pub{p}, ErrQueueFull)
		return
	}
	r := sq.room(p.Room)
	r.pending = append(r.pending, queued{p: p, at: time.Now()})
	sq.bytes += size
	sq.wake(r)
	sq.mu.Unlock()
	sq.b.kick()
}

// fail finishes publications that could not be stored.
func (sq *sequencer) fail(ps []*rooms.Pub, err error) {
	sq.b.stats.publishFailures.Add(uint64(len(ps)))
	for _, p := range ps {
		p.Finish(rooms.PubResult{Err: err})
	}
}

// job is what the control goroutine sends for a room: a read or a commit attempt.
type job struct {
	r     *seqRoom
	bt    *batch // a commit attempt
	after uint64 // a read of the message after this sequence (a doubtful attempt), when bt is nil
	last  bool   // a read of the last message, when bt is nil
}

// drain sends what the rooms woken since the last drain need. Control goroutine.
func (sq *sequencer) drain() {
	if !sq.b.connected.Load() {
		return // the reconnect handler kicks again
	}
	now := time.Now()
	sq.mu.Lock()
	ready := sq.ready
	sq.ready = nil
	var jobs []job
	for _, r := range ready {
		r.queued = false
		if j, ok := sq.step(r, now); ok {
			jobs = append(jobs, j)
		}
	}
	rejects := sq.rejects
	sq.rejects = nil
	sq.mu.Unlock()
	sq.fail(rejects, ErrTooLarge)
	for _, j := range jobs {
		sq.send(j)
	}
}

// step decides r's next job. Caller holds sq.mu.
func (sq *sequencer) step(r *seqRoom, now time.Time) (job, bool) {
	if r.reading || (r.cur != nil && r.cur.sent) || now.Before(r.retryAt) {
		return job{}, false
	}
	if bt := r.cur; bt != nil && len(bt.doubt) > 0 {
		r.reading = true
		return job{r: r, after: bt.doubt[0]}, true
	}
	if !r.known {
		r.reading = true
		return job{r: r, last: true}, true
	}
	if r.cur == nil {
		r.cur = sq.take(r)
		if r.cur == nil {
			return job{}, false
		}
	}
	bt := r.cur
	bt.expect, bt.epoch, bt.first = r.lastSeq, r.epoch, r.lastOff+1
	if r.lastSeq == 0 {
		bt.epoch, bt.first = newEpoch(), 1 // the room's stream starts (over)
	}
	bt.sent = true
	return job{r: r, bt: bt}, true
}

// take moves r's queued publications into a new commit, within maxBatch and the NATS payload
// limit. A publication that cannot fit any message fails. Caller holds sq.mu.
func (sq *sequencer) take(r *seqRoom) *batch {
	limit := int(sq.b.nc.MaxPayload()) - 4096 // room for the headers
	bt := &batch{room: r}
	n := 0
	for n < len(r.pending) && len(bt.pubs) < maxBatch {
		q := r.pending[n]
		size := pubSize(q.p)
		if len(bt.pubs) > 0 && bt.size+size > limit {
			break
		}
		n++
		sq.bytes -= size
		if size > limit {
			sq.rejects = append(sq.rejects, q.p)
			continue
		}
		if len(bt.pubs) == 0 {
			bt.since = q.at
		}
		bt.pubs, bt.size = append(bt.pubs, q.p), bt.size+size
	}
	clear(r.pending[:n])
	r.pending = r.pending[n:]
	if len(r.pending) == 0 {
		r.pending = nil
	}
	if len(bt.pubs) == 0 {
		return nil
	}
	sq.nextID++
	bt.id, bt.count = sq.nextID, len(bt.pubs)
	sq.batches[bt.id] = bt
	return bt
}

var epochEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// newEpoch names a new incarnation of a room's stream: 10 random base32 characters.
func newEpoch() string {
	var b [7]byte
	_, _ = rand.Read(b[:])
	return epochEncoding.EncodeToString(b[:])[:10]
}

// send hands a job to NATS (outside sq.mu).
func (sq *sequencer) send(j job) {
	b := sq.b
	if j.bt == nil {
		m := b.lastReq(j.r.subj)
		if !j.last {
			m = b.nextReq(j.r.subj, j.after+1)
		}
		b.js.rq.send(m, func(reply *nats.Msg, err error) { sq.onRead(j, reply, err) })
		return
	}
	bt := j.bt
	head := storedHead{origin: b.opts.NodeID, batch: bt.id, at: time.Now().UnixNano()}
	data := appendStored(make([]byte, 0, storedSize(head, bt.pubs)), head, bt.pubs)
	m := &nats.Msg{Subject: j.r.subj, Data: data, Header: nats.Header{}}
	m.Header.Set(hdrEpoch, bt.epoch)
	m.Header.Set(hdrOffset, strconv.FormatUint(bt.first, 10))
	m.Header.Set(hdrExpectLast, strconv.FormatUint(bt.expect, 10))
	b.stats.commits.Add(1)
	b.js.rq.send(m, func(reply *nats.Msg, err error) { sq.onCommit(bt, reply, err) })
}
