package engine

import (
	"errors"
	"fmt"
	"testing"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// opBad are the opcodes a Message may not be sent with: control frames (the engine sends those
// itself: pongs, pings, its close handshake) and continuation or reserved ones (not a message).
var opBad = []frame.Opcode{frame.OpPing, frame.OpPong, frame.OpClose, frame.OpContinuation, 3, 0xB}

// Send(Message), App.Publish, Conn.Broadcast and Conn.BroadcastAll refuse a Message whose opcode is
// not text or binary with ErrBadOpcode, and nothing reaches the peer:
// the next frame it gets is the valid message sent after the refused ones.
func TestSendRefusesControlOpcodes(t *testing.T) {
	errs := make(chan error, 64)
	app, addr := startApp(t, Config{}, func(a *App) {
		a.Route("/r/:room", Handlers{
			Open: func(ws *Conn, ctx *Context) { _ = ws.Join(ctx.Param("room")) },
			Message: func(ws *Conn, m Message) {
				for _, op := range opBad {
					msg := NewMessage(op, []byte("x"))
					errs <- opExpectBad("Send", op, ws.Send(msg))
					errs <- opExpectBad("Send of a zero Message", 0, ws.Send(Message{}))
					errs <- opExpectBad("Broadcast", op, ws.Broadcast("room", msg))
					errs <- opExpectBad("BroadcastAll", op, ws.BroadcastAll("room", msg))
				}
				_ = ws.Send(m) // the echo, after the refused ones
			},
		})
	})
	r := wstest.Dial(t, addr, "/r/room")
	for _, op := range opBad {
		called := false
		err := app.Publish("room", NewMessage(op, []byte("x")), func(PublishResult) { called = true })
		if err := opExpectBad("App.Publish", op, err); err != nil || called {
			t.Error(err)
		}
	}
	r.Send(true, frame.OpText, []byte("echo me"))
	h, p, err := r.ReadFrame()
	if err != nil || h.Op != frame.OpText || !h.Fin || string(p) != "echo me" {
		t.Fatalf("first frame: %v fin %v %q %v, want the text echo and nothing before it", h.Op, h.Fin, p, err)
	}
	for range 4 * len(opBad) {
		if err := recv(t, errs, "the handler's results"); err != nil {
			t.Error(err)
		}
	}
	n := 0
	if err := app.Publish("room", NewMessage(frame.OpBinary, []byte("ok")), func(r PublishResult) { n = r.Delivered }); n != 1 || err != nil {
		t.Fatalf("Publish of a binary Message: %d, %v; want 1, nil", n, err)
	}
	r.ExpectMessage(frame.OpBinary, []byte("ok"))
}

// opExpectBad checks that a send of a Message with opcode op was refused with ErrBadOpcode.
func opExpectBad(what string, op frame.Opcode, err error) error {
	if !errors.Is(err, ErrBadOpcode) {
		return fmt.Errorf("%s of a Message with opcode %v: %v, want ErrBadOpcode", what, op, err)
	}
	return nil
}
