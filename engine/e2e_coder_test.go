package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/coder/websocket"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/frame"
)

// e2eCoder lifts coder's 32 KiB read limit to the server's MaxMessageSize.
var e2eCoder = engine.CoderOpts{ReadLimit: e2eMaxMessage}

// opCtx bounds one operation (a read, a write, a ping) by e2eWait.
func opCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	t.Cleanup(cancel)
	return ctx
}

// coderExpect reads one message and checks its type and payload.
func coderExpect(t *testing.T, c *websocket.Conn, typ websocket.MessageType, want []byte) {
	t.Helper()
	mt, got, err := c.Read(opCtx(t))
	if err != nil {
		t.Fatalf("read (want %d bytes of %v): %v", len(want), typ, err)
	}
	if mt != typ {
		t.Fatalf("message type %v, want %v", mt, typ)
	}
	sameBytes(t, "echo", got, want)
}

func TestCoderEchoSizes(t *testing.T) {
	s := newE2EServer(t)
	c, _ := engine.DialCoder(t, s.addr, "/echo", e2eCoder)
	for _, n := range e2eSizes {
		for _, typ := range []websocket.MessageType{websocket.MessageText, websocket.MessageBinary} {
			p := binaryPayload(n)
			if typ == websocket.MessageText {
				p = textPayload(n)
			}
			t.Run(fmt.Sprintf("%v/%dB", typ, n), func(t *testing.T) {
				if err := c.Write(opCtx(t), typ, p); err != nil {
					t.Fatalf("write: %v", err)
				}
				coderExpect(t, c, typ, p)
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
func coderWriteParts(t *testing.T, c *websocket.Conn, typ websocket.MessageType, parts [][]byte) []byte {
	t.Helper()
	w, err := c.Writer(opCtx(t), typ)
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
	s := newE2EServer(t)
	c, _ := engine.DialCoder(t, s.addr, "/echo", e2eCoder)

	euro := []byte("€") // three bytes, split across three frames
	text := textPayload(200 << 10)
	parts := [][]byte{euro[:1], euro[1:2], euro[2:], {}, text[:1], text[1:70000], text[70000:]}
	want := coderWriteParts(t, c, websocket.MessageText, parts)
	coderExpect(t, c, websocket.MessageText, want)

	bin := binaryPayload(3 << 20)
	parts = [][]byte{bin[:1], bin[1:126], bin[126:65662], bin[65662 : 1<<20], bin[1<<20:]}
	want = coderWriteParts(t, c, websocket.MessageBinary, parts)
	coderExpect(t, c, websocket.MessageBinary, want)

	// Many tiny fragments.
	parts = parts[:0]
	for i := range 300 {
		parts = append(parts, []byte(strconv.Itoa(i)))
	}
	want = coderWriteParts(t, c, websocket.MessageText, parts)
	coderExpect(t, c, websocket.MessageText, want)
}

func TestCoderPing(t *testing.T) {
	s := newE2EServer(t)
	c, _ := engine.DialCoder(t, s.addr, "/echo", e2eCoder)
	// coder's Ping waits for a pong that only a concurrent reader can see.
	reads := make(chan error, 1)
	go func() {
		_, _, err := c.Read(context.Background()) // ends when the connection closes
		reads <- err
	}()
	for i := 1; i <= 3; i++ {
		if err := c.Ping(opCtx(t)); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		// coder numbers its pings "1", "2", ...
		if got := engine.Recv(t, s.pings, "server OnPing"); got != strconv.Itoa(i) {
			t.Fatalf("server OnPing %q, want %q", got, strconv.Itoa(i))
		}
	}
	if err := c.Close(4000, "pinged"); err != nil {
		t.Fatalf("close: %v", err)
	}
	// Whichever of Close and the reader sees the server's close frame, the reader ends.
	if err := engine.Recv(t, reads, "reader"); err == nil {
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
			s := newE2EServer(t)
			c, _ := engine.DialCoder(t, s.addr, "/echo", e2eCoder)
			// Close sends the close frame and returns nil once the server's close frame answered it.
			if err := c.Close(tc.code, tc.reason); err != nil {
				t.Fatalf("close: %v", err)
			}
			expectCloseInfo(t, s, frame.CloseCode(tc.code), tc.reason)
		})
	}
}

func TestCoderServerClose(t *testing.T) {
	s := newE2EServer(t)
	c, _ := engine.DialCoder(t, s.addr, "/close/4001", e2eCoder)
	coderExpect(t, c, websocket.MessageText, []byte("before close"))
	_, _, err := c.Read(opCtx(t))
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

// TestCoderEchoDefaultLimits echoes a message of exactly the default MaxMessageSize on an App with
// default limits: a message the server accepts must fit the default outbound budget when the
// connection's backlog is empty.
func TestCoderEchoDefaultLimits(t *testing.T) {
	s := newE2EServerWith(t, engine.Config{Loops: 2})
	c, _ := engine.DialCoder(t, s.addr, "/echo", e2eCoder)
	for _, n := range []int{engine.DefaultMaxMessageSize - 1, engine.DefaultMaxMessageSize} {
		p := binaryPayload(n)
		if err := c.Write(opCtx(t), websocket.MessageBinary, p); err != nil {
			t.Fatalf("write %d bytes: %v", n, err)
		}
		coderExpect(t, c, websocket.MessageBinary, p)
	}
}

// TestCoderEchoAfterDrain sends a message far over MaxBackpressure (default 1 MiB) and, once its echo
// is read in full, small ones: the client has read everything, the connection's backlog is empty, so
// nothing may be refused as a slow consumer. gnet cannot write the large echo in one syscall, so the
// rest drains after the callback that queued it returned.
func TestCoderEchoAfterDrain(t *testing.T) {
	s := newE2EServer(t)
	c, _ := engine.DialCoder(t, s.addr, "/echo", e2eCoder)
	big := binaryPayload(8 << 20)
	if err := c.Write(opCtx(t), websocket.MessageBinary, big); err != nil {
		t.Fatalf("write: %v", err)
	}
	coderExpect(t, c, websocket.MessageBinary, big)
	for i := range 3 {
		msg := []byte("small " + strconv.Itoa(i))
		if err := c.Write(opCtx(t), websocket.MessageText, msg); err != nil {
			t.Fatalf("write: %v", err)
		}
		coderExpect(t, c, websocket.MessageText, msg)
	}
}
