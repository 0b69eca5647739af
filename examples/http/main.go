// Command http is the "integration with HTTP routes" example of the TypeScript plugin's documentation:
// WebSocket and plain HTTP routes on one port, sharing the room table.
//
//	GET  /rooms/:room          WebSocket relay: every message a member sends goes unchanged (same
//	                           opcode) to every other member of the room
//	GET  /rooms/:room/info     {"room":R,"connections":N,"messages":[{"text":...,"at":...},...]}: the
//	                           live connection count and the room's last 10 messages, oldest first
//	                           (RouteOptions.RoomHistory); a room nobody is in has 0 and []
//	POST /rooms/:room/publish  the request body goes to every member as a text message;
//	                           answers {"room":R,"delivered":N}
//
//	go run ./examples/http
//	websocat ws://localhost:3000/rooms/lobby
//	curl localhost:3000/rooms/lobby/info
//	curl -d 'hello from HTTP' localhost:3000/rooms/lobby/publish
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/openspeed/wsd/engine"
)

// history is how many messages of each room /info shows.
const history = 10

type published struct {
	Room      string `json:"room"`
	Offset    uint64 `json:"offset"`    // its position in the room's stream
	Delivered int    `json:"delivered"` // connections it was queued for
}

// newApp builds the example's server.
func newApp(cfg engine.Config) *engine.App {
	app := engine.New(cfg)
	app.Route("/rooms/:room", engine.Handlers{
		Open: func(ws *engine.Conn, ctx *engine.Context) {
			if err := ws.Join(ctx.Param("room")); err != nil {
				ws.CloseWith(engine.CloseTryAgainLater, "room is full")
			}
		},
		Message: func(ws *engine.Conn, m engine.Message) { _ = ws.Broadcast(ws.Room(), m) },
		Options: engine.RouteOptions{History: engine.HistoryOptions{Size: history}},
	})
	app.GET("/rooms/:room/info", func(ctx *engine.Context) error {
		info, err := app.RoomInfo(ctx.Param("room"), 0, history)
		if err != nil && !errors.Is(err, engine.ErrNoRoom) {
			return err
		}
		return ctx.JSON(http.StatusOK, info)
	})
	app.POST("/rooms/:room/publish", func(ctx *engine.Context) error {
		room := ctx.Param("room")
		var res engine.PublishResult // on a single node, Publish runs its callback before it returns
		if err := app.Publish(room, string(ctx.Body()), func(r engine.PublishResult) { res = r }); err != nil {
			return err
		}
		return ctx.JSON(http.StatusOK, published{Room: room, Offset: res.Position.Offset, Delivered: res.Delivered})
	})
	return app
}

func main() {
	addr := flag.String("addr", ":3000", "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp(engine.Config{}).Run(ctx, *addr); err != nil {
		log.Print(err)
	}
}
