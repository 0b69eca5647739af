package engine

import (
	"context"
	"testing"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

func TestRawSmoke(t *testing.T) {
	app := New(Config{Loops: 1})
	app.WS("/echo", func(ws *Conn, ctx *Context) {
		ws.OnMessage(func(m Message) { _ = ws.SendMessage(m) })
	})
	if err := app.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer app.Shutdown(context.Background())
	r := wstest.Dial(t, app.Addr().String(), "/echo")
	r.Send(false, frame.OpText, []byte("hel"))
	r.Send(true, frame.OpPing, []byte("p"))
	r.Send(true, frame.OpContinuation, []byte("lo"))
	h, p, err := r.ReadFrame()
	if err != nil || h.Op != frame.OpPong || string(p) != "p" {
		t.Fatal(h, p, err)
	}
	r.ExpectMessage(frame.OpText, []byte("hello"))
	r.Send(true, frame.OpText, []byte{0xff})
	r.ExpectClose(frame.CloseInvalidPayload)
	r.CloseHandshake(frame.CloseNormal)
}
