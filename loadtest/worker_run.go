package loadtest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openspeed/wsd/loadtest/client"
)

// countBatch: goroutines add their message counts to the shared counter every countBatch messages.
const countBatch = 64

// runEcho drives every echo connection for c.Duration with c.Depth messages in flight each.
func (w *worker) runEcho(c Cmd) Reply {
	rec := client.NewRecorder()
	var msgs, dead atomic.Int64
	var errOnce sync.Once
	firstErr := ""
	stop := w.progress(&msgs)
	deadline := time.Now().Add(c.Duration)
	var wg sync.WaitGroup
	for _, conn := range w.echo {
		wg.Go(func() {
			if err := echoLoop(conn, c, deadline, rec, &msgs); err != nil {
				dead.Add(1)
				errOnce.Do(func() { firstErr = err.Error() })
			}
		})
	}
	wg.Wait()
	stop()
	start := deadline.Add(-c.Duration)
	return Reply{Msgs: msgs.Load(), Hist: rec.Snapshot(), Dead: int(dead.Load()), FirstErr: firstErr,
		Elapsed: time.Since(start), Conns: len(w.echo)}
}

// echoLoop keeps depth stamped messages in flight on conn until deadline, then waits for the last
// answers. Every answer's round trip is recorded.
func echoLoop(conn *client.Conn, c Cmd, deadline time.Time, rec *client.Recorder, msgs *atomic.Int64) error {
	op := client.OpText
	if c.Binary {
		op = client.OpBinary
	}
	m := client.NewMessage(op, c.Size, conn.Key())
	var seq, local int64
	send := func() error {
		seq++
		m.Stamp(time.Now().UnixNano(), seq)
		return conn.Write(m.Bytes())
	}
	defer func() { msgs.Add(local) }()
	_ = conn.NetConn().SetReadDeadline(deadline.Add(30 * time.Second))
	defer func() { _ = conn.NetConn().SetReadDeadline(time.Time{}) }()
	inflight := 0
	for ; inflight < max(c.Depth, 1); inflight++ {
		if err := send(); err != nil {
			return err
		}
	}
	for inflight > 0 {
		rop, p, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		if ts, _, ok := client.ReadStamp(rop, p); ok {
			rec.RecordSince(ts)
		}
		inflight--
		if local++; local == countBatch {
			msgs.Add(local)
			local = 0
		}
		if time.Now().Before(deadline) {
			if err := send(); err != nil {
				return err
			}
			inflight++
		}
	}
	return nil
}

// publish opens one publisher per room and sends stamped messages into the rooms for c.Duration: at
// c.Rate per room, or (Rate 0) as fast as the room's probe member allows with c.Window in flight.
func (w *worker) publish(c Cmd) Reply {
	ep, err := client.ParseURL(c.URL)
	if err != nil {
		return Reply{Err: err.Error()}
	}
	pubs := make([]*client.Conn, c.Rooms)
	for r := range pubs {
		if pubs[r], err = w.dialer.Dial(context.Background(), ep, ep.RoomPath(r)); err != nil {
			return Reply{Err: "publisher: " + err.Error()}
		}
	}
	sent := make([]int64, c.Rooms)
	var total atomic.Int64
	stop := w.progress(&total)
	start := time.Now()
	var wg sync.WaitGroup
	for r, pc := range pubs {
		probe := w.probe(r)
		wg.Go(func() { sent[r] = pubLoop(pc, probe, c, start.Add(c.Duration), &total) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	for _, pc := range pubs {
		_ = pc.Close(5 * time.Second)
	}
	return Reply{Sent: sent, Msgs: total.Load(), Elapsed: elapsed}
}

// probe is the first member of room r in this worker, or nil.
func (w *worker) probe(r int) *member {
	for _, m := range w.members.all() {
		if m.room == r {
			return m
		}
	}
	return nil
}

// pubLoop publishes on conn until end and returns how many messages it sent.
func pubLoop(conn *client.Conn, probe *member, c Cmd, end time.Time, total *atomic.Int64) int64 {
	op := client.OpText
	if c.Binary {
		op = client.OpBinary
	}
	m := client.NewMessage(op, c.Size, conn.Key())
	var base int64
	if probe != nil {
		base = probe.n.Load()
	}
	wait := time.NewTimer(time.Hour)
	defer wait.Stop()
	start := time.Now()
	var seq int64
	for now := start; now.Before(end); now = time.Now() {
		if c.Rate > 0 {
			due := start.Add(time.Duration(float64(seq) / c.Rate * float64(time.Second)))
			if d := due.Sub(now); d > 0 {
				time.Sleep(min(d, end.Sub(now)))
				continue
			}
		} else if probe != nil && c.Window > 0 && seq-(probe.n.Load()-base) >= int64(c.Window) {
			wait.Reset(100 * time.Millisecond)
			select {
			case <-probe.notify:
			case <-wait.C:
			}
			continue
		}
		seq++
		m.Stamp(time.Now().UnixNano(), seq)
		if conn.Write(m.Bytes()) != nil {
			break
		}
		total.Add(1)
	}
	return seq
}

// collect waits until every reader has c.Expect[room] messages, or until nothing arrived for
// c.Timeout, then reports deliveries, losses and latency.
func (w *worker) collect(c Cmd) Reply {
	idle := max(c.Timeout, 100*time.Millisecond)
	last, lastChange := int64(-1), time.Now()
	for {
		total, done := w.readerTotals(c.Expect)
		if total != last {
			last, lastChange = total, time.Now()
		}
		if done || time.Since(lastChange) > idle {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	list := w.members.all()
	r := Reply{Hist: w.members.rec.Snapshot(), Conns: len(list)}
	for _, rd := range list {
		if rd.unused.Load() {
			continue
		}
		want, got := expectOf(c.Expect, rd.room), rd.n.Load()
		r.Received += min(got, want)
		r.Lost += max(want-got, 0)
		r.Extra += max(got-want, 0)
		if rd.dead.Load() {
			r.Dead++
		}
	}
	return r
}

// readerTotals sums what readers received and reports whether all got what they expect (or died).
func (w *worker) readerTotals(expect []int64) (int64, bool) {
	var total int64
	done := true
	for _, rd := range w.members.all() {
		n := rd.n.Load()
		total += n
		if n < expectOf(expect, rd.room) && !rd.ended.Load() {
			done = false
		}
	}
	return total, done
}

func expectOf(expect []int64, room int) int64 {
	if room < len(expect) {
		return expect[room]
	}
	return 0
}
