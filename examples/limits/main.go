// Command limits is the connection-limit example of the TypeScript plugin's documentation: at most
// maxMembers (10) connections per room. A client connects to /limited/:room; the one that would be
// the 11th member gets {"error":"Room is full"} and then the close of the plugin's ws.close() (1000,
// no reason; wsd's own /chat closes with 1013, "try again later", which tells a client that retrying
// may work). A place freed by a client that leaves can be taken by the next one. Rooms are limited
// separately.
//
// The plugin's example leaves what an admitted client gets open; here it gets
// {"type":"joined","room":R,"members":N,"max":10}, N counting itself.
//
// The limit is RouteOptions.MaxRoomMembers (Config.MaxRoomMembers for every route): the engine checks
// it atomically inside Join, so concurrent joins never overshoot it, and Join answers
// engine.ErrRoomFull at the cap. Counting the members first and joining after, as a JavaScript
// server on one thread may, would let two clients on two event loops both see 9 and both join.
//
//	go run ./examples/limits
//	websocat ws://localhost:3000/limited/small
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/openspeed/wsd/engine"
)

// maxMembers is the per-room connection limit.
const maxMembers = 10

type joined struct {
	Type    string `json:"type"`
	Room    string `json:"room"`
	Members int    `json:"members"`
	Max     int    `json:"max"`
}

type failure struct {
	Error string `json:"error"`
}

// newApp builds the example's server.
func newApp(cfg engine.Config) *engine.App {
	app := engine.New(cfg)
	app.Route("/limited/:room", engine.Handlers{
		Open: func(ws *engine.Conn, ctx *engine.Context) {
			room := ctx.Param("room")
			if err := ws.Join(room); err != nil { // engine.ErrRoomFull
				_ = ws.Send(failure{Error: "Room is full"})
				ws.Close() // the plugin's ws.close()
				return
			}
			_ = ws.Send(joined{Type: "joined", Room: room, Members: app.Count(room), Max: maxMembers})
		},
		Options: engine.RouteOptions{MaxRoomMembers: maxMembers},
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
