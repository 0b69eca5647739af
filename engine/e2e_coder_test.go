package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/coder/websocket"

	"github.com/openspeed/wsd/frame"
)

// coderDial connects to path with coder/websocket, lifts its 32 KiB read limit above the server's
// MaxMessageSize, and drops the connection at cleanup.
func coderDial(t *testing.T, s *e2eServer, path string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, s.base+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	if resp.Body != nil {
		_ = resp.Body.Close()
	}
	c.SetReadLimit(e2eMaxMessage)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// e2eCtx is a context bounded by e2eWait for one test.
func e2eCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	t.Cleanup(cancel)
	return ctx
}

// coderExpect reads one message and checks its type and payload.
func coderExpect(t *testing.T, ctx context.Context, c *websocket.Conn, typ websocket.MessageType, want []byte) {
	t.Helper()
	mt, got, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read (want %d bytes of %v): %v", len(want), typ, err)
	}
	if mt != typ {
		t.Fatalf("message type %v, want %v", mt, typ)
	}
	sameBytes(t, "echo", got, want)
}

func TestCoderEchoSizes(t *testing.T) {
	s := startE2E(t)
	c := coderDial(t, s, "/echo")
	ctx := e2eCtx(t)
	for _, n := range e2eSizes {
		for _, typ := range []websocket.MessageType{websocket.MessageText, websocket.MessageBinary} {
			p := binaryPayload(n)
			if typ == websocket.MessageText {
				p = textPayload(n)
			}
			t.Run(fmt.Sprintf("%v/%dB", typ, n), func(t *testing.T) {
				if err := c.Write(ctx, typ, p); err != nil {
					t.Fatalf("write: %v", err)
				}
				coderExpect(t, ctx, c, typ, p)
			})
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close: %v", err)
	}
	expectCloseInfo(t, s, 1000, "")
}

// coderWriteParts sends one message through c.Writer: every Write call is one frame (coder does not
// coalesce), and Close sends the final empty frame.
func coderWriteParts(t *testing.T, ctx context.Context, c *websocket.Conn, typ websocket.MessageType, parts [][]byte) []byte {
	t.Helper()
	w, err := c.Writer(ctx, typ)
	if err != nil {
		t.Fatalf("Writer: %v", err)
	}
	var all []byte
	for i, p := range parts {
		if _, err := w.Write(p); err != nil {
			t.Fatalf("write part %d: %v", i, err)
		}
		all = append(all, p...)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close writer: %v", err)
	}
	return all
}

func TestCoderFragmentedWrites(t *testing.T) {
	s := startE2E(t)
	c := coderDial(t, s, "/echo")
	ctx := e2eCtx(t)

	euro := []byte("€") // three bytes, split across three frames
	text := textPayload(200 << 10)
	parts := [][]byte{euro[:1], euro[1:2], euro[2:], {}, text[:1], text[1:70000], text[70000:]}
	want := coderWriteParts(t, ctx, c, websocket.MessageText, parts)
	coderExpect(t, ctx, c, websocket.MessageText, want)

	bin := binaryPayload(3 << 20)
	parts = [][]byte{bin[:1], bin[1:126], bin[126:65662], bin[65662 : 1<<20], bin[1<<20:]}
	want = coderWriteParts(t, ctx, c, websocket.MessageBinary, parts)
	coderExpect(t, ctx, c, websocket.MessageBinary, want)

	// Many tiny fragments.
	parts = parts[:0]
	for i := range 300 {
		parts = append(parts, []byte(strconv.Itoa(i)))
	}
	want = coderWriteParts(t, ctx, c, websocket.MessageText, parts)
	coderExpect(t, ctx, c, websocket.MessageText, want)
}

func TestCoderPing(t *testing.T) {
	s := startE2E(t)
	c := coderDial(t, s, "/echo")
	ctx := e2eCtx(t)
	// coder's Ping waits for a pong that only a concurrent reader can see.
	reads := make(chan error, 1)
	go func() {
		_, _, err := c.Read(ctx)
		reads <- err
	}()
	for i := 1; i <= 3; i++ {
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		// coder numbers its pings "1", "2", ...
		if got := waitFor(t, s.pings, "server OnPing"); got != strconv.Itoa(i) {
			t.Fatalf("server OnPing %q, want %q", got, strconv.Itoa(i))
		}
	}
	if err := c.Close(4000, "pinged"); err != nil {
		t.Fatalf("close: %v", err)
	}
	// Whichever of Close and the reader sees the server's close frame, the reader ends.
	if err := waitFor(t, reads, "reader"); err == nil {
		t.Fatal("the reader got a message; the server sent none")
	}
	expectCloseInfo(t, s, 4000, "pinged")
}

func TestCoderClientClose(t *testing.T) {
	for _, tc := range []struct {
		code   websocket.StatusCode
		reason string
	}{{websocket.StatusNormalClosure, "done"}, {websocket.StatusGoingAway, ""}, {4000, "coder-bye"}} {
		t.Run(strconv.Itoa(int(tc.code)), func(t *testing.T) {
			s := startE2E(t)
			c := coderDial(t, s, "/echo")
			// Close sends the close frame and returns nil once the server's close frame answered it.
			if err := c.Close(tc.code, tc.reason); err != nil {
				t.Fatalf("close: %v", err)
			}
			expectCloseInfo(t, s, frame.CloseCode(tc.code), tc.reason)
		})
	}
}

func TestCoderServerClose(t *testing.T) {
	s := startE2E(t)
	c := coderDial(t, s, "/close/4001")
	_, _, err := c.Read(e2eCtx(t))
	if got := websocket.CloseStatus(err); got != 4001 {
		t.Fatalf("read: %v; CloseStatus %d, want 4001", err, got)
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Reason != "bye" {
		t.Fatalf("read: %v, want a CloseError with reason \"bye\"", err)
	}
	// coder echoes the close frame whole, reason included.
	expectCloseInfo(t, s, 4001, "bye")
}
