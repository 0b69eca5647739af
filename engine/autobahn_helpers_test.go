package engine

// Helpers of the Autobahn|Testsuite-style tests (autobahn_*_test.go): an echo App, strict frame-by-frame
// expectations (the very next frame must be the expected one, so an extra echo or pong fails the test),
// frame builders for header-only and split writes, and deterministic payloads.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// abSplitPause is the pause between the pieces of a split write: long enough that the server usually sees
// each piece in its own read, so headers and payloads really arrive split. Only a pacing aid, never asserted.
const abSplitPause = time.Millisecond

// abDescribe formats a server frame for failure messages.
func abDescribe(h frame.Header, p []byte) string {
	return fmt.Sprintf("%s frame (fin=%v rsv=%#x) of %d bytes %.40q", h.Op, h.Fin, h.Rsv, len(p), p)
}

// abNextFrame reads exactly one server frame.
func abNextFrame(t *testing.T, r *wstest.Raw) (frame.Header, []byte) {
	t.Helper()
	h, p, err := r.ReadFrame()
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return h, p
}

// abExpectFrame checks that the very next server frame is one complete, unfragmented frame of op with
// payload and no RSV bits.
func abExpectFrame(t *testing.T, r *wstest.Raw, op frame.Opcode, payload []byte) {
	t.Helper()
	h, p := abNextFrame(t, r)
	if !h.Fin || h.Rsv != 0 || h.Op != op || !bytes.Equal(p, payload) {
		t.Fatalf("got %s, want %s frame of %d bytes %.40q", abDescribe(h, p), op, len(payload), payload)
	}
}

// abExpectEcho checks that the next server frame is the echo of a data message.
func abExpectEcho(t *testing.T, r *wstest.Raw, op frame.Opcode, payload []byte) {
	t.Helper()
	abExpectFrame(t, r, op, payload)
}

// abExpectPong checks that the next server frame is a pong carrying payload.
func abExpectPong(t *testing.T, r *wstest.Raw, payload []byte) {
	t.Helper()
	abExpectFrame(t, r, frame.OpPong, payload)
}

// abExpectCloseNext checks that the very next server frame is a well-formed close frame with code want
// (frame.CloseNoStatus: an empty payload).
func abExpectCloseNext(t *testing.T, r *wstest.Raw, want frame.CloseCode) {
	t.Helper()
	h, p := abNextFrame(t, r)
	if h.Op != frame.OpClose {
		t.Fatalf("got %s, want close %d", abDescribe(h, p), want)
	}
	if !h.Fin || h.Rsv != 0 {
		t.Fatalf("malformed server close: %s", abDescribe(h, p))
	}
	if _, _, err := frame.ParseClose(p); err != nil {
		t.Fatalf("server close payload %q is invalid: %v", p, err)
	}
	got := frame.CloseNoStatus
	if len(p) >= 2 {
		got = frame.CloseCode(binary.BigEndian.Uint16(p))
	}
	if got != want {
		t.Fatalf("close code %d (reason %q), want %d", got, p[min(len(p), 2):], want)
	}
}

// abExpectEOF checks that the server sends nothing more and closes the TCP connection.
func abExpectEOF(t *testing.T, r *wstest.Raw) {
	t.Helper()
	h, p, err := r.ReadFrame()
	switch {
	case err == nil:
		t.Fatalf("got %s, want the TCP connection closed", abDescribe(h, p))
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
	default:
		t.Fatalf("waiting for the server to close the TCP connection: %v", err)
	}
}

// abAnswerClose completes a closing handshake the server started: it sends the client's close frame and
// expects EOF. The write error is ignored on purpose: a server that took a malformed close frame as the
// peer's close may already have closed the socket, which is fine.
func abAnswerClose(t *testing.T, r *wstest.Raw) {
	t.Helper()
	_ = r.Conn.SetWriteDeadline(time.Now().Add(r.Timeout))
	_, _ = r.Conn.Write(wstest.Frame(true, frame.OpClose, frame.AppendClose(nil, frame.CloseNormal, "")))
	abExpectEOF(t, r)
}

// abExpectFail checks that the next server frame is a close with code, then finishes the handshake.
func abExpectFail(t *testing.T, r *wstest.Raw, code frame.CloseCode) {
	t.Helper()
	abExpectCloseNext(t, r, code)
	abAnswerClose(t, r)
}

// abCloseNormally runs a client-initiated closing handshake with 1000 and checks nothing else arrives.
func abCloseNormally(t *testing.T, r *wstest.Raw) {
	t.Helper()
	r.Write(wstest.Frame(true, frame.OpClose, frame.AppendClose(nil, frame.CloseNormal, "")))
	abExpectCloseNext(t, r, frame.CloseNormal)
	abExpectEOF(t, r)
}

// abMask is the mask key of frames built with a fixed key (header-only writes).
var abMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// abMaskedHeader encodes the header of a masked client frame with abMask announcing length bytes.
func abMaskedHeader(fin bool, op frame.Opcode, length int64) []byte {
	return frame.AppendHeader(nil, frame.Header{Fin: fin, Op: op, Masked: true, Mask: abMask, Length: length})
}

// abMaskedPayload returns p masked with abMask as if it started at payload offset pos.
func abMaskedPayload(pos int, p []byte) []byte {
	out := bytes.Clone(p)
	frame.Mask(abMask, pos, out)
	return out
}

// abJoin concatenates encoded frames.
func abJoin(frames ...[]byte) []byte {
	return bytes.Join(frames, nil)
}

// abFragments encodes msg as one message of op in frames of at most size payload bytes (at least one frame).
func abFragments(op frame.Opcode, msg []byte, size int) []byte {
	out := make([]byte, 0, len(msg)+(len(msg)/size+1)*frame.MaxHeaderSize)
	for first := true; first || len(msg) > 0; first = false {
		n := min(size, len(msg))
		fop := frame.OpContinuation
		if first {
			fop = op
		}
		out = append(out, wstest.Frame(n == len(msg), fop, msg[:n])...)
		msg = msg[n:]
	}
	return out
}

// abFragmentsAt encodes msg as one message of op split at the given increasing offsets.
func abFragmentsAt(op frame.Opcode, msg []byte, cuts ...int) []byte {
	var out []byte
	prev := 0
	cuts = append(cuts, len(msg))
	for i, cut := range cuts {
		fop := frame.OpContinuation
		if i == 0 {
			fop = op
		}
		out = append(out, wstest.Frame(i == len(cuts)-1, fop, msg[prev:cut])...)
		prev = cut
	}
	return out
}

// abWriteSplit writes b in pieces ending at the given increasing offsets (then the rest), pausing between
// the writes. It stops when the server has closed the socket (it fails a connection at the first bad
// byte and closes the socket once its close frame is out; the test then reads that close frame).
func abWriteSplit(r *wstest.Raw, b []byte, cuts ...int) {
	prev := 0
	for _, cut := range append(cuts, len(b)) {
		if cut > prev {
			if prev > 0 {
				time.Sleep(abSplitPause)
			}
			if !r.WriteOrClosed(b[prev:cut]) {
				return
			}
		}
		prev = cut
	}
}

// abWriteChunks writes b in pieces of size bytes, pausing between the writes.
func abWriteChunks(r *wstest.Raw, b []byte, size int) {
	var cuts []int
	for c := size; c < len(b); c += size {
		cuts = append(cuts, c)
	}
	abWriteSplit(r, b, cuts...)
}

// abTextPattern mixes 1-, 2- and 3-byte code points, so frame and chunk boundaries fall inside them.
const abTextPattern = "Hello-µ@ßöäüàá-UTF-8!! κόσμε ✓ "

// abTextPayload returns exactly n bytes of valid UTF-8.
func abTextPayload(n int) []byte {
	b := bytes.Repeat([]byte(abTextPattern), n/len(abTextPattern)+1)[:n]
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				copy(b[i:], "xxx") // a code point cut at the end becomes ASCII
			}
			break
		}
	}
	return b
}

// abBinaryPayload returns n deterministic pseudo-random bytes (all byte values appear).
func abBinaryPayload(n int) []byte {
	rng := rand.New(rand.NewPCG(uint64(n), 6455))
	b := make([]byte, n+7)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	return b[:n:n]
}

// abPayloadFor returns n bytes suitable for a message of op.
func abPayloadFor(op frame.Opcode, n int) []byte {
	if op == frame.OpText {
		return abTextPayload(n)
	}
	return abBinaryPayload(n)
}
