// Command limits is the seed's connection-limit example: at most maxMembers connections per room.
// A client connects to /limits/:room and gets {"type":"joined","room":R,"members":N,"max":3}; the
// client that would be one too many gets the seed's text message "Room is full" and then a close
// frame with 1013 (try again later) "room is full". A place freed by a client that leaves can be
// taken by the next one. Rooms are limited separately.
//
// The limit is RouteOptions.MaxRoomMembers (Config.MaxRoomMembers for every route): the engine
// checks it atomically inside Join, so concurrent joins never overshoot it, and Join answers
// engine.ErrRoomFull at the cap.
//
//	go run ./examples/limits
//	websocat ws://localhost:3000/limits/small
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/openspeed/wsd/engine"
)

// maxMembers is the per-room connection limit.
const maxMembers = 3

type joined struct {
	Type    string `json:"type"`
	Room    string `json:"room"`
	Members int    `json:"members"`
	Max     int    `json:"max"`
}

// newApp builds the example's server.
func newApp(cfg engine.Config) *engine.App {
	app := engine.New(cfg)
	app.WS("/limits/:room", func(ws *engine.Conn, ctx *engine.Context) {
		room := ctx.Param("room")
		if err := ws.Join(room); err != nil {
			if errors.Is(err, engine.ErrRoomFull) {
				_ = ws.SendText("Room is full")
			}
			_ = ws.Close(engine.CloseTryAgainLater, "room is full")
			return
		}
		_ = ws.Send(joined{Type: "joined", Room: room, Members: app.Count(room), Max: maxMembers})
	}, engine.RouteOptions{MaxRoomMembers: maxMembers})
	return app
}

func main() {
	addr := flag.String("addr", ":3000", "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp(engine.Config{}).Run(ctx, *addr, 5*time.Second); err != nil {
		log.Print(err)
	}
}
