package engine

import (
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// fcCloseTimeout is far longer than any test: a server that waited for the peer would hold these
// sockets open until the test's read deadline fails it.
const fcCloseTimeout = 10 * time.Minute

// After the server fails a connection (protocol error, oversize message, invalid close frame) or
// answers the peer's close frame, it closes the TCP connection as soon as its close frame is written:
// a raw client that reads the close frame and then neither answers nor closes gets the server's FIN,
// although CloseTimeout is ten minutes.
func TestCloseTCPAfterFailOrAnswer(t *testing.T) {
	_, addr := startApp(t, Config{CloseTimeout: fcCloseTimeout, MaxMessageSize: 1 << 10}, func(a *App) {
		a.Route("/echo", Handlers{Message: func(ws *Conn, m Message) { _ = ws.Send(m) }})
	})
	cases := []struct {
		name string
		send []byte
		code frame.CloseCode
	}{
		{"unmasked frame", wstest.Unmasked(true, frame.OpText, []byte("hi")), frame.CloseProtocolError},
		{"reserved bits", wstest.FrameRsv(true, frame.Rsv2, frame.OpText, []byte("hi")), frame.CloseProtocolError},
		{"oversize message", abMaskedHeader(true, frame.OpBinary, 4<<10), frame.CloseMessageTooBig},
		{"invalid UTF-8", wstest.Frame(true, frame.OpText, []byte{0xff, 0xfe}), frame.CloseInvalidPayload},
		{"one-byte close payload", wstest.Frame(true, frame.OpClose, []byte{3}), frame.CloseProtocolError},
		{"close code 1005 on the wire", wstest.Frame(true, frame.OpClose, []byte{0x03, 0xed}), frame.CloseProtocolError},
		{"close reason not UTF-8", wstest.Frame(true, frame.OpClose, []byte{0x03, 0xe8, 0xff}), frame.CloseInvalidPayload},
		{"unmasked frame, then a close", append(wstest.Unmasked(true, frame.OpText, []byte("hi")),
			wstest.Frame(true, frame.OpClose, frame.AppendClose(nil, frame.CloseNormal, ""))...), frame.CloseProtocolError},
		{"peer's close", wstest.Frame(true, frame.OpClose, frame.AppendClose(nil, 4001, "bye")), 4001},
		{"peer's empty close", wstest.Frame(true, frame.OpClose, nil), frame.CloseNoStatus},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := wstest.Dial(t, addr, "/echo")
			r.Timeout = 30 * time.Second // << CloseTimeout, >> any scheduling delay
			r.Send(true, frame.OpText, []byte("before"))
			r.ExpectMessage(frame.OpText, []byte("before"))
			r.Write(tc.send)
			abExpectCloseNext(t, r, tc.code)
			fcExpectFIN(t, r)
		})
	}
}

// A close the server starts for a healthy peer (Conn.Close) still waits for the peer's close frame:
// the socket stays open while the peer is silent, and closes as soon as it answers.
func TestCloseTCPWaitsForHealthyPeer(t *testing.T) {
	_, addr := startApp(t, Config{CloseTimeout: fcCloseTimeout}, func(a *App) {
		a.Route("/close", Handlers{Message: func(ws *Conn, m Message) { ws.CloseWith(CloseNormal, "done") }})
	})
	r := wstest.Dial(t, addr, "/close")
	r.Timeout = 30 * time.Second
	r.Send(true, frame.OpText, []byte("close me"))
	abExpectCloseNext(t, r, frame.CloseNormal)
	_ = r.Conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	var b [1]byte
	if n, err := r.Conn.Read(b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server closed (read %d, %v) before the peer answered its close", n, err)
	}
	r.Write(wstest.Frame(true, frame.OpClose, frame.AppendClose(nil, frame.CloseNormal, "")))
	fcExpectFIN(t, r)
}

// fcExpectFIN checks that the server closes the TCP connection cleanly (EOF, not a reset) and sends
// nothing more, while the client writes nothing.
func fcExpectFIN(t *testing.T, r *wstest.Raw) {
	t.Helper()
	_ = r.Conn.SetReadDeadline(time.Now().Add(r.Timeout))
	rest, err := io.ReadAll(r.Conn)
	if err != nil || len(rest) > 0 {
		t.Fatalf("waiting for the server's FIN: %d more bytes, %v", len(rest), err)
	}
}
