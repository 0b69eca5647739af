package engine

import (
	"errors"
	"time"

	"github.com/openspeed/wsd/frame"
)

// RateLimit caps what one connection may send, with token buckets. The zero value limits nothing.
// Control frames (pings, pongs) are not messages: Config.ControlLimit caps them.
type RateLimit struct {
	// Messages is the sustained number of data messages per second; 0: no cap.
	Messages float64
	// Burst is how many messages may arrive at once. Default: max(1, Messages).
	Burst int
	// Bytes is the sustained number of payload bytes per second; 0: no cap.
	Bytes float64
	// BytesBurst is how many bytes may arrive at once. Default: max(Bytes, MaxMessageSize).
	BytesBurst int64
	// Events caps custom events of a type, on top of Messages.
	Events map[string]Rate
	// Close selects the action: false drops the message and sends the client an error event
	// {"type":"error","error":"rate limited"} (at most one per second); true closes the connection
	// with 1008 "rate limited".
	Close bool
}

// Rate is a sustained rate per second with a burst (0: max(1, PerSecond)).
type Rate struct {
	PerSecond float64
	Burst     int
}

// ErrRateLimited is CloseInfo.Err of a connection closed by a RateLimit with Close set.
var ErrRateLimited = errors.New("engine: rate limited")

// ErrControlFlood is CloseInfo.Err of a connection failed with 1008 for sending control frames (pings,
// pongs) faster than Config.ControlLimit / RouteOptions.ControlLimit allows.
var ErrControlFlood error = &frame.ProtocolError{Code: frame.ClosePolicyViolation, Reason: "control frame flood"}

func (r *RateLimit) active() bool {
	return r != nil && (r.Messages > 0 || r.Bytes > 0 || len(r.Events) > 0)
}

// bucket is a token bucket: tokens refill at rate per second up to burst.
type bucket struct {
	tokens float64
	last   int64 // nanoseconds since the App started
}

// take removes n tokens when available.
func (b *bucket) take(now int64, rate, burst, n float64) bool {
	if b.last == 0 {
		b.tokens = burst
	} else if dt := now - b.last; dt > 0 {
		b.tokens = min(burst, b.tokens+float64(dt)*rate/1e9)
	}
	b.last = now
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// rateState is a connection's buckets; allocated with its first message when the route limits rates,
// or with a control frame that is not the first of a read after a second of silence.
type rateState struct {
	msgs, bytes bucket
	control     bucket
	events      map[string]*bucket
	noticed     int64 // when the last "rate limited" error event was sent
}

// The limits charge at the time of the read the frames came in (loop.readAt, read once per read by
// Conn.touch on routes with a limit or a heartbeat): frames that arrived together arrive at once.

// allowMessage charges one message of n bytes; false means it is over a limit. On-loop only.
func (c *Conn) allowMessage(n int) bool {
	rl := c.route.rate
	if !rl.active() {
		return true
	}
	st := c.rateState()
	now := c.loop.readAt
	if rl.Messages > 0 && !st.msgs.take(now, rl.Messages, burstOf(rl.Burst, rl.Messages), 1) {
		return c.rateLimited(now, "")
	}
	if rl.Bytes > 0 {
		burst := float64(rl.BytesBurst)
		if burst <= 0 {
			burst = max(rl.Bytes, float64(c.route.maxMessage))
		}
		if !st.bytes.take(now, rl.Bytes, burst, float64(n)) {
			return c.rateLimited(now, "")
		}
	}
	return true
}

// allowEvent charges one custom event of type typ. On-loop only.
func (c *Conn) allowEvent(typ string) bool {
	rl := c.route.rate
	if rl == nil || len(rl.Events) == 0 {
		return true
	}
	r, ok := rl.Events[typ]
	if !ok || r.PerSecond <= 0 {
		return true
	}
	st := c.rateState()
	if st.events == nil {
		st.events = make(map[string]*bucket)
	}
	b := st.events[typ]
	if b == nil {
		b = new(bucket)
		st.events[typ] = b
	}
	now := c.loop.readAt
	if !b.take(now, r.PerSecond, burstOf(r.Burst, r.PerSecond), 1) {
		return c.rateLimited(now, typ)
	}
	return true
}

// ctlFreeTicks is the silence after which a control frame is not charged: the first control frame of
// a read that comes this long after the connection's previous inbound bytes. So a connection that
// only answers the server's pings, or pings now and then, never needs a bucket (nor its memory).
const ctlFreeTicks = uint32(time.Second / tickDur)

// allowControl charges one control frame (ping or pong) against the route's ControlLimit; over it the
// connection is failed with 1008 and false is returned. On-loop only.
func (c *Conn) allowControl() bool {
	cl := c.route.control
	if cl.PerSecond <= 0 {
		return true
	}
	free := c.flags&flagCtlFree != 0
	c.flags &^= flagCtlFree
	if free && (c.ext == nil || c.ext.rate == nil) {
		return true
	}
	if c.rateState().control.take(c.loop.readAt, cl.PerSecond, burstOf(cl.Burst, cl.PerSecond), 1) {
		return true
	}
	c.loop.stats.controlFloods.Add(1)
	c.fail(ErrControlFlood)
	return false
}

func burstOf(burst int, rate float64) float64 {
	if burst > 0 {
		return float64(burst)
	}
	return max(1, rate)
}

func (c *Conn) rateState() *rateState {
	x := c.x()
	if x.rate == nil {
		x.rate = new(rateState)
	}
	return x.rate
}

// rateLimited applies the route's action to a message over the limit (event: the custom event
// type whose cap refused it, "" for the message caps), tells Config.OnRateLimit, and returns false.
func (c *Conn) rateLimited(now int64, event string) bool {
	c.loop.stats.rateLimited.Add(1)
	if fn := c.loop.app.cfg.OnRateLimit; fn != nil {
		fn(c.route.pattern, c.gc.RemoteAddr(), c.route.rate, event)
	}
	if c.route.rate.Close {
		c.x().failure = ErrRateLimited
		c.closeWith(ClosePolicyViolation, "rate limited")
		return false
	}
	st := c.ext.rate
	if st.noticed == 0 || now-st.noticed >= int64(time.Second) {
		st.noticed = now
		_ = c.sendValue(errorEvent{Type: "error", Error: "rate limited"})
	}
	return false
}

// errorEvent is the envelope of errors the engine reports to a client.
type errorEvent struct {
	Type  string `json:"type" msgpack:"type"`
	Error string `json:"error" msgpack:"error"`
}
