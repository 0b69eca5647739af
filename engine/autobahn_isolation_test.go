package engine

// A connection the server fails must not disturb the others: a well-behaved client keeps echoing, with
// a fragmented message in progress across the failure, while bad clients on the same event loop are
// failed one after the other.

import (
	"fmt"
	"testing"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// abBadClient is one misbehaving client: what it sends and the close code it must get.
type abBadClient struct {
	name string
	wire []byte
	code frame.CloseCode
}

func abBadClients() []abBadClient {
	return []abBadClient{
		{"rsv1", wstest.FrameRsv(true, frame.Rsv1, frame.OpText, []byte("x")), frame.CloseProtocolError},
		{"reserved_opcode", wstest.Frame(true, 5, nil), frame.CloseProtocolError},
		{"unmasked", wstest.Unmasked(true, frame.OpBinary, []byte("x")), frame.CloseProtocolError},
		{"ping_126", wstest.Frame(true, frame.OpPing, abBinaryPayload(126)), frame.CloseProtocolError},
		{"invalid_utf8", wstest.Frame(true, frame.OpText, []byte("\xed\xa0\x80")), frame.CloseInvalidPayload},
		{"invalid_utf8_first_fragment", wstest.Frame(false, frame.OpText, []byte("\xff")), frame.CloseInvalidPayload},
		{"continuation_without_start", wstest.Frame(true, frame.OpContinuation, []byte("x")), frame.CloseProtocolError},
		{"too_big_header_only", abMaskedHeader(true, frame.OpBinary, 64<<20), frame.CloseMessageTooBig},
		{"close_code_1005", abCloseFrame(abClosePayload(1005, "")), frame.CloseProtocolError},
		{"length_msb_set", abMsbLengthFrame(), frame.CloseProtocolError},
	}
}

func TestAutobahnIsolation(t *testing.T) {
	// One loop: every connection shares the loop, its read buffer and the engine's pools, so a failure
	// that leaked state across connections would show here.
	_, addr := startApp(t, Config{Loops: 1}, echoRoute)
	good := wstest.Dial(t, addr, "/echo")
	big := abTextPayload(200 << 10)
	want := abJoin([]byte("before "), big, []byte(" after"))
	for i, bad := range abBadClients() {
		ok := t.Run(fmt.Sprintf("%d_%s", i+1, bad.name), func(t *testing.T) {
			// The good client starts a fragmented message and leaves its large second fragment half sent.
			good.Write(wstest.Frame(false, frame.OpText, []byte("before ")))
			wire := wstest.Frame(false, frame.OpContinuation, big)
			good.Write(wire[:len(wire)/2])

			b := wstest.Dial(t, addr, "/echo")
			b.Write(bad.wire)
			abExpectCloseNext(t, b, bad.code)

			// The good client finishes its message and keeps talking while the bad one is still closing.
			good.Write(abJoin(wire[len(wire)/2:], wstest.Frame(true, frame.OpPing, []byte(bad.name)),
				wstest.Frame(true, frame.OpContinuation, []byte(" after"))))
			abExpectPong(t, good, []byte(bad.name))
			abExpectEcho(t, good, frame.OpText, want)

			abExpectEOFAfterClose(t, b)
			good.Send(true, frame.OpBinary, []byte(bad.name))
			abExpectEcho(t, good, frame.OpBinary, []byte(bad.name))
		})
		if !ok {
			return // the good client's stream is out of step now
		}
	}
	abCloseNormally(t, good)
}
