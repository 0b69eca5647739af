package main

import (
	"cmp"
	"errors"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/openspeed/wsd/engine"
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
		s.Route("/chat", engine.Handlers{Open: chat, Options: o}) // in no room until the first join-room
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
	User      string `json:"user"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"` // jsTime of when the server sent it
}

// chatError is the chat route's error answer: {"error":"Room is full"}, with the room when the error
// is about one ({"error":"Room is full","room":"r"} for a join-room).
type chatError struct {
	Error string `json:"error"`
	Room  string `json:"room,omitempty"`
}

// The chat route's error texts.
const (
	errRoomFull   = "Room is full"
	errNotAllowed = "Not allowed in this room"
	errNoRoomName = "Room required"
	errRoomName   = "Room name too long"
	errNoRoom     = "Join a room first"
)

// chat is GET /chat/:room?user= and GET /chat?user=: the chat application of the TypeScript plugin's
// documentation.
//
//   - On /chat/:room the connection joins the room and the others there get the text
//     "<user> joined the room". A full room answers {"error":"Room is full"} and closes with 1013.
//     On /chat the connection is in no room until its first join-room.
//   - A message (plain text, or {"type":"message","content":...}, which stands for its content) goes
//     to the others in the room, not back to the sender (the page shows its own lines itself), as
//     JSON {"user","message","timestamp"} (MessagePack on a msgpack connection), the timestamp in UTC
//     as JavaScript's toISOString writes it. In no room it is answered {"error":"Join a room first"}.
//   - {"type":"join-room","room":R} leaves the current room ("<user> left the room" to the others
//     there), joins R ("<user> joined the room" to the others there) and answers the text
//     "Switched to room: R". The join is tried first: when it fails ({"error":...,"room":R}), the
//     connection stays where it was. A join-room to the current room only answers.
//   - Closing announces "<user> left the room" to the others.
func chat(ws *engine.Conn, ctx *engine.Context) {
	room, name := ctx.Param("room"), chatName(cmp.Or(ctx.Query("user"), "Anonymous"))
	u, _ := ws.Data().(*user)
	if u != nil {
		name = u.ID // an authenticated user speaks under its token's subject
	}
	if room != "" {
		if err := ws.Join(room); err != nil {
			_ = ws.Send(chatError{Error: errRoomFull})
			ws.CloseWith(engine.CloseTryAgainLater, "room is full")
			return
		}
		_ = ws.Broadcast(room, name+" joined the room")
	}
	ws.OnMessage(func(m engine.Message) { say(ws, name, chatText(ws, m)) })
	ws.On("join-room", func(e engine.Event) { switchRoom(ws, u, name, e.String("room")) })
	ws.OnClose(func(engine.CloseInfo) {
		if room := ws.Room(); room != "" {
			_ = ws.Broadcast(room, name+" left the room")
		}
	})
}

// say sends a chat line to the others in the connection's room.
func say(ws *engine.Conn, name, text string) {
	room := ws.Room()
	if room == "" {
		_ = ws.Send(chatError{Error: errNoRoom})
		return
	}
	_ = ws.Broadcast(room, chatLine{User: name, Message: text, Timestamp: jsTime(time.Now())})
}

// chatText is the text of a chat line: the "content" of {"type":"message","content":"..."} (read as
// the engine reads events: a JSON text message, or a MessagePack binary one on a msgpack connection),
// else the message as written. "message" names the message handler, not a custom event, so the
// message handler reads it.
func chatText(ws *engine.Conn, m engine.Message) string {
	var ev struct {
		Type    string  `json:"type" msgpack:"type"`
		Content *string `json:"content" msgpack:"content"`
	}
	if err := ws.Decode(m, &ev); err != nil || ev.Type != "message" || ev.Content == nil {
		return m.Text()
	}
	return *ev.Content
}

// jsTime formats t as JavaScript's Date.prototype.toISOString does for years 0-9999: UTC, always
// three fractional digits, "Z" (2026-12-05T13:07:08.777Z).
func jsTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
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

// switchRoom moves a chat connection from its room (if any) to next, announcing it in both.
func switchRoom(ws *engine.Conn, u *user, name, next string) {
	old := ws.Room()
	switch {
	case next == "":
		_ = ws.Send(chatError{Error: errNoRoomName})
		return
	case next == old:
		_ = ws.Send("Switched to room: " + next)
		return
	case !u.mayJoin(next):
		_ = ws.Send(chatError{Error: errNotAllowed, Room: next})
		return
	}
	if err := ws.Join(next); errors.Is(err, engine.ErrRoomName) {
		_ = ws.Send(chatError{Error: errRoomName}) // over max_room_name bytes, or not UTF-8
		return
	} else if err != nil {
		_ = ws.Send(chatError{Error: errRoomFull, Room: next})
		return
	}
	if old != "" {
		ws.Leave(old)
		_ = ws.Broadcast(old, name+" left the room")
	}
	_ = ws.Broadcast(next, name+" joined the room")
	_ = ws.Send("Switched to room: " + next)
}
