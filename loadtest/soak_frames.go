package loadtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/loadtest/client"
)

// Hostile WebSocket clients: bad frames, oversize messages, ping floods and silent peers. Each one
// connects to /echo, misbehaves and checks the server's exact answer.

// rawFrame builds a client frame with first byte b0 (FIN, RSV bits, opcode) announcing declared
// payload bytes (-1: len(payload)), masked unless unmasked, carrying payload.
func rawFrame(b0 byte, payload []byte, declared int, unmasked bool) []byte {
	if declared < 0 {
		declared = len(payload)
	}
	mask := byte(0x80)
	if unmasked {
		mask = 0
	}
	out := []byte{b0}
	switch {
	case declared < 126:
		out = append(out, mask|byte(declared))
	case declared <= 0xFFFF:
		out = append(out, mask|126, byte(declared>>8), byte(declared))
	default:
		out = append(out, mask|127)
		out = binary.BigEndian.AppendUint64(out, uint64(declared))
	}
	if unmasked {
		return append(out, payload...)
	}
	key := client.NewKey()
	out = append(out, key[:]...)
	start := len(out)
	out = append(out, payload...)
	for i := start; i < len(out); i++ {
		out[i] ^= key[(i-start)%4]
	}
	return out
}

func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// frameCase is one protocol violation and the close code it must get.
type frameCase struct {
	name  string
	code  int
	build func(s *soak) []byte
}

var frameCases = []frameCase{
	{"frame: RSV2 set", 1002, func(*soak) []byte { return rawFrame(0x80|0x20|0x1, []byte("x"), -1, false) }},
	{"frame: reserved opcode 3", 1002, func(*soak) []byte { return rawFrame(0x80|0x3, []byte("x"), -1, false) }},
	{"frame: continuation without a start", 1002, func(*soak) []byte { return rawFrame(0x80, []byte("x"), -1, false) }},
	{"frame: ping with 126-byte payload", 1002, func(*soak) []byte { return rawFrame(0x89, make([]byte, 126), -1, false) }},
	{"frame: fragmented ping", 1002, func(*soak) []byte { return rawFrame(0x09, []byte("x"), -1, false) }},
	{"frame: unmasked", 1002, func(*soak) []byte { return rawFrame(0x81, []byte("hello"), -1, true) }},
	{"frame: close code 1005 on the wire", 1002, func(*soak) []byte { return rawFrame(0x88, closePayload(1005, ""), -1, false) }},
	{"frame: close with a 1-byte payload", 1002, func(*soak) []byte { return rawFrame(0x88, []byte{3}, -1, false) }},
	{"frame: random bytes with RSV bits", 1002, func(s *soak) []byte {
		b := s.bytes(64)
		b[0] |= 0x70 // RSV bits: never valid without an extension
		return b
	}},
	{"frame: invalid UTF-8 text", 1007, func(*soak) []byte { return rawFrame(0x81, []byte{'o', 'k', 0xFF, 0xFE}, -1, false) }},
	{"frame: invalid UTF-8 across fragments", 1007, func(*soak) []byte {
		return append(rawFrame(0x01, []byte("ok \xE2\x82"), -1, false), rawFrame(0x80, []byte{0x28, 'x'}, -1, false)...)
	}},
	{"frame: invalid UTF-8 close reason", 1007, func(*soak) []byte { return rawFrame(0x88, closePayload(1000, "\xC0\x80"), -1, false) }},
	{"oversize: frame header over max_message_size", 1009, func(s *soak) []byte {
		return rawFrame(0x82, make([]byte, 1024), int(s.plan.Limits.MaxMessage)*2, false)
	}},
	{"oversize: fragments over max_message_size", 1009, func(s *soak) []byte {
		half := int(s.plan.Limits.MaxMessage)/2 + 1024
		first := rawFrame(0x02, make([]byte, half), -1, false)
		return append(first, rawFrame(0x80, make([]byte, 16), half, false)[:14]...) // header only
	}},
}

// frameHostile runs the frame cases one after the other until the load phase ends, alternately
// answering the server's close frame and staying silent.
func (s *soak) frameHostile(offset int) {
	for i := offset * 5; s.running(); i++ {
		fc := frameCases[i%len(frameCases)]
		answer := (i/len(frameCases))%2 == 0
		s.frameCase(fc, answer)
		s.hostile.Add(1)
		s.sleep(s.plan.HostilePer)
	}
}

// lingerName is the check that the server closes TCP promptly after failing a connection.
const lingerName, lingerWant = "close after fail", "TCP closed right after wsd's close frame, whether or not the peer answers"

// frameCase sends one violation and checks the close code, then how soon the server closes TCP.
func (s *soak) frameCase(fc frameCase, answer bool) {
	want := fmt.Sprintf("close %d", fc.code)
	c, err := s.dial("/echo", nil)
	if err != nil {
		s.fail(fc.name, want, "dial: %v", err)
		return
	}
	defer c.Abort()
	if err := c.Write(fc.build(s)); err != nil {
		s.fail(fc.name, want, "write: %v", err)
		return
	}
	code, reason, err := awaitClose(c, 10*time.Second)
	if err != nil {
		s.fail(fc.name, want, "%v", err)
		return
	}
	if int(code) != fc.code {
		s.fail(fc.name, want, "closed with %d %q", code, reason)
	} else {
		s.pass(fc.name, want)
	}
	s.checkLinger(c, code, answer)
}

// awaitClose reads frames until the server's close frame and returns its code and reason: pings and
// pongs are skipped unanswered, a data frame is an error.
func awaitClose(c *client.Conn, timeout time.Duration) (uint16, string, error) {
	_ = c.NetConn().SetReadDeadline(time.Now().Add(timeout))
	for {
		f, err := c.NextFrame()
		if err != nil {
			return 0, "", fmt.Errorf("no close frame: %w", err)
		}
		switch f.Op {
		case client.OpClose:
			code, reason := client.ParseClose(f.Payload)
			return uint16(code), reason, nil
		case client.OpPing, client.OpPong:
		default:
			return 0, "", fmt.Errorf("data frame before the close frame: opcode %d %.60q", f.Op, f.Payload)
		}
	}
}

// checkLinger answers the close frame (or not) and checks that the server closes TCP within half the
// close timeout: after failing a connection it has nothing left to wait for (issue 13 §6).
func (s *soak) checkLinger(c *client.Conn, code uint16, answer bool) {
	start := time.Now()
	if answer {
		_ = c.Write(client.AppendClose(nil, frame.CloseCode(code), "", c.Key()))
	}
	bound := s.plan.Limits.CloseTimeout / 2
	_ = c.NetConn().SetReadDeadline(time.Now().Add(s.plan.Limits.CloseTimeout + 5*time.Second))
	var err error
	for err == nil {
		_, err = c.NextFrame()
	}
	took := time.Since(start)
	switch {
	case !isEOF(err):
		s.fail(lingerName, lingerWant, "after close %d (answered %v): %v", code, answer, err)
	case took > bound:
		s.fail(lingerName, lingerWant, "TCP open %.1fs after close %d (answered %v; bound %v)", took.Seconds(), code,
			answer, bound)
	default:
		s.pass(lingerName, lingerWant)
	}
}

// isEOF reports whether err means the server closed the connection (FIN or RST).
func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

// pingFlood floods one connection with pings now and then: the server must answer pings (pongs in
// order, never a data frame) until a control-frame limit closes the flooder with 1008 (issue 13 §6).
func (s *soak) pingFloods() {
	for s.running() {
		s.pingFlood()
		s.hostile.Add(1)
		s.sleep(10 * s.plan.HostilePer)
	}
}

const floodPings = 20000

// floodOutcome is what a ping flooder got back.
type floodOutcome struct {
	code        int // close code; 0: no close frame
	pongs, data int
	firstData   string
	err         error
}

func (s *soak) pingFlood() {
	const name, want = "ping flood", "pongs in order, then close 1008 (control-frame limit)"
	c, err := s.dial("/echo", nil)
	if err != nil {
		s.fail(name, want, "dial: %v", err)
		return
	}
	defer c.Abort()
	res := make(chan floodOutcome, 1)
	closed := make(chan struct{})
	go func() { res <- floodAnswers(c, closed) }()
	batch := make([]byte, 0, 100*14)
	deadline := time.Now().Add(3 * time.Second)
	for seq := uint64(1); seq <= floodPings && time.Now().Before(deadline); {
		batch = batch[:0]
		for range 100 {
			batch = client.AppendFrame(batch, client.OpPing, binary.BigEndian.AppendUint64(nil, seq), c.Key())
			seq++
		}
		if c.Write(batch) != nil {
			break
		}
		select {
		case <-closed:
			seq = floodPings + 1
		default:
		}
	}
	o := <-res
	switch {
	case o.data > 0:
		s.fail(name, want, "%d data frames in answer to pings (first %s), %d pongs, close %d", o.data, o.firstData,
			o.pongs, o.code)
	case o.code != 1008:
		s.fail(name, want, "%d pings: %d pongs, then close %d (%v)", floodPings, o.pongs, o.code, o.err)
	default:
		s.pass(name, want)
	}
}

// floodAnswers reads what the server sends a ping flooder: pongs (their payloads must increase), data
// frames (counted: there should be none), until the close frame, which it answers; closed is closed
// when the close frame arrives, to stop the flood.
func floodAnswers(c *client.Conn, closed chan<- struct{}) floodOutcome {
	var o floodOutcome
	_ = c.NetConn().SetReadDeadline(time.Now().Add(15 * time.Second))
	var last uint64
	for {
		f, err := c.NextFrame()
		if err != nil {
			o.err = err
			return o
		}
		switch f.Op {
		case client.OpPong:
			seq := binary.BigEndian.Uint64(append(make([]byte, 8-min(8, len(f.Payload))), f.Payload...))
			if seq <= last {
				o.err = fmt.Errorf("pong %d after pong %d", seq, last)
				return o
			}
			last = seq
			o.pongs++
		case client.OpClose:
			code, _ := client.ParseClose(f.Payload)
			o.code = int(code)
			close(closed)
			_ = c.Write(client.AppendClose(nil, code, "", c.Key()))
			return o
		case client.OpPing:
		default:
			if o.data++; o.data == 1 {
				o.firstData = fmt.Sprintf("%.60q", f.Payload)
			}
		}
	}
}

// silentPeers opens connections that never send a byte after the upgrade (they read, but answer no
// ping): each must get close 1001 idle_timeout after its upgrade.
func (s *soak) silentPeers(i int) {
	const name = "silent peer"
	want := fmt.Sprintf("close 1001 at idle_timeout (%v) after its last byte", s.plan.Limits.IdleTimeout)
	for s.remaining() > s.plan.Limits.IdleTimeout+s.plan.Limits.PingInterval {
		c, err := s.dial("/echo", nil)
		if err != nil {
			s.fail(name, want, "dial: %v", err)
			s.sleep(time.Second)
			continue
		}
		s.hostile.Add(1)
		s.result(name, want, s.silent(c))
		_ = c.Abort()
		s.sleep(time.Duration(i) * time.Second)
	}
}

func (s *soak) silent(c *client.Conn) error {
	start := time.Now()
	it := s.plan.Limits.IdleTimeout
	_ = c.NetConn().SetReadDeadline(start.Add(it + s.plan.Limits.PingInterval + 10*time.Second))
	pings := 0
	for {
		f, err := c.NextFrame()
		if err != nil {
			return fmt.Errorf("no close frame after %.1fs (%d pings): %w", time.Since(start).Seconds(), pings, err)
		}
		switch f.Op {
		case client.OpPing:
			pings++
		case client.OpClose:
			code, reason := client.ParseClose(f.Payload)
			took := time.Since(start)
			if code != 1001 || took < it-time.Second || took > it+3*time.Second {
				return fmt.Errorf("close %d %q after %.1fs of silence (%d pings), want 1001 after %v", code, reason,
					took.Seconds(), pings, it)
			}
			return nil
		default:
			return fmt.Errorf("unexpected frame: opcode %d %.60q", f.Op, f.Payload)
		}
	}
}
