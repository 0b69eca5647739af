// Command broadcast is the broadcasting example of the TypeScript plugin's documentation: a client of
// /broadcast sends
//
//	{"type":"announce","message":"..."}
//
// and the handler does what the plugin's does, both of
//
//	ws.Broadcast(ws.Room(), message)      the plugin's ws.broadcast: every member of the room but the sender
//	ws.BroadcastAll(ws.Room(), message)   the plugin's ws.broadcastAll: every member, the sender too
//
// so the other members get the message twice, once from each, and the sender once. The message goes
// out as a text message, encoded once for the whole room each time.
//
// The plugin's example leaves open which room ws.room is on /broadcast; here a client joins the room
// named by ?room= when it connects, "general" by default. When the event carries an "id", the sender
// then gets the acknowledgement {"type":"ack","id":<id>,"data":{"broadcast":N,"broadcastAll":M}} with
// the number of connections each call queued the message for (after its own copy). An announce
// without a string "message" is answered {"error":"announce needs a \"message\" string"}.
//
//	go run ./examples/broadcast
//	websocat 'ws://localhost:3000/broadcast?room=news'
//	{"type":"announce","message":"hello","id":1}
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

// announce is the event as the client sends it.
type announce struct {
	Message string `json:"message"`
}

// delivered is the acknowledgement's data: how many connections each call reached.
type delivered struct {
	Broadcast    int `json:"broadcast"`
	BroadcastAll int `json:"broadcastAll"`
}

// failure is an error answer.
type failure struct {
	Error string `json:"error"`
}

// newApp builds the example's server.
func newApp(cfg engine.Config) *engine.App {
	app := engine.New(cfg)
	app.WS("/broadcast", func(ws *engine.Conn, ctx *engine.Context) {
		if err := ws.Join(ctx.QueryDefault("room", "general")); err != nil {
			_ = ws.Send(failure{Error: "Room is full"}) // only with Config.MaxRoomMembers
			_ = ws.Close(engine.CloseNormal, "")
			return
		}
		ws.On("announce", func(e engine.Event) {
			var a announce
			if err := e.Decode(&a); err != nil || !e.Has("message") {
				_ = ws.Send(failure{Error: `announce needs a "message" string`})
				return
			}
			var d delivered
			d.Broadcast, _ = ws.Broadcast(ws.Room(), a.Message)
			d.BroadcastAll, _ = ws.BroadcastAll(ws.Room(), a.Message)
			if e.ID() != nil {
				_ = e.Reply(d)
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
