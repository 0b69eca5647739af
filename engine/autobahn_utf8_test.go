package engine

// Autobahn|Testsuite group 6 (UTF-8 handling): valid text is echoed whole however it is fragmented,
// invalid text fails with 1007, and it fails fast: as soon as the bytes received can no longer be the
// prefix of valid UTF-8, before the rest of the message (or of the frame) is sent.

import (
	"fmt"
	"testing"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// abValidUTF8 are valid texts, from ASCII to 4-byte code points and the boundaries of each encoding length.
var abValidUTF8 = []struct{ name, s string }{
	{"ascii", "Hello, world!"},
	{"hello_mixed", "Hello-µ@ßöäüàá-UTF-8!!"},
	{"kosme", "κόσμε"},
	{"cjk", "你好，世界"},
	{"emoji", "😀🚀👍🏽"},
	{"mixed_lengths", "a\u00e9\u4e2d\U0001F600z"},
	{"nul", "\x00"},
	{"u007f", "\u007f"},
	{"u0080", "\u0080"},
	{"u07ff", "\u07ff"},
	{"u0800", "\u0800"},
	{"ud7ff", "\ud7ff"},
	{"ue000", "\ue000"},
	{"ufffd", "\ufffd"},
	{"ufffe_uffff", "\ufffe\uffff"},
	{"u10000", "\U00010000"},
	{"u10ffff", "\U0010ffff"},
}

// abInvalidUTF8 are invalid texts (Autobahn 6.3-6.21 and RFC 3629 section 4).
var abInvalidUTF8 = []struct{ name, s string }{
	{"kosme_surrogate_edited", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"},
	{"lone_continuation_80", "\x80"},
	{"lone_continuation_bf", "\xbf"},
	{"continuations_in_text", "ab\x80\xbfcd"},
	{"overlong_c0_af", "\xc0\xaf"},
	{"overlong_c1_bf", "\xc1\xbf"},
	{"overlong_c0_80_nul", "\xc0\x80"},
	{"overlong_e0_80_af", "\xe0\x80\xaf"},
	{"overlong_e0_9f_bf", "\xe0\x9f\xbf"},
	{"overlong_f0_80_80_af", "\xf0\x80\x80\xaf"},
	{"overlong_f0_8f_bf_bf", "\xf0\x8f\xbf\xbf"},
	{"surrogate_d800", "\xed\xa0\x80"},
	{"surrogate_dbff", "\xed\xaf\xbf"},
	{"surrogate_dc00", "\xed\xb0\x80"},
	{"surrogate_dfff", "\xed\xbf\xbf"},
	{"surrogate_pair", "\xed\xa0\x80\xed\xb0\x80"},
	{"above_10ffff_f4_90", "\xf4\x90\x80\x80"},
	{"above_10ffff_f7", "\xf7\xbf\xbf\xbf"},
	{"byte_f5", "\xf5\x80\x80\x80"},
	{"five_byte_f8", "\xf8\x88\x80\x80\x80"},
	{"six_byte_fc", "\xfc\x84\x80\x80\x80\x80"},
	{"byte_fe", "\xfe"},
	{"byte_ff", "\xff"},
	{"fe_fe_ff_ff", "\xfe\xfe\xff\xff"},
	{"missing_continuation_2byte", "\xc2A"},
	{"missing_continuation_3byte", "\xe1\xbdA"},
	{"missing_continuation_4byte", "\xf0\x9f\x98A"},
	{"truncated_2byte_at_end", "\xce"},
	{"truncated_3byte_at_end", "\xe1\xbd"},
	{"truncated_4byte_at_end", "\xf0\x9f\x98"},
	{"kosme_truncated_at_end", "κόσμε\xce"},
	{"valid_then_ff", "Hello\xff"},
}

func TestAutobahnUTF8Valid(t *testing.T) {
	_, addr := startApp(t, Config{Loops: 2}, echoRoute)
	for i, tc := range abValidUTF8 {
		msg := []byte(tc.s)
		t.Run(fmt.Sprintf("6.2.%d_%s_one_frame", i+1, tc.name), func(t *testing.T) {
			r := wstest.Dial(t, addr, "/echo")
			r.Send(true, frame.OpText, msg)
			abExpectEcho(t, r, frame.OpText, msg)
			abCloseNormally(t, r)
		})
		t.Run(fmt.Sprintf("6.2.%d_%s_split_everywhere", i+1, tc.name), func(t *testing.T) {
			r := wstest.Dial(t, addr, "/echo")
			for cut := 0; cut <= len(msg); cut++ { // cut 0 and len: an empty first or last fragment
				r.Write(abFragmentsAt(frame.OpText, msg, cut))
				abExpectEcho(t, r, frame.OpText, msg)
			}
			r.Write(abFragments(frame.OpText, msg, 1))
			abExpectEcho(t, r, frame.OpText, msg)
			abCloseNormally(t, r)
		})
	}
	t.Run("6.2.99_long_text_split_in_chunks_of_every_small_size", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		msg := []byte("κόσμε 😀 你好 µ ✓ \U0010ffff \u0800 end")
		for size := 1; size <= 7; size++ {
			r.Write(abFragments(frame.OpText, msg, size))
			abExpectEcho(t, r, frame.OpText, msg)
		}
		abCloseNormally(t, r)
	})
}

func TestAutobahnUTF8Invalid(t *testing.T) {
	_, addr := startApp(t, Config{Loops: 2}, echoRoute)
	for i, tc := range abInvalidUTF8 {
		msg := []byte(tc.s)
		t.Run(fmt.Sprintf("6.3.%d_%s_one_frame", i+1, tc.name), func(t *testing.T) {
			r := wstest.Dial(t, addr, "/echo")
			r.Write(abJoin(wstest.Frame(true, frame.OpText, []byte("valid")), wstest.Frame(true, frame.OpText, msg),
				wstest.Frame(true, frame.OpPing, []byte("after"))))
			abExpectEcho(t, r, frame.OpText, []byte("valid"))
			abExpectFail(t, r, frame.CloseInvalidPayload)
		})
		t.Run(fmt.Sprintf("6.3.%d_%s_1_byte_fragments", i+1, tc.name), func(t *testing.T) {
			r := wstest.Dial(t, addr, "/echo")
			r.Write(abFragments(frame.OpText, msg, 1))
			abExpectFail(t, r, frame.CloseInvalidPayload)
		})
		t.Run(fmt.Sprintf("6.3.%d_%s_bytewise_writes", i+1, tc.name), func(t *testing.T) {
			r := wstest.Dial(t, addr, "/echo")
			abWriteChunks(r, wstest.Frame(true, frame.OpText, msg), 1)
			abExpectFail(t, r, frame.CloseInvalidPayload)
		})
	}
	t.Run("6.3.98_large_streamed_frames", func(t *testing.T) {
		// Frames larger than the read buffer are validated chunk by chunk as they stream in.
		valid := abTextPayload(200 << 10)
		for _, tail := range []string{"\xff", "\xce", "\xed\xa0\x80", "\xf0\x9f\x98"} {
			r := wstest.Dial(t, addr, "/echo")
			r.Send(true, frame.OpText, valid)
			abExpectEcho(t, r, frame.OpText, valid)
			r.Send(true, frame.OpText, abJoin(valid, []byte(tail)))
			abExpectFail(t, r, frame.CloseInvalidPayload)
		}
	})
	t.Run("6.3.99_binary_is_not_checked", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		for _, tc := range abInvalidUTF8 {
			r.Send(true, frame.OpBinary, []byte(tc.s))
			abExpectEcho(t, r, frame.OpBinary, []byte(tc.s))
		}
		abCloseNormally(t, r)
	})
}

// abFailFastCase sends only head: the server must answer 1007 without waiting for the rest.
type abFailFastCase struct {
	name string
	head []byte // what is sent before reading the close
	rest []byte // what completes the client's frame stream afterwards (so the close frame parses)
}

func abFailFastCases() []abFailFastCase {
	kosme := "κόσμε"
	partial := func(payload string, sent int) ([]byte, []byte) {
		p := []byte(payload)
		hdr := abMaskedHeader(true, frame.OpText, int64(len(p)))
		return abJoin(hdr, abMaskedPayload(0, p[:sent])), abMaskedPayload(sent, p[sent:])
	}
	in1, rest1 := partial(kosme+"\xf4\x90\x80\x80"+"edited", len(kosme)+2)
	in2, rest2 := partial(kosme+"\xed\xa0\x80"+"edited", len(kosme)+2)
	in3, rest3 := partial("\xc0"+"more text", 1)
	return []abFailFastCase{
		{"6.4.1_first_fragment_above_10ffff", abF(false, abOpT, kosme+"\xf4\x90\x80\x80"), abF(true, abOpC, "edited")},
		{"6.4.1.1_first_fragment_surrogate", abF(false, abOpT, kosme+"\xed\xa0\x80"), abF(true, abOpC, "edited")},
		{"6.4.1.2_first_fragment_overlong", abF(false, abOpT, "ok\xc0\xaf"), abF(true, abOpC, "edited")},
		{"6.4.1.3_first_fragment_byte_ff", abF(false, abOpT, "\xff"), abF(true, abOpC, "edited")},
		{"6.4.2_invalid_at_second_byte_of_second_fragment", abJoin(abF(false, abOpT, kosme+"\xf4"), abF(false, abOpC, "\x90")), abF(true, abOpC, "\x80\x80edited")},
		{"6.4.2.1_surrogate_split_across_fragments", abJoin(abF(false, abOpT, kosme), abF(false, abOpC, "\xed\xa0")), abF(true, abOpC, "\x80")},
		{"6.4.3_partial_frame_above_10ffff", in1, rest1},
		{"6.4.3.1_partial_frame_surrogate", in2, rest2},
		{"6.4.4_partial_frame_first_byte_c0", in3, rest3},
	}
}

func TestAutobahnUTF8FailFast(t *testing.T) {
	_, addr := startApp(t, Config{Loops: 2}, echoRoute)
	for _, tc := range abFailFastCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := wstest.Dial(t, addr, "/echo")
			r.Write(tc.head)
			abExpectCloseNext(t, r, frame.CloseInvalidPayload)
			r.Write(tc.rest)
			abAnswerClose(t, r)
		})
	}
	t.Run("6.4.5_valid_prefix_does_not_fail", func(t *testing.T) {
		r := wstest.Dial(t, addr, "/echo")
		// A first fragment ending inside a code point is a valid prefix: the server waits, then echoes.
		r.Write(abF(false, abOpT, "κόσμε\xf0\x9f"))
		r.Write(abF(true, abOpP, "still open"))
		abExpectPong(t, r, []byte("still open"))
		r.Write(abF(true, abOpC, "\x98\x80"))
		abExpectEcho(t, r, frame.OpText, []byte("κόσμε😀"))
		abCloseNormally(t, r)
	})
}
