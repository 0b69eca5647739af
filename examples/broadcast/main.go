// Command broadcast is the seed's broadcasting example: a client in /broadcast/:room?user=NAME sends
//
//	{"type":"announce","message":"..."}              to everyone else in its room (ws.Broadcast)
//	{"type":"announce","message":"...","all":true}   to everyone in its room, itself too (ws.BroadcastAll)
//
// and the recipients get {"type":"announcement","from":NAME,"message":"..."}. The announcement is
// encoded once for the whole room. When the event carries an "id", the sender gets the acknowledgement
// {"type":"ack","id":<id>,"data":{"delivered":N}} with the number of connections it was queued for
// (after the announcement itself when "all" is set).
//
//	go run ./examples/broadcast
//	websocat 'ws://localhost:3000/broadcast/news?user=ada'
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/openspeed/wsd/engine"
)

// announcement is what the recipients get.
type announcement struct {
	Type    string `json:"type"`
	From    string `json:"from"`
	Message string `json:"message"`
}

// delivered is the acknowledgement's data.
type delivered struct {
	Delivered int `json:"delivered"`
}

// announce is the event as the client sends it.
type announce struct {
	Message string `json:"message"`
	All     bool   `json:"all"`
}

// newApp builds the example's server.
func newApp(cfg engine.Config) *engine.App {
	app := engine.New(cfg)
	app.WS("/broadcast/:room", func(ws *engine.Conn, ctx *engine.Context) {
		user := ctx.QueryDefault("user", "Anonymous")
		if err := ws.Join(ctx.Param("room")); err != nil {
			_ = ws.Close(engine.CloseTryAgainLater, "room is full")
			return
		}
		ws.On("announce", func(e engine.Event) {
			var a announce
			if err := e.Decode(&a); err != nil {
				return
			}
			msg := announcement{Type: "announcement", From: user, Message: a.Message}
			send := ws.Broadcast
			if a.All {
				send = ws.BroadcastAll
			}
			n, err := send(ws.Room(), msg)
			if err == nil {
				_ = e.Reply(delivered{n}) // only when the event has an "id"
			}
		})
	})
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
