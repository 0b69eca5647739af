// Command rooms is the seed's room management example, written with route handlers
// (engine.Handlers) shared by every connection instead of per-connection closures.
//
// A client connects to /ws?user=NAME[&room=R] and starts in room R (default "lobby"). Events:
//
//	{"type":"switch-room","room":"x"}    leave the current room (the others there get
//	                                     {"type":"user-left","user":NAME,"room":OLD}), join x (the others
//	                                     there get {"type":"user-joined","user":NAME,"room":"x"}), and
//	                                     answer {"type":"room-switched","room":"x"}
//	{"type":"message","content":"Hi!"}   sent to every member of the current room, the sender too, as
//	                                     {"type":"message","user":NAME,"room":R,"content":"Hi!"}
//
// A switch-room without a room answers {"type":"error","error":"room required"}. Anything that is not
// one of these events is ignored. Leaving (disconnecting) is announced like a switch away.
//
//	go run ./examples/rooms
//	websocat 'ws://localhost:3000/ws?user=ada'
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

// notice is every JSON message the example sends.
type notice struct {
	Type    string `json:"type"`
	User    string `json:"user,omitempty"`
	Room    string `json:"room,omitempty"`
	Content string `json:"content,omitempty"`
	Error   string `json:"error,omitempty"`
}

// newApp builds the example's server.
func newApp(cfg engine.Config) *engine.App {
	app := engine.New(cfg)
	app.Route("/ws", engine.Handlers{
		Open:  open,
		Close: func(ws *engine.Conn, _ engine.CloseInfo) { leave(ws, ws.Room()) },
		Events: map[string]func(*engine.Conn, engine.Event){
			"switch-room": switchRoom,
			"message":     message,
		},
	})
	return app
}

// user is the connection's name, kept with SetData at open.
func user(ws *engine.Conn) string {
	name, _ := ws.Data().(string)
	return name
}

func open(ws *engine.Conn, ctx *engine.Context) {
	ws.SetData(ctx.QueryDefault("user", "Anonymous"))
	join(ws, ctx.QueryDefault("room", "lobby"))
}

func switchRoom(ws *engine.Conn, e engine.Event) {
	room := e.String("room")
	if room == "" {
		_ = ws.Send(notice{Type: "error", Error: "room required"})
		return
	}
	if old := ws.Room(); old != room {
		leave(ws, old)
		if !join(ws, room) {
			return
		}
	}
	_ = ws.Send(notice{Type: "room-switched", Room: room})
}

func message(ws *engine.Conn, e engine.Event) {
	room := ws.Room()
	if room == "" {
		_ = ws.Send(notice{Type: "error", Error: "not in a room"})
		return
	}
	_, _ = ws.BroadcastAll(room, notice{Type: "message", User: user(ws), Room: room, Content: e.String("content")})
}

// join enters room and tells its other members; a full room (when a limit is configured) answers an
// error and leaves the connection in no room.
func join(ws *engine.Conn, room string) bool {
	if err := ws.Join(room); err != nil {
		_ = ws.Send(notice{Type: "error", Error: err.Error()})
		return false
	}
	_, _ = ws.Broadcast(room, notice{Type: "user-joined", User: user(ws), Room: room})
	return true
}

// leave quits room (if the connection is in it) and tells the members who stay.
func leave(ws *engine.Conn, room string) {
	if room == "" {
		return
	}
	_, _ = ws.Broadcast(room, notice{Type: "user-left", User: user(ws), Room: room})
	ws.Leave(room)
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
