package engine

// Autobahn|Testsuite group 5 (fragmentation): fragmented messages are reassembled and echoed whole,
// control frames may sit between fragments (and are answered first), control frames may not be
// fragmented, and continuation frames must continue something.

import (
	"fmt"
	"testing"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// abFragCase is a sequence of client frames and the exact server answer: frames in order (pongs and
// echoes), then either a normal client close (code 0) or a server close with code.
type abFragCase struct {
	name  string
	wire  []byte // frames sent in one write
	paced bool   // write frame by frame with pauses instead
	split int    // write in chunks of split bytes (0: one write)
	want  []abWant
	code  frame.CloseCode // 0: the connection stays open
}

// abWant is one expected server frame.
type abWant struct {
	op      frame.Opcode
	payload []byte
}

func abText(s string) abWant   { return abWant{frame.OpText, []byte(s)} }
func abPong(s string) abWant   { return abWant{frame.OpPong, []byte(s)} }
func abBinary(b []byte) abWant { return abWant{frame.OpBinary, b} }

// abF builds a masked frame with a string payload.
func abF(fin bool, op frame.Opcode, s string) []byte { return wstest.Frame(fin, op, []byte(s)) }

const (
	abOpT = frame.OpText
	abOpB = frame.OpBinary
	abOpC = frame.OpContinuation
	abOpP = frame.OpPing
	abOpO = frame.OpPong
)

func (tc abFragCase) run(t *testing.T, addr string) {
	t.Helper()
	r := wstest.Dial(t, addr, "/echo")
	switch {
	case tc.split > 0:
		abWriteChunks(r, tc.wire, tc.split)
	case tc.paced:
		abWriteFrames(r, tc.wire)
	default:
		r.Write(tc.wire)
	}
	for _, w := range tc.want {
		abExpectFrame(t, r, w.op, w.payload)
	}
	if tc.code == 0 {
		abCloseNormally(t, r)
		return
	}
	abExpectFail(t, r, tc.code)
}

// abWriteFrames writes the frames in wire one per write, pausing between them.
func abWriteFrames(r *wstest.Raw, wire []byte) {
	var cuts []int
	for off := 0; off < len(wire); {
		h, hs, _, err := frame.ParseHeader(wire[off:])
		if err != nil || hs == 0 {
			cuts = nil // not a parseable sequence: send it whole
			break
		}
		off += hs + int(h.Length)
		cuts = append(cuts, off)
	}
	abWriteSplit(r, wire, cuts...)
}

func TestAutobahnFragmentation(t *testing.T) {
	// 5.30 sends 64 pings on one connection within milliseconds: past the default control-frame limit
	// (TestControlFloodClosed), which is not what these cases are about.
	_, addr := startApp(t, Config{Loops: 2, ControlLimit: Rate{PerSecond: 1000, Burst: 1000}}, echoRoute)
	for _, tc := range abFragCases() {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, addr) })
	}
	for _, tc := range abFragErrorCases() {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, addr) })
	}
	t.Run("5.30_many_fragment_sizes", func(t *testing.T) { abFragmentSizes(t, addr) })
	t.Run("5.31_fragmented_close_in_between", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		r.Write(abJoin(abF(false, abOpT, "never"), abCloseFrame(abClosePayload(1000, "bye")), abF(true, abOpC, " delivered")))
		abExpectCloseNext(t, r, frame.CloseNormal)
		abExpectEOF(t, r)
	})
}

// abFragCases are the valid sequences: the whole message is echoed, control frames answered first.
func abFragCases() []abFragCase {
	two := abJoin(abF(false, abOpT, "fragment1"), abF(true, abOpC, "fragment2"))
	withPing := abJoin(abF(false, abOpT, "fragment1"), abF(true, abOpP, "ping"), abF(true, abOpC, "fragment2"))
	fivePings := abJoin(abF(false, abOpT, "f1"), abF(true, abOpP, "p1"), abF(false, abOpC, "f2"), abF(true, abOpP, "p2"),
		abF(false, abOpC, "f3"), abF(true, abOpP, "p3"), abF(false, abOpC, "f4"), abF(true, abOpP, "p4"), abF(true, abOpC, "f5"))
	fivePingsWant := []abWant{abPong("p1"), abPong("p2"), abPong("p3"), abPong("p4"), abText("f1f2f3f4f5")}
	bin := abBinaryPayload(300)
	utf := []byte("κόσμε 😀 ✓ µ")
	return []abFragCase{
		{name: "5.3_text_2_fragments", wire: two, want: []abWant{abText("fragment1fragment2")}},
		{name: "5.4_text_2_fragments_paced", wire: two, paced: true, want: []abWant{abText("fragment1fragment2")}},
		{name: "5.5_text_2_fragments_bytewise", wire: two, split: 1, want: []abWant{abText("fragment1fragment2")}},
		{name: "5.6_text_ping_between", wire: withPing, want: []abWant{abPong("ping"), abText("fragment1fragment2")}},
		{name: "5.7_text_ping_between_paced", wire: withPing, paced: true, want: []abWant{abPong("ping"), abText("fragment1fragment2")}},
		{name: "5.8_text_ping_between_bytewise", wire: withPing, split: 1, want: []abWant{abPong("ping"), abText("fragment1fragment2")}},
		{name: "5.19_five_fragments_pings_paced", wire: fivePings, paced: true, want: fivePingsWant},
		{name: "5.20_five_fragments_pings_bytewise", wire: fivePings, split: 1, want: fivePingsWant},
		{name: "5.21_binary_2_fragments", wire: abFragmentsAt(abOpB, bin, 100), want: []abWant{abBinary(bin)}},
		{name: "5.22_binary_many_fragments", wire: abFragments(abOpB, bin, 7), want: []abWant{abBinary(bin)}},
		{name: "5.23_binary_1_byte_fragments", wire: abFragments(abOpB, bin, 1), want: []abWant{abBinary(bin)}},
		{name: "5.24_text_1_byte_fragments_multibyte", wire: abFragments(abOpT, utf, 1), want: []abWant{{abOpT, utf}}},
		{name: "5.25_text_many_fragments", wire: abFragments(abOpT, abTextPayload(1000), 33), want: []abWant{{abOpT, abTextPayload(1000)}}},
		{name: "5.26_unsolicited_pong_between", wire: abJoin(abF(false, abOpB, "a"), abF(true, abOpO, "pong"), abF(true, abOpC, "b")),
			want: []abWant{abBinary([]byte("ab"))}},
		{name: "5.27_empty_fragments", wire: abJoin(abF(false, abOpT, ""), abF(false, abOpC, ""), abF(true, abOpC, "")), want: []abWant{abText("")}},
		{name: "5.28_empty_first_and_last", wire: abJoin(abF(false, abOpT, ""), abF(false, abOpC, "abc"), abF(true, abOpC, "")), want: []abWant{abText("abc")}},
		{name: "5.29_two_messages_back_to_back", wire: abJoin(two, abF(false, abOpB, "x"), abF(true, abOpC, "y"), abF(true, abOpT, "z")),
			want: []abWant{abText("fragment1fragment2"), abBinary([]byte("xy")), abText("z")}},
	}
}

// abFragErrorCases are protocol violations around fragmentation: 1002, after whatever came before.
func abFragErrorCases() []abFragCase {
	const pe = frame.CloseProtocolError
	cont1 := abJoin(abF(true, abOpC, "non-continuation payload"), abF(true, abOpT, "Hello, world!"))
	return []abFragCase{
		{name: "5.1_ping_fragmented", wire: abJoin(abF(false, abOpP, "frag"), abF(true, abOpC, "ment")), code: pe},
		{name: "5.2_pong_fragmented", wire: abJoin(abF(false, abOpO, "frag"), abF(true, abOpC, "ment")), code: pe},
		{name: "5.2.1_close_fragmented", wire: abJoin(abF(false, frame.OpClose, "\x03\xe8"), abF(true, abOpC, "")), code: pe},
		{name: "5.9_continuation_fin1_no_start", wire: cont1, code: pe},
		{name: "5.10_continuation_fin1_no_start_paced", wire: cont1, paced: true, code: pe},
		{name: "5.11_continuation_fin1_no_start_bytewise", wire: cont1, split: 1, code: pe},
		{name: "5.12_continuation_fin0_no_start", wire: abJoin(abF(false, abOpC, "frag"), abF(true, abOpT, "x")), code: pe},
		{name: "5.15_text_after_complete_fragmented", wire: abJoin(abF(false, abOpT, "fragment1"), abF(true, abOpC, "fragment2"),
			abF(false, abOpC, "fragment3"), abF(true, abOpT, "fragment4")),
			want: []abWant{abText("fragment1fragment2")}, code: pe},
		{name: "5.16_continuation_then_message", wire: abJoin(abF(false, abOpC, "fragment1"), abF(false, abOpT, "fragment2"), abF(true, abOpC, "fragment3")), code: pe},
		{name: "5.18_text_while_fragmented", wire: abJoin(abF(false, abOpT, "fragment1"), abF(true, abOpT, "fragment2")), code: pe},
		{name: "5.18.1_binary_while_text_fragmented", wire: abJoin(abF(false, abOpT, "fragment1"), abF(true, abOpB, "fragment2")), code: pe},
		{name: "5.18.2_text_fin0_while_binary_fragmented", wire: abJoin(abF(false, abOpB, "a"), abF(false, abOpT, "b")), code: pe},
		{name: "5.18.3_ping_fin0_between_fragments", wire: abJoin(abF(false, abOpT, "a"), abF(false, abOpP, "p"), abF(true, abOpC, "b")), code: pe},
		{name: "5.18.4_previous_echoed_first", wire: abJoin(abF(true, abOpT, "ok"), abF(false, abOpT, "a"), abF(true, abOpT, "b")),
			want: []abWant{abText("ok")}, code: pe},
	}
}

// abFragmentSizes sends the same messages in fragments of every size from 1 to the whole message, with a
// ping before the last fragment, on one connection.
func abFragmentSizes(t *testing.T, addr string) {
	r := wstest.Dial(t, addr, "/echo")
	msg := abTextPayload(64)
	for size := 1; size <= len(msg); size++ {
		ping := fmt.Sprint(size)
		var wire []byte
		for off := 0; off < len(msg); off += size {
			end := min(off+size, len(msg))
			op := abOpC
			if off == 0 {
				op = abOpT
			}
			if end == len(msg) {
				wire = append(wire, abF(true, abOpP, ping)...)
			}
			wire = append(wire, wstest.Frame(end == len(msg), op, msg[off:end])...)
		}
		r.Write(wire)
		abExpectPong(t, r, []byte(ping))
		abExpectEcho(t, r, abOpT, msg)
	}
	abCloseNormally(t, r)
}
