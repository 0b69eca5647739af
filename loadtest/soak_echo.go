package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openspeed/wsd/loadtest/client"
)

// The well-behaved clients of the soak that need no room: idle holders, verifying echo clients and
// connection churn.

// idleRooms spreads the idle holders over this many rooms.
const idleRooms = 50

// idle holds plan.Idle silent connections (no goroutine each; a sweep every SweepInterval answers the
// server's pings) for the whole load phase. None may be lost; every one must close cleanly.
func (s *soak) idle() {
	const name, want = "idle", "held for the whole run, none closed by the server, clean close"
	pool := client.NewIdlePool()
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			scratch := make([]byte, 4096)
			for i := int(next.Add(1)) - 1; i < s.plan.Idle && s.running(); i = int(next.Add(1)) - 1 {
				nc, n, err := s.dialer.DialRaw(context.Background(), s.ep, fmt.Sprintf("/rooms/soak-idle-%d", i%idleRooms), scratch)
				if err == nil {
					s.upgrades.Add(1)
					err = pool.Add(nc, scratch[:n])
				}
				if err != nil && failed.Add(1) <= maxSamples {
					s.fail(name, want, "dial: %v", err)
				}
			}
		})
	}
	wg.Wait()
	var lost, pings int
	buf := make([]byte, 64<<10)
	for s.sleep(SweepInterval) {
		st := pool.Sweep(buf)
		lost, pings = lost+st.Closed, pings+st.Pings
	}
	st := pool.Sweep(buf)
	lost += st.Closed
	held := pool.Len()
	clean := pool.CloseAll(8, 10*time.Second)
	switch {
	case lost > 0 || failed.Load() > 0:
		s.fail(name, want, "%d of %d idle connections closed by the server, %d dials failed (pings answered %d)",
			lost, s.plan.Idle, failed.Load(), pings)
	case clean != held:
		s.fail(name, want, "%d of %d idle connections closed without a clean closing handshake", held-clean, held)
	default:
		s.pass(name, want)
	}
}

// echoPayload fills p with the deterministic content of message seq of echo connection id: the stamp
// goes in front later; the rest is printable (valid UTF-8 for text frames) and differs per message.
func echoPayload(p []byte, id int, seq int64) {
	for i := range p {
		p[i] = 'a' + byte((int64(i)+seq+int64(id))%26)
	}
}

// echoSizes are the payload sizes echo messages cycle through (all above the stamp size).
var echoSizes = []int{16, 64, 200, 1000, 4000, 16000, 100}

// echoShape is message seq's opcode and size.
func echoShape(seq int64) (client.Opcode, int) {
	op := client.OpText
	if seq%3 == 0 {
		op = client.OpBinary
	}
	return op, echoSizes[seq%int64(len(echoSizes))]
}

// echoClient sends messages at plan.EchoRate for the whole run on one /echo connection while a
// reader checks that every reply comes back complete, unchanged and in order.
func (s *soak) echoClient(id int) {
	const name, want = "echo", "every message echoed, unchanged, in order"
	c, err := s.dial("/echo", nil)
	if err != nil {
		s.fail(name, want, "dial: %v", err)
		return
	}
	var sent atomic.Int64
	writeDone := make(chan struct{})
	readErr := make(chan error, 1)
	go func() { readErr <- s.echoReader(c, id, &sent, writeDone) }()
	werr := s.echoWriter(c, id, &sent)
	close(writeDone)
	rerr := <-readErr
	if werr != nil && rerr == nil {
		rerr = werr
	}
	if rerr == nil {
		rerr = c.Close(5 * time.Second)
	} else {
		_ = c.Abort()
	}
	s.result(name, want, rerr)
}

// echoWriter sends stamped messages at the plan's rate until the load phase ends.
func (s *soak) echoWriter(c *client.Conn, id int, sent *atomic.Int64) error {
	interval := time.Duration(float64(time.Second) / s.plan.EchoRate)
	key := c.Key()
	payload := make([]byte, echoSizes[len(echoSizes)-2])
	var frame []byte
	next := time.Now().Add(time.Duration(s.intn(int(interval))))
	for seq := int64(1); ; seq++ {
		if !s.sleep(time.Until(next)) {
			return nil
		}
		next = pace(next, interval)
		op, size := echoShape(seq)
		p := payload[:size]
		echoPayload(p, id, seq)
		client.PutStamp(op, p, time.Now().UnixNano(), seq)
		frame = client.AppendFrame(frame[:0], op, p, key)
		if err := c.Write(frame); err != nil {
			return fmt.Errorf("write message %d: %w", seq, err)
		}
		sent.Store(seq)
	}
}

// echoReader checks every reply against what message seq was; after the writer stops it waits (at
// most 10 s) for the last replies.
func (s *soak) echoReader(c *client.Conn, id int, sent *atomic.Int64, writeDone <-chan struct{}) error {
	want := make([]byte, echoSizes[len(echoSizes)-2])
	for seq := int64(1); ; {
		done := false
		select {
		case <-writeDone:
			done = true
		default:
		}
		outstanding := seq <= sent.Load()
		switch {
		case !outstanding && done:
			return nil
		case !outstanding:
			_ = c.NetConn().SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		case done:
			_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
		default:
			_ = c.NetConn().SetReadDeadline(time.Now().Add(30 * time.Second))
		}
		op, p, err := c.ReadMessage()
		if err != nil {
			if !outstanding && isTimeout(err) {
				continue // nothing was outstanding: look at writeDone again
			}
			return fmt.Errorf("reply %d of %d: %w", seq, sent.Load(), err)
		}
		wop, size := echoShape(seq)
		w := want[:size]
		echoPayload(w, id, seq)
		ts, got, ok := client.ReadStamp(op, p)
		if op != wop || len(p) != size || !ok || got != seq || !bytes.Equal(p[client.StampSize:], w[client.StampSize:]) {
			return fmt.Errorf("reply %d: opcode %d, %d bytes, stamp seq %d (ok %v); want opcode %d, %d bytes", seq, op,
				len(p), got, ok, wop, size)
		}
		s.rec.RecordSince(ts)
		s.echoed.Add(1)
		s.progress.Add(1)
		seq++
	}
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}
