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
	"cmp"
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/openspeed/wsd/engine"
)

// announce is the event as the client sends it.
type announce struct {
	Message string `json:"message"`
}

// announced is the acknowledgement's data: the room both calls published to.
type announced struct {
	Room string `json:"room"`
}

// failure is an error answer.
type failure struct {
	Error string `json:"error"`
}

// newApp builds the example's server.
func newApp(cfg engine.Config) *engine.App {
	app := engine.New(cfg)
	app.WS("/broadcast", func(ws *engine.Conn, ctx *engine.Context) {
		if err := ws.Join(cmp.Or(ctx.Query("room"), "general")); err != nil {
			_ = ws.Send(failure{Error: "Room is full"}) // only with Config.MaxRoomMembers
			ws.Close()
			return
		}
		ws.On("announce", func(e engine.Event) {
			var a announce
			if _, ok := e.Field("message"); e.Decode(&a) != nil || !ok {
				_ = ws.Send(failure{Error: `announce needs a "message" string`})
				return
			}
			room := ws.Room()
			_ = ws.Broadcast(room, a.Message)    // everyone else in the room
			_ = ws.BroadcastAll(room, a.Message) // everyone, the sender too
			if _, ok := e.Field("id"); ok {
				_ = e.Reply(announced{Room: room})
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
	if err := newApp(engine.Config{}).Run(ctx, *addr); err != nil {
		log.Print(err)
	}
}
