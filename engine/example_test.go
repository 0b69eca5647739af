package engine_test

import (
	"cmp"
	"context"
	"fmt"
	"net/http"

	"github.com/gorilla/websocket"
	"github.com/openspeed/wsd/engine"
)

// An echo route in the seed style, a plain HTTP route next to it, and a client talking to both.
func Example() {
	app := engine.New(engine.Config{})
	closed := make(chan engine.CloseInfo, 1)
	app.WS("/echo/:name", func(ws *engine.Conn, ctx *engine.Context) {
		name := cmp.Or(ctx.Query("user"), "Anonymous")
		_ = ws.Send("hello " + name + " from " + ctx.Param("name"))
		ws.OnMessage(func(m engine.Message) { _ = ws.Send(m) })
		ws.OnClose(func(c engine.CloseInfo) { closed <- c }) // runs on the event loop
	})
	app.GET("/healthz", func(ctx *engine.Context) error { return ctx.String(http.StatusOK, "ok") })
	if err := app.Start("127.0.0.1:0"); err != nil {
		panic(err)
	}
	base := app.Addr().String()

	c, _, err := websocket.DefaultDialer.Dial("ws://"+base+"/echo/lobby?user=ada", nil)
	if err != nil {
		panic(err)
	}
	_, greeting, _ := c.ReadMessage()
	fmt.Println(string(greeting))
	_ = c.WriteMessage(websocket.TextMessage, []byte("ping?"))
	_, echo, _ := c.ReadMessage()
	fmt.Println(string(echo))
	_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
	_, _, err = c.ReadMessage() // the server's answering close frame
	fmt.Println(websocket.IsCloseError(err, websocket.CloseNormalClosure))
	_ = c.Close()
	info := <-closed
	fmt.Println("closed:", info.Code, info.Reason)

	resp, err := http.Get("http://" + base + "/healthz")
	if err == nil {
		fmt.Println(resp.Status)
		_ = resp.Body.Close()
	}
	http.DefaultClient.CloseIdleConnections()
	_ = app.Shutdown(context.Background())
	// Output:
	// hello ada from lobby
	// ping?
	// true
	// closed: 1000 normal closure bye
	// 200 OK
}
