package main

import (
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/frame"
)

// roomsRelay is GET /rooms/:room: a raw relay. Every data message a member sends goes unchanged (same
// opcode) to every other member of the room. Shared handlers: no closure per connection.
func roomsRelay(opts engine.RouteOptions) engine.Handlers {
	return engine.Handlers{
		Open: func(ws *engine.Conn, ctx *engine.Context) {
			if err := ws.Join(ctx.Param("room")); err != nil {
				_ = ws.Close(engine.CloseTryAgainLater, err.Error())
			}
		},
		Message: func(ws *engine.Conn, m engine.Message) {
			_, _ = ws.Broadcast(ws.Room(), m)
		},
		Options: opts,
	}
}

// chatLine is one chat message as the chat route sends it.
type chatLine struct {
	User    string `json:"user"`
	Message string `json:"message"`
}

// chat is GET /chat/:room?user=: the seed's chat application. Joining and leaving are announced to the
// others as text; messages go to everyone (the sender too) as JSON {"user","message"}.
func chat(ws *engine.Conn, ctx *engine.Context) {
	room, name := ctx.Param("room"), ctx.QueryDefault("user", "Anonymous")
	if u, ok := ws.Data().(*user); ok {
		name = u.ID // an authenticated user speaks under its token's subject
	}
	if err := ws.Join(room); err != nil {
		_ = ws.SendText("Room is full")
		_ = ws.Close(engine.CloseTryAgainLater, "room is full")
		return
	}
	_, _ = ws.Broadcast(room, name+" joined the room")
	ws.OnMessage(func(m engine.Message) {
		_, _ = ws.BroadcastAll(ws.Room(), chatLine{User: name, Message: m.Text()})
	})
	ws.OnClose(func(engine.CloseInfo) {
		_, _ = ws.Broadcast(ws.Room(), name+" left the room")
	})
}

// listRooms is GET /rooms: every live room with its connection count.
func listRooms(app *engine.App) engine.HandlerFunc {
	return func(ctx *engine.Context) error {
		return ctx.JSON(http.StatusOK, app.Rooms())
	}
}

// roomInfo is GET /rooms/:room/info: {"room","connections","messages":[...]}. A room nobody is in
// answers with 0 connections and no messages.
func roomInfo(app *engine.App) engine.HandlerFunc {
	return func(ctx *engine.Context) error {
		info, err := app.RoomInfo(ctx.Param("room"))
		if err != nil && !errors.Is(err, engine.ErrNoRoom) {
			return err
		}
		return ctx.JSON(http.StatusOK, info)
	}
}

// publish is POST /rooms/:room/publish: the request body goes to every member of the room, as text when
// it is valid UTF-8 and as binary otherwise. It answers {"room","delivered"}.
func publish(app *engine.App) engine.HandlerFunc {
	return func(ctx *engine.Context) error {
		body := ctx.Body()
		op := frame.OpText
		if !utf8.Valid(body) {
			op = frame.OpBinary
		}
		n := app.PublishFrame(ctx.Param("room"), op, body)
		return ctx.JSON(http.StatusOK, map[string]any{"room": ctx.Param("room"), "delivered": n})
	}
}
