package engine

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestSmokeEcho(t *testing.T) {
	app := New(Config{Loops: 2})
	app.WS("/echo", func(ws *Conn, ctx *Context) {
		ws.OnMessage(func(m Message) { _ = ws.SendMessage(m) })
	})
	if err := app.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer app.Shutdown(context.Background())
	c, _, err := websocket.DefaultDialer.Dial("ws://"+app.Addr().String()+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := 0; i < 3; i++ {
		if err := c.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
			t.Fatal(err)
		}
		mt, p, err := c.ReadMessage()
		if err != nil || mt != websocket.TextMessage || string(p) != "hello" {
			t.Fatal(mt, string(p), err)
		}
	}
}
