package engine

// Autobahn|Testsuite group 7 (close handling): the server answers a valid close frame with a close frame
// (echoing the code), then closes the TCP connection; it fails a malformed close with 1002 (1007 for an
// invalid reason); data after the client's close is ignored, data before it is echoed first.

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// abClosePayload is a close payload with any code (even one AppendClose refuses to encode).
func abClosePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// abCloseFrame encodes a masked client close frame with payload.
func abCloseFrame(payload []byte) []byte { return wstest.Frame(true, frame.OpClose, payload) }

func TestAutobahnClose(t *testing.T) {
	_, addr := startApp(t, Config{Loops: 2}, echoRoute)
	t.Run("7.1.1_text_then_close", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		r.Write(abJoin(abF(true, abOpT, "Hello World!"), abCloseFrame(abClosePayload(1000, ""))))
		abExpectEcho(t, r, frame.OpText, []byte("Hello World!"))
		abExpectCloseNext(t, r, frame.CloseNormal)
		abExpectEOF(t, r)
	})
	t.Run("7.1.2_close_twice", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		r.Write(abJoin(abCloseFrame(abClosePayload(1000, "")), abCloseFrame(abClosePayload(1000, ""))))
		abExpectCloseNext(t, r, frame.CloseNormal)
		abExpectEOF(t, r)
	})
	t.Run("7.1.3_ping_after_close", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		r.Write(abJoin(abCloseFrame(abClosePayload(1000, "")), abF(true, abOpP, "no pong")))
		abExpectCloseNext(t, r, frame.CloseNormal)
		abExpectEOF(t, r)
	})
	t.Run("7.1.4_text_after_close", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		r.Write(abJoin(abCloseFrame(abClosePayload(1000, "")), abF(true, abOpT, "ignored"), abF(true, abOpB, "ignored")))
		abExpectCloseNext(t, r, frame.CloseNormal)
		abExpectEOF(t, r)
	})
	t.Run("7.1.5_fragment_close_continuation", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		r.Write(abJoin(abF(false, abOpT, "fragment1"), abCloseFrame(abClosePayload(1000, "")), abF(true, abOpC, "fragment2")))
		abExpectCloseNext(t, r, frame.CloseNormal)
		abExpectEOF(t, r)
	})
	t.Run("7.1.6_large_message_then_close", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		big := abTextPayload(256 << 10)
		r.Write(abJoin(wstest.Frame(true, frame.OpText, big), abCloseFrame(abClosePayload(1000, ""))))
		abExpectEcho(t, r, frame.OpText, big)
		abExpectCloseNext(t, r, frame.CloseNormal)
		abExpectEOF(t, r)
	})
	t.Run("7.1.7_close_frame_split_bytewise", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		abWriteChunks(r, abCloseFrame(abClosePayload(1001, "bye")), 1)
		abExpectCloseNext(t, r, frame.CloseGoingAway)
		abExpectEOF(t, r)
	})
	t.Run("7.1.8_close_while_partial_data_frame", func(t *testing.T) {
		// A data frame whose payload is still arriving, then its rest and a close: the message is
		// echoed, then the close.
		r := wstest.Dial(t, addr, "/echo")
		p := abBinaryPayload(100 << 10)
		wire := wstest.Frame(true, frame.OpBinary, p)
		r.Write(wire[:1000])
		r.Write(abJoin(wire[1000:], abCloseFrame(abClosePayload(1000, ""))))
		abExpectEcho(t, r, frame.OpBinary, p)
		abExpectCloseNext(t, r, frame.CloseNormal)
		abExpectEOF(t, r)
	})
	t.Run("7.1.9_garbage_after_close", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		r.Write(abJoin(abCloseFrame(abClosePayload(1000, "")), wstest.Frame(true, 5, []byte("reserved")), []byte{0xff, 0xff, 0xff}))
		abExpectCloseNext(t, r, frame.CloseNormal)
		abExpectEOF(t, r)
	})
	t.Run("7.1.10_bad_frame_then_close_in_one_write", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		r.Write(abJoin(wstest.FrameRsv(true, frame.Rsv2, frame.OpText, []byte("bad")), abCloseFrame(abClosePayload(1000, ""))))
		abExpectCloseNext(t, r, frame.CloseProtocolError)
		abExpectEOF(t, r)
	})
	abClosePayloadTests(t, addr)
}

// abClosePayloadTests are Autobahn 7.3 (payload lengths and reasons).
func abClosePayloadTests(t *testing.T, addr string) {
	cases := []struct {
		name    string
		payload []byte
		want    frame.CloseCode // the server's close code
		echo    bool            // a valid close: the server then closes the TCP connection without waiting
	}{
		{"7.3.1_empty", nil, frame.CloseNoStatus, true},
		{"7.3.2_one_byte", []byte{0x03}, frame.CloseProtocolError, false},
		{"7.3.3_code_only", abClosePayload(1000, ""), frame.CloseNormal, true},
		{"7.3.4_code_and_reason", abClosePayload(1000, "Hello World!"), frame.CloseNormal, true},
		{"7.3.5_125_bytes", abClosePayload(1000, strings.Repeat("*", 123)), frame.CloseNormal, true},
		{"7.3.5.1_125_bytes_multibyte_reason", abClosePayload(1000, strings.Repeat("µ", 61)+"*"), frame.CloseNormal, true},
		{"7.3.6_126_bytes", abClosePayload(1000, strings.Repeat("*", 124)), frame.CloseProtocolError, false},
		{"7.5.1_invalid_utf8_reason", abClosePayload(1000, "κόσμε\xed\xa0\x80edited"), frame.CloseInvalidPayload, false},
		{"7.5.2_truncated_utf8_reason", abClosePayload(1000, "κόσμε\xce"), frame.CloseInvalidPayload, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := wstest.Dial(t, addr, "/echo")
			r.Write(abCloseFrame(tc.payload))
			abExpectCloseNext(t, r, tc.want)
			if tc.echo {
				abExpectEOF(t, r)
				return
			}
			abAnswerClose(t, r)
		})
	}
	t.Run("7.3.1.1_empty_close_gets_empty_payload", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		r.Write(abCloseFrame(nil))
		h, p := abNextFrame(t, r)
		if h.Op != frame.OpClose || len(p) != 0 {
			t.Fatalf("got %s, want a close frame with no payload", abDescribe(h, p))
		}
		abExpectEOF(t, r)
	})
}

func TestAutobahnCloseCodes(t *testing.T) {
	_, addr := startApp(t, Config{Loops: 2}, echoRoute)
	valid := []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}
	for i, code := range valid {
		t.Run(fmt.Sprintf("7.7.%d_valid_%d", i+1, code), func(t *testing.T) {
			r := wstest.Dial(t, addr, "/echo")
			r.Write(abCloseFrame(abClosePayload(code, "reason")))
			abExpectCloseNext(t, r, frame.CloseCode(code))
			abExpectEOF(t, r)
		})
	}
	invalid := []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}
	for i, code := range invalid {
		t.Run(fmt.Sprintf("7.9.%d_invalid_%d", i+1, code), func(t *testing.T) {
			r := wstest.Dial(t, addr, "/echo")
			r.Write(abJoin(abF(true, abOpT, "before"), abCloseFrame(abClosePayload(code, "")), abF(true, abOpT, "after")))
			abExpectEcho(t, r, frame.OpText, []byte("before"))
			abExpectFail(t, r, frame.CloseProtocolError)
		})
	}
}
