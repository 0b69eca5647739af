package engine

// Autobahn|Testsuite groups 9 (limits/performance: large messages, many messages) and 10
// (auto-fragmentation), plus MaxMessageSize enforcement: 1009 as soon as a frame header announces a
// message over the cap, before its payload is sent.

import (
	"fmt"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// abLargeConfig admits 32 MiB messages. MaxBackpressure keeps its default (1 MiB): the echo of a larger
// message must still go out to a client that reads, since its backlog is empty when the echo is queued.
var abLargeConfig = Config{Loops: 2, MaxMessageSize: 32 << 20}

// abLargeTimeout bounds each read and write of the large-message tests (an upper bound, never asserted).
const abLargeTimeout = 30 * time.Second

// abLargeCase is one large message sent in frames of frameSize bytes (0: one frame), written to the
// socket in writes of writeSize bytes (0: one write).
type abLargeCase struct {
	size, frameSize, writeSize int
}

func (c abLargeCase) name(op frame.Opcode) string {
	how := "one_frame"
	if c.frameSize > 0 {
		how = "frames_of_" + abSizeName(c.frameSize)
	}
	if c.writeSize > 0 {
		how += "_writes_of_" + abSizeName(c.writeSize)
	}
	return fmt.Sprintf("%s_%s_%s", op, abSizeName(c.size), how)
}

func abSizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// abLargeCases keeps the -race runtime small: every size as one frame and as 64 KiB frames (16 MiB only
// for binary: text adds nothing there but the UTF-8 check, which 4 MiB covers), the smaller frame sizes
// only up to the sizes where they stay fast, and two runs of one frame trickling in through small writes.
func abLargeCases(op frame.Opcode) []abLargeCase {
	var cases []abLargeCase
	for _, size := range []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20} {
		if size == 16<<20 && op == frame.OpText {
			continue
		}
		cases = append(cases, abLargeCase{size: size}, abLargeCase{size: size, frameSize: 64 << 10})
		if size <= 1<<20 {
			cases = append(cases, abLargeCase{size: size, frameSize: 4 << 10})
		}
		if size <= 256<<10 {
			cases = append(cases, abLargeCase{size: size, frameSize: 64})
		}
	}
	return append(cases,
		abLargeCase{size: 256 << 10, writeSize: 64}, // one frame trickling in small writes
		abLargeCase{size: 1 << 20, writeSize: 4 << 10},
	)
}

func TestAutobahnLarge(t *testing.T) {
	_, addr := startApp(t, abLargeConfig, echoRoute)
	payloads := map[[2]int][]byte{} // generated once per opcode and size
	for i, op := range []frame.Opcode{frame.OpText, frame.OpBinary} {
		for j, c := range abLargeCases(op) {
			key := [2]int{int(op), c.size}
			if payloads[key] == nil {
				payloads[key] = abPayloadFor(op, c.size)
			}
			msg := payloads[key]
			t.Run(fmt.Sprintf("9.%d.%d_%s", i+1, j+1, c.name(op)), func(t *testing.T) {
				r := wstest.Dial(t, addr, "/echo")
				r.Timeout = abLargeTimeout
				wire := wstest.Frame(true, op, msg)
				if c.frameSize > 0 {
					wire = abFragments(op, msg, c.frameSize)
				}
				abWriteFast(r, wire, c.writeSize)
				abExpectEcho(t, r, op, msg)
				abCloseNormally(t, r)
			})
		}
	}
	t.Run("9.7_1000_text_messages", func(t *testing.T) { abManyMessages(t, addr, frame.OpText, 1000, 64) })
	t.Run("9.8_1000_binary_messages", func(t *testing.T) { abManyMessages(t, addr, frame.OpBinary, 1000, 64) })
}

// abWriteFast writes b in pieces of size bytes (0: one write) without pauses, until the server has
// closed the socket (see abWriteSplit).
func abWriteFast(r *wstest.Raw, b []byte, size int) {
	if size <= 0 {
		size = len(b)
	}
	for len(b) > 0 {
		n := min(size, len(b))
		if !r.WriteOrClosed(b[:n]) {
			return
		}
		b = b[n:]
	}
}

// abManyMessages sends n messages of size bytes in one write and expects n echoes in order.
func abManyMessages(t *testing.T, addr string, op frame.Opcode, n, size int) {
	r := wstest.Dial(t, addr, "/echo")
	r.Timeout = abLargeTimeout
	var wire []byte
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = abPayloadFor(op, size)
		copy(msgs[i], fmt.Sprintf("%06d", i)) // distinct, still valid UTF-8 for text
		wire = append(wire, wstest.Frame(true, op, msgs[i])...)
	}
	r.Write(wire)
	for _, m := range msgs {
		abExpectEcho(t, r, op, m)
	}
	abCloseNormally(t, r)
}

func TestAutobahnAutoFragmentation(t *testing.T) {
	_, addr := startApp(t, abLargeConfig, echoRoute)
	cases := []struct {
		name      string
		op        frame.Opcode
		size      int
		frameSize int
	}{
		{"10.1.1_text_64KiB_in_1300B_frames", frame.OpText, 64 << 10, 1300},
		{"10.1.2_text_1MiB_in_1KiB_frames", frame.OpText, 1 << 20, 1 << 10},
		{"10.1.3_binary_1MiB_in_1KiB_frames", frame.OpBinary, 1 << 20, 1 << 10},
		{"10.1.4_binary_64KiB_in_1B_frames", frame.OpBinary, 64 << 10, 1},
		{"10.1.5_text_8KiB_in_1B_frames", frame.OpText, 8 << 10, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := wstest.Dial(t, addr, "/echo")
			r.Timeout = abLargeTimeout
			msg := abPayloadFor(tc.op, tc.size)
			r.Write(abFragments(tc.op, msg, tc.frameSize))
			abExpectEcho(t, r, tc.op, msg)
			abCloseNormally(t, r)
		})
	}
}

// abLimit is MaxMessageSize of the TestAutobahnMessageTooBig App.
const abLimit = 1 << 10

func TestAutobahnMessageTooBig(t *testing.T) {
	_, addr := startApp(t, Config{Loops: 2, MaxMessageSize: abLimit}, echoRoute)
	for _, op := range []frame.Opcode{frame.OpText, frame.OpBinary} {
		t.Run(fmt.Sprintf("9.9.1_%s_exactly_the_limit", op), func(t *testing.T) {
			r := wstest.Dial(t, addr, "/echo")
			msg := abPayloadFor(op, abLimit)
			r.Send(true, op, msg)
			abExpectEcho(t, r, op, msg)
			r.Write(abFragmentsAt(op, msg, abLimit/2))
			abExpectEcho(t, r, op, msg)
			abCloseNormally(t, r)
		})
		t.Run(fmt.Sprintf("9.9.2_%s_limit_plus_one_whole_frame", op), func(t *testing.T) {
			r := wstest.Dial(t, addr, "/echo")
			r.Write(abJoin(wstest.Frame(true, op, abPayloadFor(op, abLimit+1)), abF(true, abOpP, "after")))
			abExpectFail(t, r, frame.CloseMessageTooBig)
		})
	}
	abHeaderOnlyTooBig(t, addr)
	abFragmentsTooBig(t, addr)
}

// abHeaderOnlyTooBig sends only the header of an oversized frame: 1009 must come before the payload.
func abHeaderOnlyTooBig(t *testing.T, addr string) {
	for _, n := range []int64{2 * abLimit, 1 << 20, 1 << 40} {
		t.Run(fmt.Sprintf("9.9.3_header_announces_%dB", n), func(t *testing.T) {
			r := wstest.Dial(t, addr, "/echo")
			r.Write(abF(true, abOpT, "before"))
			abExpectEcho(t, r, frame.OpText, []byte("before"))
			r.Write(abMaskedHeader(true, frame.OpBinary, n))
			abExpectCloseNext(t, r, frame.CloseMessageTooBig)
			if n > 1<<20 {
				abExpectEOFAfterClose(t, r) // the client cannot finish such a frame: just hang up
				return
			}
			r.WriteOrClosed(abMaskedPayload(0, make([]byte, n))) // the server may have closed already
			abAnswerClose(t, r)
		})
	}
}

// abExpectEOFAfterClose hangs up after the server's close and checks nothing else was sent.
func abExpectEOFAfterClose(t *testing.T, r *wstest.Raw) {
	t.Helper()
	if tcp, ok := r.Conn.(interface{ CloseWrite() error }); ok {
		_ = tcp.CloseWrite()
	}
	abExpectEOF(t, r)
}

// abFragmentsTooBig checks the cap applies to the reassembled message: the header of the fragment that
// passes it gets 1009, before that fragment's payload.
func abFragmentsTooBig(t *testing.T, addr string) {
	t.Run("9.9.4_second_fragment_passes_limit", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		r.Write(wstest.Frame(false, frame.OpText, abTextPayload(600)))
		r.Write(abF(true, abOpP, "in between"))
		abExpectPong(t, r, []byte("in between"))
		r.Write(abMaskedHeader(true, frame.OpContinuation, 600))
		abExpectCloseNext(t, r, frame.CloseMessageTooBig)
		r.Write(abMaskedPayload(0, abTextPayload(600)))
		abAnswerClose(t, r)
	})
	t.Run("9.9.5_eleventh_of_100B_fragments", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		msg := abBinaryPayload(1000)
		for off := 0; off < len(msg); off += 100 {
			op := frame.OpContinuation
			if off == 0 {
				op = frame.OpBinary
			}
			r.Write(wstest.Frame(false, op, msg[off:off+100]))
		}
		r.Write(abF(true, abOpP, "still fine"))
		abExpectPong(t, r, []byte("still fine"))
		r.Write(abMaskedHeader(false, frame.OpContinuation, 100))
		abExpectCloseNext(t, r, frame.CloseMessageTooBig)
		r.Write(abMaskedPayload(0, make([]byte, 100)))
		abAnswerClose(t, r)
	})
	t.Run("9.9.6_fragments_exactly_at_limit_then_empty", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		msg := abBinaryPayload(abLimit)
		r.Write(abJoin(wstest.Frame(false, frame.OpBinary, msg), wstest.Frame(true, frame.OpContinuation, nil)))
		abExpectEcho(t, r, frame.OpBinary, msg)
		abCloseNormally(t, r)
	})
	t.Run("9.9.7_control_frames_do_not_count", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		msg := abBinaryPayload(abLimit)
		ping := abBinaryPayload(125)
		r.Write(abJoin(wstest.Frame(false, frame.OpBinary, msg[:abLimit/2]), wstest.Frame(true, frame.OpPing, ping),
			wstest.Frame(true, frame.OpContinuation, msg[abLimit/2:])))
		abExpectPong(t, r, ping)
		abExpectEcho(t, r, frame.OpBinary, msg)
		abCloseNormally(t, r)
	})
}
