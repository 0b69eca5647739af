// Command chat is the chat application of the TypeScript plugin's documentation: clients connect to
// /chat/:room?user=NAME and talk to the others in the same room.
//
//   - On connect the client joins the room, and the others there get the text "<user> joined the
//     room". The user is "Anonymous" without ?user=.
//   - A message goes to the others in the room, not back to the sender (ws.Broadcast, the plugin's
//     ws.broadcast), as the JSON {"user":"<user>","message":"<text>","timestamp":"<time>"}, the time in
//     UTC as JavaScript's toISOString writes it (2026-12-05T13:07:08.777Z). The event
//     {"type":"message","content":"Hello!"} is a message with that content; any other text (another
//     "type" included) is a message as written.
//   - The event {"type":"join-room","room":"<name>"} leaves the current room (the others there get
//     "<user> left the room"), joins the new one (the others there get "<user> joined the room") and
//     answers the text "Switched to room: <name>". A join-room to the current room only answers; one
//     without a room is answered {"error":"Room required"}.
//   - /chat, without a room (the plugin's client snippet connects there), accepts the client in no
//     room until its first join-room; a message before it is answered {"error":"Join a room first"}.
//   - When the client disconnects, the others in its room get "<user> left the room".
//   - With a member limit (Config.MaxRoomMembers), a client that connects to a full room gets
//     {"error":"Room is full"} and a close (1000, as the plugin's ws.close()); a join-room to a full
//     room gets the same error and leaves the client in no room, as leaving then joining does.
//
// The handlers are registered per connection, in the plugin's style (ws.OnMessage, ws.On,
// ws.OnClose); examples/rooms shows the same kind of server with handlers shared by every connection.
// A client that negotiates the "msgpack" subprotocol gets the JSON values as MessagePack.
//
//	go run ./examples/chat
//	websocat 'ws://localhost:3000/chat/general?user=ada'
//	{"type":"join-room","room":"random"}
package main

import (
	"cmp"
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/openspeed/wsd/engine"
)

// chatLine is one chat message as the others receive it.
type chatLine struct {
	User      string `json:"user"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
}

// failure is an error answer.
type failure struct {
	Error string `json:"error"`
}

// isoTime formats t as JavaScript's Date.prototype.toISOString: UTC, milliseconds, "Z".
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// newApp builds the example's server.
func newApp(cfg engine.Config) *engine.App {
	app := engine.New(cfg)
	app.WS("/chat/:room", chat)
	app.WS("/chat", chat) // no :room, so ctx.Param("room") is "" and the client starts in no room
	return app
}

// chat runs for each new connection (the plugin's open handler) and registers its callbacks.
func chat(ws *engine.Conn, ctx *engine.Context) {
	user := cmp.Or(ctx.Query("user"), "Anonymous")
	if room := ctx.Param("room"); room != "" && !enter(ws, room, user) {
		ws.Close() // the plugin's ws.close()
		return
	}
	say := func(text string) {
		room := ws.Room()
		if room == "" {
			_ = ws.Send(failure{Error: "Join a room first"})
			return
		}
		_ = ws.Broadcast(room, chatLine{User: user, Message: text, Timestamp: isoTime(time.Now())})
	}
	ws.OnMessage(func(m engine.Message) {
		if text, ok := content(ws, m); ok {
			say(text)
			return
		}
		say(m.Text())
	})
	ws.On("join-room", func(e engine.Event) {
		room, old := e.String("room"), ws.Room()
		switch {
		case room == "":
			_ = ws.Send(failure{Error: "Room required"})
			return
		case room != old:
			if old != "" {
				ws.Leave(old)
				_ = ws.Broadcast(old, user+" left the room") // ws is no longer a member: "the others"
			}
			if !enter(ws, room, user) {
				return // now in no room, as the plugin's leave-then-join leaves it
			}
		}
		_ = ws.Send("Switched to room: " + room)
	})
	ws.OnClose(func(engine.CloseInfo) {
		// The close handler runs before the engine removes the connection from its rooms.
		if room := ws.Room(); room != "" {
			_ = ws.Broadcast(room, user+" left the room")
		}
	})
}

// content reads {"type":"message","content":"..."}. "message" names the message handler (the plugin's
// ws.on('message')), not a custom event, so the message handler reads it: a JSON text message, or
// on a msgpack connection a MessagePack binary one, as the engine reads events.
func content(ws *engine.Conn, m engine.Message) (string, bool) {
	var ev struct {
		Type    string `json:"type"`
		Content string `json:"content"`
	}
	err := ws.Decode(m, &ev)
	return ev.Content, err == nil && ev.Type == "message"
}

// enter joins room and tells the others there. With a member limit (Config.MaxRoomMembers) a full
// room is answered {"error":"Room is full"} and enter reports false.
func enter(ws *engine.Conn, room, user string) bool {
	if err := ws.Join(room); err != nil {
		_ = ws.Send(failure{Error: "Room is full"})
		return false
	}
	_ = ws.Broadcast(room, user+" joined the room")
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
