// Command chat is the seed's chat application: clients connect to /chat/:room?user=NAME and talk to
// everyone in the same room.
//
//   - On connect the client joins the room and the others there get "<user> joined the room".
//
//   - Every message is sent to everyone in the room, the sender too (BroadcastAll), as the JSON
//     {"user": "<user>", "message": "<text>"}.
//
//   - The custom event {"type": "join-room", "room": "<name>"} moves the client: it leaves its room
//     (the others there get "<user> left the room") and joins the new one (the others there get
//     "<user> joined the room"). A message that is not such an event (any other "type" included) is
//     a chat message.
//
//   - When the client disconnects, the others in its room get "<user> left the room".
//
//     go run ./examples/chat
//     websocat 'ws://localhost:3000/chat/general?user=ada'
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

// chatLine is one chat message as it is broadcast.
type chatLine struct {
	User    string `json:"user"`
	Message string `json:"message"`
}

// newApp builds the example's server.
func newApp(cfg engine.Config) *engine.App {
	app := engine.New(cfg)
	app.WS("/chat/:room", chat)
	return app
}

// chat runs for each new connection (the seed's open handler) and registers its callbacks.
func chat(ws *engine.Conn, ctx *engine.Context) {
	user := ctx.QueryDefault("user", "Anonymous")
	if !enter(ws, ctx.Param("room"), user) {
		return
	}
	ws.OnMessage(func(m engine.Message) {
		_, _ = ws.BroadcastAll(ws.Room(), chatLine{User: user, Message: m.Text()})
	})
	ws.On("join-room", func(e engine.Event) {
		room := e.String("room")
		old := ws.Room()
		if room == "" || room == old {
			return
		}
		ws.Leave(old)
		_, _ = ws.Broadcast(old, user+" left the room") // ws is no longer a member: "the others"
		enter(ws, room, user)
	})
	ws.OnClose(func(engine.CloseInfo) {
		// The close handler runs before the engine removes the connection from its rooms.
		_, _ = ws.Broadcast(ws.Room(), user+" left the room")
	})
}

// enter joins room and tells the others there. A full room (engine.ErrRoomFull, when a member limit
// is configured) gets the seed's "Room is full" answer and a 1013 close.
func enter(ws *engine.Conn, room, user string) bool {
	if err := ws.Join(room); err != nil {
		_ = ws.SendText("Room is full")
		_ = ws.Close(engine.CloseTryAgainLater, "room is full")
		return false
	}
	_, _ = ws.Broadcast(room, user+" joined the room")
	return true
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
