package loadtest

import (
	"errors"
	"fmt"
	"time"

	"github.com/openspeed/wsd/loadtest/client"
)

// slowReadBuffer is a slow consumer's socket receive buffer: small, so the server's send path fills
// after a few kilobytes and its own queue (max_backpressure) decides.
const slowReadBuffer = 4096

// slowConsumer joins the room again and again; each time it stops reading for plan.SlowCycle, then
// reads what it was sent and checks what the slow-consumer policy did: on the raw relay (drop) the
// publications it got are in order with gaps, which count as drops; on chat (close) they are in order
// without gaps and end with close 1008 "slow consumer" (or with EOF: the server gave up waiting for
// the answer). SlowCycle stays under the ping interval, so the server has not pinged it meanwhile.
// Consumer i joins i/Slow of a SlowCycle late, so the consumers of a room take turns and the memory
// they hold in the server stays about constant. A pause cut short by the end of the load phase is
// drained and counted but not judged.
func (r *soakRoom) slowConsumer(i int) {
	s := r.s
	name, want := "slow consumer (drop)", "publications in order with gaps, the gaps counted as server drops"
	if r.plan.Chat {
		name, want = "slow consumer (close)", `publications in order without gaps, then close 1008 "slow consumer"`
	}
	d := s.dialer
	d.ReadBuffer = slowReadBuffer
	s.sleep(s.plan.SlowCycle * time.Duration(i) / time.Duration(r.plan.Slow))
	for cycle := 0; s.running(); cycle++ {
		c, err := s.dial(r.path(fmt.Sprintf("slow-%d-%d-%d", r.id, i, cycle)), &d)
		if err != nil {
			s.fail(name, want, "dial: %v", err)
			s.sleep(time.Second)
			continue
		}
		full := r.pause(c)
		if r.plan.Chat {
			err = r.drainClosed(c)
		} else {
			err = r.drainDropped(c)
		}
		if full || err != nil && !errors.Is(err, errNotSlow) {
			s.result(name, want, err)
		}
	}
}

// errNotSlow: the slow-consumer policy never acted on a consumer that stopped reading.
var errNotSlow = errors.New("the server buffered everything for a consumer that stopped reading")

// keepalive is how often a slow consumer of a drop room sends an unsolicited pong while it does not
// read: the server then sees it alive and never pings it (a ping queued behind its backlog would be
// dropped too, and count as a drop that is not a missing publication).
const keepalive = 5 * time.Second

// pause is a slow consumer's time without reading: SlowCycle, or less when the load phase ends. It
// reports whether the whole pause passed.
func (r *soakRoom) pause(c *client.Conn) bool {
	end := time.Now().Add(r.s.plan.SlowCycle)
	pong := client.AppendFrame(nil, client.OpPong, []byte("slow"), c.Key())
	for time.Now().Before(end) {
		if !r.s.sleep(min(keepalive, time.Until(end))) {
			return false
		}
		if !r.plan.Chat && time.Now().Before(end) {
			_ = c.Write(pong) // the chat route closes it, and a write after that would draw an RST
		}
	}
	return true
}

// slowRead reads the next room message of a slow consumer (answering pings); a close frame comes
// back as *client.CloseError.
func (r *soakRoom) slowRead(c *client.Conn) (roomMsg, error) {
	_ = c.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	op, p, err := c.ReadMessage()
	if err != nil {
		return roomMsg{}, err
	}
	return r.parse(op, p)
}

// drainDropped reads a dropped-for slow consumer up to the publisher's current publication, counting
// the gaps, and closes it. While the publisher runs it stops after three consecutive publications past
// the target (caught up: nothing more is dropped); after the run it reads up to the last publication,
// and publications still missing after 5 s of silence are counted as dropped at the tail.
func (r *soakRoom) drainDropped(c *client.Conn) error {
	defer c.Abort()
	target := r.pub.Load()
	var last, gaps, run, got int64
	for {
		msg, err := r.slowRead(c)
		if isTimeout(err) && !r.s.running() && last > 0 {
			gaps += r.pub.Load() - last // dropped at the tail
			break
		}
		if err != nil {
			return fmt.Errorf("after %d publications (last %d of %d): %w", got, last, r.pub.Load(), err)
		}
		if msg.kind != publication {
			continue
		}
		got++
		switch {
		case last > 0 && msg.seq <= last:
			return fmt.Errorf("publication %d after %d", msg.seq, last)
		case last > 0 && msg.seq > last+1:
			gaps += msg.seq - last - 1
			run = 0
		default:
			run++
		}
		last = msg.seq
		if r.s.running() && last >= target && run >= 3 || !r.s.running() && last >= r.pub.Load() {
			break
		}
	}
	r.s.dropGaps.Add(gaps)
	if err := c.Close(5 * time.Second); err != nil {
		return fmt.Errorf("closing after %d publications: %w", got, err)
	}
	if gaps == 0 {
		return fmt.Errorf("%w: nothing was dropped: got all %d publications", errNotSlow, got)
	}
	return nil
}

// drainClosed reads a slow consumer of a close-policy room: consecutive publications, then close 1008.
func (r *soakRoom) drainClosed(c *client.Conn) error {
	defer c.Abort()
	var last, got int64
	for {
		msg, err := r.slowRead(c)
		var ce *client.CloseError
		switch {
		case errors.As(err, &ce):
			if ce.Code != 1008 || ce.Reason != "slow consumer" {
				return fmt.Errorf("closed with %d %q after %d publications, want 1008 \"slow consumer\"", ce.Code,
					ce.Reason, got)
			}
			r.s.slowCloses.Add(1)
			return nil
		case isEOF(err):
			r.s.slowCloses.Add(1) // closed without the close frame reaching us: the server stopped waiting
			return nil
		case err != nil:
			return fmt.Errorf("after %d publications (last %d of %d): %w", got, last, r.pub.Load(), err)
		}
		if msg.kind != publication {
			continue
		}
		if last > 0 && msg.seq != last+1 {
			return fmt.Errorf("publication %d after %d: the close policy must not drop", msg.seq, last)
		}
		got, last = got+1, msg.seq
		if last >= r.pub.Load() {
			return fmt.Errorf("%w: caught up with publication %d, never closed", errNotSlow, last)
		}
	}
}
