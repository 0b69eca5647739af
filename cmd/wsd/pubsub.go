package main

import (
	"encoding/json"
	"errors"
	"slices"

	"github.com/openspeed/wsd/dispatch"
	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/frame"
)

// maxRoomName caps the length of a room name in the /ws protocol, in bytes.
const maxRoomName = 200

// pubsub is GET /ws: a JSON pub/sub protocol (docs/protocol.md). A client sends
//
//	{"type":"join","room":"r","id":1}      join a room (the JWT rooms claim applies)
//	{"type":"leave","room":"r","id":2}     leave it
//	{"type":"publish","room":"r","data":<any JSON>,"id":3}   publish to a room it is in
//
// and receives {"type":"message","room":"r","data":<the published JSON, as sent>} for every
// publication in its rooms (its own included), {"type":"ack","id":..,"data":{...}} for a request with
// an "id", and {"type":"error","error":"...","id":..} for a refused one. The handlers are shared by
// every connection of the route.
type pubsub struct {
	app      *engine.App
	maxRooms int
}

// pubsubRoute returns the route's handlers; the route speaks JSON only.
func pubsubRoute(app *engine.App, c PubSubConfig, opts engine.RouteOptions) engine.Handlers {
	p := &pubsub{app: app, maxRooms: c.MaxRooms}
	return engine.Handlers{
		Message: p.unknown,
		Events: map[string]func(*engine.Conn, engine.Event){
			"join": p.join, "leave": p.leave, "publish": p.publish,
		},
		Options: opts,
	}
}

// roomAck is the "data" of the acknowledgement of join, leave and publish.
type roomAck struct {
	Room      string `json:"room"`
	Delivered *int   `json:"delivered,omitempty"` // publish: how many connections it was queued for
}

func (p *pubsub) join(ws *engine.Conn, e engine.Event) {
	room, ok := roomOf(ws, e)
	if !ok {
		return
	}
	if u, _ := ws.Data().(*user); !u.mayJoin(room) {
		replyError(ws, e.ID(), "forbidden: the token does not allow room "+room)
		return
	}
	if rooms := ws.Rooms(); p.maxRooms > 0 && len(rooms) >= p.maxRooms && !slices.Contains(rooms, room) {
		replyError(ws, e.ID(), "too many rooms: leave one first")
		return
	}
	if err := ws.Join(room); err != nil {
		msg := err.Error()
		if errors.Is(err, engine.ErrRoomFull) {
			msg = "room is full"
		}
		replyError(ws, e.ID(), msg)
		return
	}
	ack(e, roomAck{Room: room})
}

func (p *pubsub) leave(ws *engine.Conn, e engine.Event) {
	room, ok := roomOf(ws, e)
	if !ok {
		return
	}
	if !ws.Leave(room) {
		replyError(ws, e.ID(), "not a member of room "+room)
		return
	}
	ack(e, roomAck{Room: room})
}

// publish sends {"type":"message","room","data"} to every member of a room the sender is in. The
// data is copied as the client wrote it, not decoded and encoded again; the frame is built once.
func (p *pubsub) publish(ws *engine.Conn, e engine.Event) {
	room, ok := roomOf(ws, e)
	if !ok {
		return
	}
	if !ws.InRoom(room) {
		replyError(ws, e.ID(), "forbidden: not a member of room "+room)
		return
	}
	data, _, ok := e.Codec().Field(e.Raw(), "data")
	if !ok {
		replyError(ws, e.ID(), "publish needs data")
		return
	}
	n := p.app.PublishFrame(room, frame.OpText, appendMessage(nil, room, data))
	ack(e, roomAck{Room: room, Delivered: &n})
}

// unknown answers messages that are not join, leave or publish events.
func (p *pubsub) unknown(ws *engine.Conn, m engine.Message) {
	if !m.IsText() {
		replyError(ws, nil, "binary messages are not supported: send JSON text")
		return
	}
	codec := dispatch.JSON{}
	id, _, _ := codec.Field(m.Data(), "id")
	typ, ok := codec.Type(m.Data())
	if !ok {
		replyError(ws, id, `want a JSON object with a "type": join, leave or publish`)
		return
	}
	replyError(ws, id, "unknown type "+string(typ)+": want join, leave or publish")
}

// roomOf returns the event's room, or answers an error for a missing or overlong one.
func roomOf(ws *engine.Conn, e engine.Event) (string, bool) {
	room := e.String("room")
	switch {
	case room == "":
		replyError(ws, e.ID(), `missing "room"`)
		return "", false
	case len(room) > maxRoomName:
		replyError(ws, e.ID(), "room name too long")
		return "", false
	}
	return room, true
}

// errorReply is {"type":"error","error":"...","id":...}; id is the request's raw "id", when it had one.
type errorReply struct {
	Type  string          `json:"type"`
	Error string          `json:"error"`
	ID    json.RawMessage `json:"id,omitempty"`
}

func replyError(ws *engine.Conn, id []byte, msg string) {
	_ = ws.Send(errorReply{Type: "error", Error: msg, ID: id})
}

// ack acknowledges a request that has an "id" ({"type":"ack","id":..,"data":v}).
func ack(e engine.Event, v any) {
	if e.ID() != nil {
		_ = e.Reply(v)
	}
}

// appendMessage appends the push envelope {"type":"message","room":<room>,"data":<data>}; data is a
// JSON value, copied as is.
func appendMessage(dst []byte, room string, data []byte) []byte {
	quoted, _ := json.Marshal(room) // a string always encodes
	dst = append(dst, `{"type":"message","room":`...)
	dst = append(dst, quoted...)
	dst = append(dst, `,"data":`...)
	dst = append(dst, data...)
	return append(dst, '}')
}
