package natsbroker

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openspeed/wsd/rooms"
)

// Replies to the sequencer's requests. They run on the inbox goroutine (or the sweeper's, for a
// timeout): they only update state under sq.mu, finish publications, and wake the control
// goroutine for what comes next.

// pubAck is JetStream's reply to a stored message.
type pubAck struct {
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
	Error  *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// outcome of a commit attempt.
type outcome int

const (
	outStored    outcome = iota // stored at ack.Seq
	outConflict                 // another message was stored first: read the room's last one, retry
	outUncertain                // no reply: the attempt may or may not be stored
	outTransient                // not stored (JetStream unavailable...): retry after a pause
)

// classify reads a commit's reply.
func classify(m *nats.Msg, err error) (outcome, uint64, error) {
	if err != nil {
		if errors.Is(err, errTimeout) {
			return outUncertain, 0, err
		}
		return outTransient, 0, err // not sent (closed, or nats.go refused it)
	}
	if replyStatus(m) != "" {
		return outTransient, 0, errors.New("natsbroker: no JetStream stream for the room (status " + replyStatus(m) + ")")
	}
	var ack pubAck
	if err := json.Unmarshal(m.Data, &ack); err != nil {
		return outUncertain, 0, err
	}
	switch {
	case ack.Error != nil && ack.Error.ErrCode == errCodeWrongLastSeq:
		return outConflict, 0, nil
	case ack.Error != nil:
		return outTransient, 0, errors.New("natsbroker: JetStream: " + ack.Error.Description)
	case ack.Seq == 0:
		return outUncertain, 0, errors.New("natsbroker: JetStream reply without a sequence")
	}
	return outStored, ack.Seq, nil
}

// retryPause is the pause after an attempt that failed for a reason other than a conflict.
const retryPause = 250 * time.Millisecond

// onCommit handles the reply to a commit attempt.
func (sq *sequencer) onCommit(bt *batch, m *nats.Msg, err error) {
	out, seq, cause := classify(m, err)
	var finish []*rooms.Pub
	sq.mu.Lock()
	r := bt.room
	bt.sent = false
	switch out {
	case outStored:
		finish = sq.stored(r, bt, seq)
	case outConflict:
		sq.b.stats.conflicts.Add(1)
		r.known = false
	case outUncertain:
		bt.doubt = append(bt.doubt, bt.expect)
		r.known = false
	case outTransient:
		r.known, r.retryAt = false, time.Now().Add(retryPause)
		sq.b.noteTransient(cause)
	}
	sq.wake(r)
	sq.mu.Unlock()
	sq.finish(finish)
	sq.b.kick()
}

// stored records that bt was stored at seq and returns the publications to finish now: those of a
// room this node does not deliver (no echo will come), or whose echo the worker skipped. Caller
// holds sq.mu.
func (sq *sequencer) stored(r *seqRoom, bt *batch, seq uint64) []*rooms.Pub {
	r.known, r.lastSeq, r.lastOff, r.epoch = true, seq, bt.first+uint64(bt.count)-1, bt.epoch
	if r.cur == bt {
		r.cur = nil
	}
	bt.seq, bt.stored, bt.doubt = seq, time.Now(), nil
	if bt.pubs == nil { // its echo came first
		delete(sq.batches, bt.id)
		return nil
	}
	for i, p := range bt.pubs {
		p.Position = rooms.Position{Offset: bt.first + uint64(i), Epoch: bt.epoch}
	}
	if r.live && r.seen < seq {
		r.waiting = append(r.waiting, bt)
		return nil
	}
	delete(sq.batches, bt.id)
	ps := bt.pubs
	bt.pubs = nil
	return ps
}

// finish completes publications stored but not delivered on this node.
func (sq *sequencer) finish(ps []*rooms.Pub) {
	for _, p := range ps {
		p.Finish(rooms.PubResult{Position: p.Position})
	}
}

// onRead handles a read of a room's last message, or of the message after a doubtful attempt's
// expected one.
func (sq *sequencer) onRead(j job, m *nats.Msg, err error) {
	var finish []*rooms.Pub
	st, derr := decodeReply(m, err)
	sq.mu.Lock()
	r := j.r
	r.reading = false
	bt := r.cur
	switch {
	case derr != nil:
		r.retryAt = time.Now().Add(retryPause)
		sq.b.noteTransient(derr)
	case bt != nil && st != nil && sq.ours(st, bt):
		finish = sq.stored(r, bt, st.seq) // a lost reply: it was stored after all
	case !j.last:
		bt.doubt = bt.doubt[1:] // not stored after that expect: look at the next doubt, or retry
	case st == nil:
		r.known, r.lastSeq, r.lastOff, r.epoch = true, 0, 0, ""
	default:
		r.known, r.lastSeq, r.lastOff, r.epoch = true, st.seq, st.last(), st.epoch
	}
	sq.wake(r)
	sq.mu.Unlock()
	sq.finish(finish)
	sq.b.kick()
}

// ours reports whether a stored message is bt.
func (sq *sequencer) ours(st *stored, bt *batch) bool {
	return st.batch == bt.id && string(st.origin) == sq.b.opts.NodeID
}

// decodeReply decodes a direct-get reply: a stored message, nil when there is none (404), or an
// error.
func decodeReply(m *nats.Msg, err error) (*stored, error) {
	if err != nil {
		return nil, err
	}
	switch replyStatus(m) {
	case "":
	case statusNotFound:
		return nil, nil
	default:
		return nil, errors.New("natsbroker: JetStream read failed (status " + replyStatus(m) + ")")
	}
	st, err := decodeStored(m)
	if err != nil {
		return nil, err
	}
	return &st, nil
}
