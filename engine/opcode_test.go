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

// Send(Message), SendMessage, App.Publish, Conn.Broadcast and Conn.BroadcastAll refuse a Message
// whose opcode is not text or binary with ErrBadOpcode, like SendFrame, and nothing reaches the peer:
// the next frame it gets is the valid message sent after the refused ones.
func TestSendRefusesControlOpcodes(t *testing.T) {
	errs := make(chan error, 64)
	app, addr := bootApp(t, Config{}, func(a *App) {
		a.Route("/r/:room", Handlers{
			Open: func(ws *Conn, ctx *Context) { _ = ws.Join(ctx.Param("room")) },
			Message: func(ws *Conn, m Message) {
				for _, op := range opBad {
					msg := NewMessage(op, []byte("x"))
					errs <- opExpectBad("Send", op, ws.Send(msg))
					errs <- opExpectBad("SendMessage", op, ws.SendMessage(msg))
					n, err := ws.Broadcast("room", msg)
					errs <- opExpectBad("Broadcast", op, err, n)
					n, err = ws.BroadcastAll("room", msg)
					errs <- opExpectBad("BroadcastAll", op, err, n)
				}
				_ = ws.SendMessage(m) // the echo, after the refused ones
			},
		})
	})
	r := wstest.Dial(t, addr, "/r/room")
	for _, op := range opBad {
		n, err := app.Publish("room", NewMessage(op, []byte("x")))
		if err := opExpectBad("App.Publish", op, err, n); err != nil {
			t.Error(err)
		}
	}
	r.Send(true, frame.OpText, []byte("echo me"))
	h, p, err := r.ReadFrame()
	if err != nil || h.Op != frame.OpText || !h.Fin || string(p) != "echo me" {
		t.Fatalf("first frame: %v fin %v %q %v, want the text echo and nothing before it", h.Op, h.Fin, p, err)
	}
	for range 4 * len(opBad) {
		if err := ptRecv(t, errs, "the handler's results"); err != nil {
			t.Error(err)
		}
	}
	if n, err := app.Publish("room", NewMessage(frame.OpBinary, []byte("ok"))); n != 1 || err != nil {
		t.Fatalf("Publish of a binary Message: %d, %v; want 1, nil", n, err)
	}
	r.ExpectMessage(frame.OpBinary, []byte("ok"))
}

// opExpectBad checks that a send of a Message with opcode op was refused with ErrBadOpcode (and, for
// a broadcast, queued for nobody).
func opExpectBad(what string, op frame.Opcode, err error, queued ...int) error {
	if !errors.Is(err, ErrBadOpcode) {
		return fmt.Errorf("%s of a Message with opcode %v: %v, want ErrBadOpcode", what, op, err)
	}
	if len(queued) > 0 && queued[0] != 0 {
		return fmt.Errorf("%s of a Message with opcode %v was queued for %d connections", what, op, queued[0])
	}
	return nil
}
