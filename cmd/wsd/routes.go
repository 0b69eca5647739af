package main

import (
	"github.com/openspeed/wsd/engine"
	"unicode"
	"unicode/utf8"
)

// wsRoutes registers the WebSocket routes the configuration turns on, each with its limit
// overrides; auth (nil: off) guards every upgrade.
func (s *server) wsRoutes(auth *authenticator) {
	opts := func(r *RouteConfig) engine.RouteOptions {
		o := s.cfg.routeOptions(r)
		o.ReleaseContext = true
		if auth != nil {
			o.Upgrade = auth.upgrade
		}
		return o
	}
	rc := &s.cfg.Routes
	if rc.Echo.Enabled {
		s.Route("/echo", engine.Handlers{
			Message: func(ws *engine.Conn, m engine.Message) { _ = ws.Send(m) },
			Options: opts(&rc.Echo),
		})
	}
	if rc.Rooms.Enabled {
		s.Route("/rooms/:room", roomsRelay(opts(&rc.Rooms)))
	}
	if rc.Chat.Enabled {
		o := opts(&rc.Chat)
		o.ReleaseContext = false
		s.Route("/chat/:room", engine.Handlers{Open: chat, Options: o})
	}
	if rc.WS.Enabled {
		o := opts(&rc.WS)
		o.Subprotocols = []string{"json"}
		s.Route("/ws", pubsubRoute(s.App, s.cfg.PubSub, o))
	}
}

// roomsRelay is GET /rooms/:room: a raw relay. Every data message a member sends goes unchanged (same
// opcode) to every other member of the room. Shared handlers: no closure per connection.
func roomsRelay(opts engine.RouteOptions) engine.Handlers {
	return engine.Handlers{
		Open: func(ws *engine.Conn, ctx *engine.Context) {
			if err := ws.Join(ctx.Param("room")); err != nil {
				ws.CloseWith(engine.CloseTryAgainLater, err.Error())
			}
		},
		Message: func(ws *engine.Conn, m engine.Message) {
			_ = ws.Broadcast(ws.Room(), m)
		},
		Options: opts,
	}
}

// chatLine is one chat message as the chat route sends it.
type chatLine struct {
	User    string `json:"user"`
	Message string `json:"message"`
}

// roomEvent answers a join-room event.
type roomEvent struct {
	Type  string `json:"type" msgpack:"type"`
	Room  string `json:"room" msgpack:"room"`
	Error string `json:"error,omitempty" msgpack:"error,omitempty"`
}

// chat is GET /chat/:room?user=: the seed's chat application. Joining and leaving are announced to the
// others as text ("<user> joined the room"); a message (plain text, or the event
// {"type":"message","content":...}) goes to everyone in the room, the sender too, as JSON
// {"user","message"} (MessagePack on a msgpack connection); the event {"type":"join-room","room":...}
// moves the connection to another room and is answered {"type":"joined","room":...}.
func chat(ws *engine.Conn, ctx *engine.Context) {
	room, name := ctx.Param("room"), chatName(ctx.QueryDefault("user", "Anonymous"))
	u, _ := ws.Data().(*user)
	if u != nil {
		name = u.ID // an authenticated user speaks under its token's subject
	}
	if err := ws.Join(room); err != nil {
		_ = ws.Send("Room is full")
		ws.CloseWith(engine.CloseTryAgainLater, "room is full")
		return
	}
	_ = ws.Broadcast(room, name+" joined the room")
	say := func(text string) { _ = ws.BroadcastAll(ws.Room(), chatLine{User: name, Message: text}) }
	ws.OnMessage(func(m engine.Message) { say(m.Text()) })
	ws.On("message", func(e engine.Event) { say(e.String("content")) })
	ws.On("join-room", func(e engine.Event) { switchRoom(ws, u, name, e.String("room")) })
	ws.OnClose(func(engine.CloseInfo) {
		_ = ws.Broadcast(ws.Room(), name+" left the room")
	})
}

// maxChatName bounds a chat user name (in runes).
const maxChatName = 64

// chatName cleans a user name from the query: control characters removed, at most maxChatName runes.
func chatName(s string) string {
	out := make([]rune, 0, min(len(s), maxChatName))
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			continue
		}
		if out = append(out, r); len(out) == maxChatName {
			break
		}
	}
	if len(out) == 0 {
		return "Anonymous"
	}
	return string(out)
}

// switchRoom moves a chat connection from its room to next, announcing it in both.
func switchRoom(ws *engine.Conn, u *user, name, next string) {
	old := ws.Room()
	switch {
	case next == "" || next == old:
		_ = ws.Send(roomEvent{Type: "joined", Room: old})
		return
	case !u.mayJoin(next):
		_ = ws.Send(roomEvent{Type: "error", Room: next, Error: "not allowed in this room"})
		return
	}
	if err := ws.Join(next); err != nil {
		_ = ws.Send(roomEvent{Type: "error", Room: next, Error: "room is full"})
		return
	}
	ws.Leave(old)
	_ = ws.Broadcast(old, name+" left the room")
	_ = ws.Broadcast(next, name+" joined the room")
	_ = ws.Send(roomEvent{Type: "joined", Room: next})
}
