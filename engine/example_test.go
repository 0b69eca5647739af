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

// A client that reconnects rejoins its room from the position of the last publication it received
// and gets everything it missed, in order, before any later publication. Here the route wraps
// publications with their offset (RouteOptions.Render) and a "join" message carries the position.
func Example_recovery() {
	app := engine.New(engine.Config{})
	app.Route("/r/:room", engine.Handlers{
		Open: func(ws *engine.Conn, ctx *engine.Context) {
			var since engine.Position
			fmt.Sscanf(ctx.Query("since"), "%d", &since.Offset)
			since.Epoch = ctx.Query("epoch")
			ws.JoinFrom(ctx.Param("room"), since, func(rec engine.Recovery, err error) {
				_ = ws.Send(fmt.Sprintf("joined at %d, recovered %v, missed %d", rec.Position.Offset, rec.Recovered, rec.Missed))
			})
		},
		Options: engine.RouteOptions{Render: func(dst []byte, p engine.Publication) ([]byte, engine.Opcode) {
			return fmt.Appendf(dst, "%d %s", p.Position.Offset, p.Message.Data()), engine.OpText
		}},
	})
	if err := app.Start("127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer app.Shutdown(context.Background())
	url := "ws://" + app.Addr().String() + "/r/news"
	read := func(c *websocket.Conn) string { _, b, _ := c.ReadMessage(); return string(b) }

	c, _, _ := websocket.DefaultDialer.Dial(url, nil)
	fmt.Println(read(c))
	var pos engine.Position
	_ = app.Publish("news", "first", func(r engine.PublishResult) { pos = r.Position })
	fmt.Println(read(c))
	_ = c.Close() // gone: it received offset 1

	_ = app.Publish("news", "second", nil) // missed
	_ = app.Publish("news", "third", nil)  // missed
	c, _, _ = websocket.DefaultDialer.Dial(fmt.Sprintf("%s?since=%d&epoch=%s", url, pos.Offset, pos.Epoch), nil)
	defer c.Close()
	fmt.Println(read(c))
	fmt.Println(read(c))
	fmt.Println(read(c))
	// Output:
	// joined at 0, recovered false, missed 0
	// 1 first
	// 2 second
	// 3 third
	// joined at 3, recovered true, missed 2
}
