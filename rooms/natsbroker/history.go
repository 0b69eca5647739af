package natsbroker

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openspeed/wsd/rooms"
)

// errNotSequenced answers History in relay mode: a relay keeps no history.
var errNotSequenced = errors.New("natsbroker: no cluster history (core NATS relay)")

// History implements rooms.Broker: it reads the publications of room after since from the stream
// and calls done once, on a goroutine of its own, with at most limit of them (oldest first). It reads
// the room's last stored message first (a direct get): when since is from another epoch or nothing
// follows it, that is the answer; otherwise an ordered consumer on the room's stored subject reads
// the room's messages from the oldest on and keeps those after since. At most maxReaders reads run
// at once. In relay mode it answers at once with an error.
func (b *Broker) History(room string, since rooms.Position, limit int, done func(rooms.HistoryReply)) {
	if b.js == nil || b.closing.Load() {
		done(rooms.HistoryReply{Err: errNotSequenced})
		return
	}
	m := b.js
	m.hwg.Add(1)
	go func() {
		defer m.hwg.Done()
		select {
		case m.readers <- struct{}{}:
		case <-m.ctx.Done():
			done(rooms.HistoryReply{Err: errClosed})
			return
		}
		b.stats.historyReads.Add(1)
		h := b.readHistory(room, since, limit)
		<-m.readers
		done(h)
	}()
}

// readHistory reads the history of room after since (see History).
func (b *Broker) readHistory(room string, since rooms.Position, limit int) rooms.HistoryReply {
	ctx, cancel := context.WithTimeout(b.js.ctx, 2*DefaultRequestTimeout)
	defer cancel()
	subj := b.storedSubject(room)
	reply, err := b.nc.RequestMsgWithContext(ctx, b.lastReq(subj))
	last, err := decodeReply(reply, err)
	switch {
	case err != nil:
		return rooms.HistoryReply{Err: err}
	case last == nil:
		return rooms.HistoryReply{} // nothing stored: no epoch to recover in
	}
	h := rooms.HistoryReply{Position: last.position()}
	if since.Epoch != last.epoch || since.Offset >= last.last() || limit <= 0 {
		return h
	}
	cons, err := b.js.js.OrderedConsumer(ctx, b.opts.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{subj},
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return rooms.HistoryReply{Err: err}
	}
	defer b.deleteConsumer(cons)
	return b.collect(ctx, cons, room, since, limit, h)
}

// collect reads the consumer until the publications reach h.Position or limit.
func (b *Broker) collect(ctx context.Context, cons jetstream.Consumer, room string, since rooms.Position,
	limit int, h rooms.HistoryReply) rooms.HistoryReply {
	variants := make([][]byte, maxVariants)
	target := h.Position.Offset
	for len(h.Pubs) < limit && (len(h.Pubs) == 0 || h.Pubs[len(h.Pubs)-1].Position.Offset < target) {
		if err := ctx.Err(); err != nil {
			return failHistory(h, err)
		}
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return failHistory(h, err)
		}
		n, end := 0, false
		for msg := range batch.Messages() {
			n++
			var more []*rooms.Pub
			more, end = b.historyPubs(msg, room, since, variants)
			h.Pubs = append(h.Pubs, more...)
		}
		if err := batch.Error(); err != nil {
			return failHistory(h, err)
		}
		if end || n == 0 {
			break
		}
	}
	if len(h.Pubs) > limit {
		releaseAll(h.Pubs[limit:])
		h.Pubs = h.Pubs[:limit]
	}
	if n := len(h.Pubs); n > 0 && h.Pubs[n-1].Position.Offset > h.Position.Offset {
		h.Position = h.Pubs[n-1].Position
	}
	return h
}

// historyPubs returns the publications of one stored message after since, and whether it was the
// last message the consumer had.
func (b *Broker) historyPubs(msg jetstream.Msg, room string, since rooms.Position, variants [][]byte) ([]*rooms.Pub, bool) {
	md, err := msg.Metadata()
	if err != nil {
		return nil, false
	}
	m := &nats.Msg{Header: msg.Headers(), Data: msg.Data()}
	if m.Header == nil {
		m.Header = nats.Header{}
	}
	m.Header.Set(hdrSequence, strconv.FormatUint(md.Sequence.Stream, 10))
	st, err := decodeStored(m)
	if err != nil || st.epoch != since.Epoch || st.last() <= since.Offset {
		return nil, md.NumPending == 0
	}
	pubs := pubsOf(b.in, room, &st, variants)
	skip := 0
	for skip < len(pubs) && pubs[skip].Position.Offset <= since.Offset {
		pubs[skip].Release()
		skip++
	}
	return pubs[skip:], md.NumPending == 0
}

func failHistory(h rooms.HistoryReply, err error) rooms.HistoryReply {
	releaseAll(h.Pubs)
	return rooms.HistoryReply{Err: err}
}

// deleteConsumer removes a History read's consumer at once (its inactivity threshold would
// otherwise keep it on the server for a while).
func (b *Broker) deleteConsumer(cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultRequestTimeout)
	defer cancel()
	_ = b.js.js.DeleteConsumer(ctx, b.opts.Stream, info.Name)
}
