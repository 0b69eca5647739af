// Command rooms is the room-management example of the TypeScript plugin's documentation, written with
// route handlers (engine.Handlers) shared by every connection instead of closures per connection.
//
// A client connects to /room/:roomId and joins that room: it gets the text "Welcome to room <roomId>!"
// and the others in the room get "A new user joined". Then:
//
//	{"type":"switch-room","room":"x"}   leave the current room, join x (its other members get
//	                                    "A new user joined", as for a client that connects to it) and
//	                                    answer "Switched to room x"
//	anything else                       relayed unchanged (same opcode) to the others in the current
//	                                    room, so a switch shows: messages then reach the new room only
//
// A switch-room without a room is answered {"error":"Room required"}; one to the current room only
// answers. The plugin's example announces arrivals only, so leaving (switching away, disconnecting)
// is not announced. The current room is ws.Room(), the plugin's ws.room. A full room (when
// Config.MaxRoomMembers is set) answers {"error":"Room is full"}: at connect the client is then
// closed, on a switch it is left in no room.
//
//	go run ./examples/rooms
//	websocat ws://localhost:3000/room/lobby
//	{"type":"switch-room","room":"games"}
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

// failure is an error answer.
type failure struct {
	Error string `json:"error"`
}

// newApp builds the example's server.
func newApp(cfg engine.Config) *engine.App {
	app := engine.New(cfg)
	app.Route("/room/:roomId", engine.Handlers{
		Open: open,
		Events: map[string]func(*engine.Conn, engine.Event){
			"switch-room": switchRoom,
		},
		Message: func(ws *engine.Conn, m engine.Message) {
			if room := ws.Room(); room != "" {
				_ = ws.Broadcast(room, m)
			}
		},
	})
	return app
}

func open(ws *engine.Conn, ctx *engine.Context) {
	room := ctx.Param("roomId")
	if !enter(ws, room) {
		ws.Close() // the plugin's ws.close()
		return
	}
	_ = ws.Send("Welcome to room " + room + "!")
}

func switchRoom(ws *engine.Conn, e engine.Event) {
	room := e.String("room")
	if room == "" {
		_ = ws.Send(failure{Error: "Room required"})
		return
	}
	if old := ws.Room(); old != room {
		ws.Leave(old)
		if !enter(ws, room) {
			return
		}
	}
	_ = ws.Send("Switched to room " + room)
}

// enter joins room and tells its other members, or answers {"error":"Room is full"}.
func enter(ws *engine.Conn, room string) bool {
	if err := ws.Join(room); err != nil {
		_ = ws.Send(failure{Error: "Room is full"})
		return false
	}
	_ = ws.Broadcast(room, "A new user joined")
	return true
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
