package engine

// Autobahn|Testsuite groups 1 (framing), 2 (ping/pong), 3 (reserved bits) and 4 (opcodes), plus the
// masking and length-field rules, against the echo route, asserting the exact reaction frame by frame.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// abFramingLengths cross every payload-length encoding boundary: 7-bit (0, 125), 16-bit (126, 127, 128,
// 65535) and 64-bit (65536).
var abFramingLengths = []int{0, 125, 126, 127, 128, 65535, 65536}

func TestAutobahnFraming(t *testing.T) {
	_, addr := startApp(t, Config{Loops: 2}, echoRoute)
	for i, op := range []frame.Opcode{frame.OpText, frame.OpBinary} {
		for j, n := range abFramingLengths {
			p := abPayloadFor(op, n)
			t.Run(fmt.Sprintf("1.%d.%d_%s_len%d", i+1, j+1, op, n), func(t *testing.T) {
				r := wstest.Dial(t, addr, "/echo")
				r.Send(true, op, p)
				abExpectEcho(t, r, op, p)
				abCloseNormally(t, r)
			})
			t.Run(fmt.Sprintf("1.%d.%d_%s_len%d_997B_chunks", i+1, j+1, op, n), func(t *testing.T) {
				r := wstest.Dial(t, addr, "/echo")
				abWriteChunks(r, wstest.Frame(true, op, p), 997)
				abExpectEcho(t, r, op, p)
				abCloseNormally(t, r)
			})
		}
	}
	t.Run("1.3.1_bytewise_frames", func(t *testing.T) { abBytewise(t, addr) })
	t.Run("1.3.2_header_split_everywhere", func(t *testing.T) { abHeaderSplits(t, addr) })
	t.Run("1.3.3_random_splits_pipelined", func(t *testing.T) { abRandomSplits(t, addr) })
	t.Run("1.3.4_frames_in_the_upgrade_write", func(t *testing.T) { abFramesWithUpgrade(t, addr) })
}

// abFramesWithUpgrade sends frames in the same write as the upgrade request, and cut at every offset
// around the request's end: the bytes after the request belong to the WebSocket.
func abFramesWithUpgrade(t *testing.T, addr string) {
	req := []byte(wstest.UpgradeRequest("/echo"))
	frames := abJoin(abF(true, abOpT, "first"), abF(true, abOpP, "ping"), wstest.Frame(true, frame.OpBinary, abBinaryPayload(300)))
	wire := abJoin(req, frames)
	for cut := len(req) - 4; cut <= len(req)+10; cut++ {
		r := wstest.DialRaw(t, addr)
		abWriteSplit(r, wire, cut)
		if resp := r.ReadResponse(); resp.StatusCode != 101 {
			t.Fatalf("cut %d: status %d", cut, resp.StatusCode)
		}
		abExpectEcho(t, r, frame.OpText, []byte("first"))
		abExpectPong(t, r, []byte("ping"))
		abExpectEcho(t, r, frame.OpBinary, abBinaryPayload(300))
		abCloseNormally(t, r)
	}
}

// abBytewise writes frames of each header size one byte at a time.
func abBytewise(t *testing.T, addr string) {
	r := wstest.Dial(t, addr, "/echo")
	for _, n := range []int{0, 5, 125, 126} {
		p := abTextPayload(n)
		abWriteChunks(r, wstest.Frame(true, frame.OpText, p), 1)
		abExpectEcho(t, r, frame.OpText, p)
	}
	big := abBinaryPayload(65536)
	wire := wstest.Frame(true, frame.OpBinary, big)
	abWriteChunks(r, wire[:20], 1) // the 14-byte header and some payload, byte by byte
	r.Write(wire[20:])
	abExpectEcho(t, r, frame.OpBinary, big)
	abCloseNormally(t, r)
}

// abHeaderSplits cuts frames of every header size into two writes at every offset of the header.
func abHeaderSplits(t *testing.T, addr string) {
	r := wstest.Dial(t, addr, "/echo")
	for _, n := range []int{3, 125, 126, 65535, 65536} {
		p := abBinaryPayload(n)
		wire := wstest.Frame(true, frame.OpBinary, p)
		hs := len(wire) - n
		for cut := 1; cut <= hs; cut++ {
			abWriteSplit(r, wire, cut)
			abExpectEcho(t, r, frame.OpBinary, p)
		}
	}
	abCloseNormally(t, r)
}

// abRandomSplits sends runs of pipelined frames (text, ping, binary) cut at seeded random offsets.
func abRandomSplits(t *testing.T, addr string) {
	r := wstest.Dial(t, addr, "/echo")
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 30 {
		text := abTextPayload(rng.IntN(300))
		bin := abBinaryPayload(rng.IntN(70000))
		ping := []byte(fmt.Sprintf("ping %d", round))
		wire := abJoin(wstest.Frame(true, frame.OpText, text), wstest.Frame(true, frame.OpPing, ping),
			wstest.Frame(true, frame.OpBinary, bin))
		cuts := make([]int, 1+rng.IntN(5))
		for i := range cuts {
			cuts[i] = 1 + rng.IntN(len(wire)-1)
		}
		slices.Sort(cuts)
		abWriteSplit(r, wire, cuts...)
		abExpectEcho(t, r, frame.OpText, text)
		abExpectPong(t, r, ping)
		abExpectEcho(t, r, frame.OpBinary, bin)
	}
	abCloseNormally(t, r)
}

func TestAutobahnPingPong(t *testing.T) {
	_, addr := startApp(t, Config{Loops: 2}, echoRoute)
	pongs := []struct {
		name    string
		payload []byte
	}{
		{"2.1_ping_empty", nil},
		{"2.2_ping_text", []byte("Hello, world!")},
		{"2.3_ping_binary", []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}},
		{"2.4_ping_125_bytes", abBinaryPayload(125)},
	}
	for _, tc := range pongs {
		t.Run(tc.name, func(t *testing.T) {
			r := wstest.Dial(t, addr, "/echo")
			r.Send(true, frame.OpPing, tc.payload)
			abExpectPong(t, r, tc.payload)
			abCloseNormally(t, r)
		})
	}
	t.Run("2.5_ping_126_bytes", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		r.Write(abJoin(wstest.Frame(true, frame.OpPing, abBinaryPayload(126)), wstest.Frame(true, frame.OpText, []byte("x"))))
		abExpectFail(t, r, frame.CloseProtocolError)
	})
	t.Run("2.5.1_pong_126_bytes", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		r.Write(abJoin(wstest.Frame(true, frame.OpPong, abBinaryPayload(126)), wstest.Frame(true, frame.OpPing, []byte("x"))))
		abExpectFail(t, r, frame.CloseProtocolError)
	})
	t.Run("2.6_ping_125_bytes_bytewise", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		p := abBinaryPayload(125)
		abWriteChunks(r, wstest.Frame(true, frame.OpPing, p), 1)
		abExpectPong(t, r, p)
		abCloseNormally(t, r)
	})
	t.Run("2.7_unsolicited_pong_empty", func(t *testing.T) { abUnsolicitedPong(t, addr, nil) })
	t.Run("2.8_unsolicited_pong_payload", func(t *testing.T) { abUnsolicitedPong(t, addr, []byte("unsolicited")) })
	t.Run("2.9_unsolicited_pong_then_ping", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		r.Write(abJoin(wstest.Frame(true, frame.OpPong, []byte("unsolicited")), wstest.Frame(true, frame.OpPing, []byte("solicited"))))
		abExpectPong(t, r, []byte("solicited"))
		abCloseNormally(t, r)
	})
	t.Run("2.10_ten_pings_one_write", func(t *testing.T) { abTenPings(t, addr, false) })
	t.Run("2.11_ten_pings_paced", func(t *testing.T) { abTenPings(t, addr, true) })
}

// abUnsolicitedPong checks a pong nobody asked for is ignored: the next frame is the echo of the
// message sent after it.
func abUnsolicitedPong(t *testing.T, addr string, payload []byte) {
	r := wstest.Dial(t, addr, "/echo")
	r.Write(abJoin(wstest.Frame(true, frame.OpPong, payload), wstest.Frame(true, frame.OpText, []byte("after"))))
	abExpectEcho(t, r, frame.OpText, []byte("after"))
	abCloseNormally(t, r)
}

func abTenPings(t *testing.T, addr string, paced bool) {
	r := wstest.Dial(t, addr, "/echo")
	var wire []byte
	var cuts []int
	for i := range 10 {
		wire = append(wire, wstest.Frame(true, frame.OpPing, []byte(fmt.Sprintf("payload-%d", i)))...)
		cuts = append(cuts, len(wire))
	}
	if paced {
		abWriteSplit(r, wire, cuts...)
	} else {
		r.Write(wire)
	}
	for i := range 10 {
		abExpectPong(t, r, []byte(fmt.Sprintf("payload-%d", i)))
	}
	abCloseNormally(t, r)
}

// abBadFrameCase is a frame the server must fail the connection for with code. Each case is sent after a
// valid text message and before a ping: the text is echoed, then the close comes, and no pong.
type abBadFrameCase struct {
	name string
	wire []byte
	code frame.CloseCode
}

// abRunBadFrames runs each case on a fresh connection.
func abRunBadFrames(t *testing.T, addr string, cases []abBadFrameCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := wstest.Dial(t, addr, "/echo")
			before := []byte("valid before")
			r.Write(abJoin(wstest.Frame(true, frame.OpText, before), tc.wire, wstest.Frame(true, frame.OpPing, []byte("after"))))
			abExpectEcho(t, r, frame.OpText, before)
			abExpectFail(t, r, tc.code)
		})
	}
}

func TestAutobahnReservedBits(t *testing.T) {
	_, addr := startApp(t, Config{Loops: 2}, echoRoute)
	rsvs := []struct {
		name string
		bits uint8
	}{
		{"rsv1", frame.Rsv1}, {"rsv2", frame.Rsv2}, {"rsv3", frame.Rsv3},
		{"rsv12", frame.Rsv1 | frame.Rsv2}, {"rsv_all", frame.Rsv1 | frame.Rsv2 | frame.Rsv3},
	}
	ops := []struct {
		name    string
		op      frame.Opcode
		payload []byte
	}{
		{"text", frame.OpText, []byte("Hello, world!")},
		{"binary", frame.OpBinary, []byte{0x00, 0xff, 0xfe}},
		{"ping", frame.OpPing, []byte("ping")},
		{"pong", frame.OpPong, []byte("pong")},
		{"close", frame.OpClose, frame.AppendClose(nil, frame.CloseNormal, "")},
	}
	var cases []abBadFrameCase
	for i, rsv := range rsvs {
		for j, op := range ops {
			cases = append(cases, abBadFrameCase{
				name: fmt.Sprintf("3.%d.%d_%s_%s", i+1, j+1, rsv.name, op.name),
				wire: wstest.FrameRsv(true, rsv.bits, op.op, op.payload),
				code: frame.CloseProtocolError,
			})
		}
		cases = append(cases, abBadFrameCase{
			name: fmt.Sprintf("3.%d.%d_%s_continuation", i+1, len(ops)+1, rsv.name),
			wire: abJoin(wstest.Frame(false, frame.OpText, []byte("frag")), wstest.FrameRsv(true, rsv.bits, frame.OpContinuation, []byte("ment"))),
			code: frame.CloseProtocolError,
		})
	}
	abRunBadFrames(t, addr, cases)
}

func TestAutobahnOpcodes(t *testing.T) {
	_, addr := startApp(t, Config{Loops: 2}, echoRoute)
	var cases []abBadFrameCase
	reserved := []frame.Opcode{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}
	for _, op := range reserved {
		group, idx := 1, int(op)-2 // 4.1.x: 0x3-0x7; 4.2.x: 0xB-0xF
		if op.IsControl() {
			group, idx = 2, int(op)-0xA
		}
		for _, p := range []struct {
			name string
			data []byte
		}{{"empty", nil}, {"payload", []byte("reserved opcode payload")}} {
			cases = append(cases, abBadFrameCase{
				name: fmt.Sprintf("4.%d.%d_op%#x_%s", group, idx, uint8(op), p.name),
				wire: wstest.Frame(true, op, p.data),
				code: frame.CloseProtocolError,
			})
		}
	}
	cases = append(cases, abBadFrameCase{
		name: "4.3.1_op0xb_fin0",
		wire: wstest.Frame(false, 0xB, []byte("x")),
		code: frame.CloseProtocolError,
	})
	abRunBadFrames(t, addr, cases)
}

// abMsbLengthFrame is a binary frame header whose 64-bit length has the most significant bit set.
func abMsbLengthFrame() []byte {
	b := []byte{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 5}
	return append(b, abMask[:]...)
}

func TestAutobahnMaskingAndLength(t *testing.T) {
	_, addr := startApp(t, Config{Loops: 2}, echoRoute)
	abRunBadFrames(t, addr, []abBadFrameCase{
		{"1.4.1_unmasked_text", wstest.Unmasked(true, frame.OpText, []byte("Hello")), frame.CloseProtocolError},
		{"1.4.2_unmasked_binary_16bit", wstest.Unmasked(true, frame.OpBinary, abBinaryPayload(300)), frame.CloseProtocolError},
		{"1.4.3_unmasked_ping", wstest.Unmasked(true, frame.OpPing, []byte("p")), frame.CloseProtocolError},
		{"1.4.4_unmasked_close", wstest.Unmasked(true, frame.OpClose, frame.AppendClose(nil, frame.CloseNormal, "")), frame.CloseProtocolError},
		{"1.4.5_unmasked_continuation", abJoin(abF(false, abOpT, "a"), wstest.Unmasked(true, frame.OpContinuation, []byte("b"))),
			frame.CloseProtocolError},
	})
	t.Run("1.5.1_length_msb_set", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		before := []byte("valid before")
		r.Write(abJoin(wstest.Frame(true, frame.OpText, before), abMsbLengthFrame()))
		abExpectEcho(t, r, frame.OpText, before)
		abExpectFail(t, r, frame.CloseProtocolError)
	})
	t.Run("1.5.2_length_msb_set_bytewise", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		abWriteChunks(r, abMsbLengthFrame(), 1)
		abExpectFail(t, r, frame.CloseProtocolError)
	})
	t.Run("1.5.2.1_socket_closed_after_failure", func(t *testing.T) {
		// After the server's close, the client may still be sending (a large frame in pieces too): the
		// server does not answer any of it (no pong) and closes the socket once its close frame is out.
		r := wstest.Dial(t, addr, "/echo")
		r.Write(wstest.Frame(true, 3, nil))
		abExpectCloseNext(t, r, frame.CloseProtocolError)
		abWriteFast(r, abJoin(wstest.Frame(true, frame.OpBinary, abBinaryPayload(200<<10)), abF(true, abOpP, "no pong")), 1000)
		abAnswerClose(t, r)
	})
	t.Run("1.5.3_masked_payload_with_zero_key", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		p := []byte("zero key")
		r.Write(frame.AppendFrame(nil, frame.Header{Fin: true, Op: frame.OpText, Masked: true}, p))
		abExpectEcho(t, r, frame.OpText, p)
		abCloseNormally(t, r)
	})
	t.Run("1.5.4_many_frames_one_write", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		var wire []byte
		for i := range 200 {
			wire = append(wire, wstest.Frame(true, frame.OpBinary, bytes.Repeat([]byte{byte(i)}, i))...)
		}
		r.Write(wire)
		for i := range 200 {
			abExpectEcho(t, r, frame.OpBinary, bytes.Repeat([]byte{byte(i)}, i))
		}
		abCloseNormally(t, r)
	})
}
