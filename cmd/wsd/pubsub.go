package main

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/openspeed/wsd/engine"
)

// pubsub is GET /ws: a JSON pub/sub protocol with recovery (docs/protocol.md). A client sends
//
//	{"type":"join","room":"r","id":1}                                   join a room
//	{"type":"join","room":"r","since":{"offset":41,"epoch":"E"},"id":1} rejoin, recovering what it missed
//	{"type":"leave","room":"r","id":2}                                  leave it
//	{"type":"publish","room":"r","data":<any JSON>,"id":3}              publish to a room it is in
//	{"type":"presence","room":"r","id":4}                               list who is in a room it is in
//
// and receives {"type":"message","room":"r","offset":42,"data":<the published JSON, as sent>} for
// every publication in its rooms (its own included), {"type":"ack","id":..,"data":{...}} for a
// request with an "id", {"type":"error","error":"...","id":..} for a refused one, and, when
// pubsub.presence_events is on, {"type":"presence","room":"r","event":"join"|"leave","client":{...}}.
// The handlers are shared by every connection of the route.
type pubsub struct {
	app      *engine.App
	maxRooms int
}

// pubsubRoute returns the route's handlers; the route speaks JSON only. Every publication of a room
// reaches its /ws members in the message envelope (renderMessage), whatever route published it.
func pubsubRoute(app *engine.App, c PubSubConfig, opts engine.RouteOptions) engine.Handlers {
	p := &pubsub{app: app, maxRooms: c.MaxRooms}
	opts.Render = renderMessage
	opts.Presence, opts.PresenceEvents = true, c.PresenceEvents
	return engine.Handlers{
		Open:    p.open,
		Message: p.unknown,
		Events: map[string]func(*engine.Conn, engine.Event){
			"join": p.join, "leave": p.leave, "publish": p.publish, "presence": p.presence,
		},
		Options: opts,
	}
}

// open names the connection in presence: the token's subject, else ?user=.
func (p *pubsub) open(ws *engine.Conn, ctx *engine.Context) {
	if u, _ := ws.Data().(*user); u != nil {
		ws.SetUser(u.ID)
		return
	}
	ws.SetUser(chatName(cmp.Or(ctx.Query("user"), "")))
}

// roomAck is the "data" of the acknowledgements of join, leave and publish.
type roomAck struct {
	Room      string `json:"room"`
	Offset    uint64 `json:"offset"`
	Epoch     string `json:"epoch,omitempty"`
	Recovered *bool  `json:"recovered,omitempty"` // join with "since"
	Missed    *int   `json:"missed,omitempty"`    // join with "since", recovered
	Reason    string `json:"reason,omitempty"`    // join with "since", not recovered
	Delivered *int   `json:"delivered,omitempty"` // publish: connections of this node it was queued for
}

// since is a join's "since" position.
type since struct {
	Since *engine.Position `json:"since"`
}

func (p *pubsub) join(ws *engine.Conn, e engine.Event) {
	room, ok := p.roomOf(ws, e)
	if !ok {
		return
	}
	if u, _ := ws.Data().(*user); !u.mayJoin(room) {
		replyError(ws, e, "forbidden: the token does not allow room "+room)
		return
	}
	if rooms := ws.Rooms(); p.maxRooms > 0 && len(rooms) >= p.maxRooms && !slices.Contains(rooms, room) {
		replyError(ws, e, "too many rooms: leave one first")
		return
	}
	var s since
	if err := e.Decode(&s); err != nil {
		replyError(ws, e, `"since" must be {"offset":<number>,"epoch":<string>}`)
		return
	}
	if s.Since == nil {
		s.Since = &engine.Position{} // from now
	}
	asked := e.Detach()
	ws.JoinFrom(room, *s.Since, func(rec engine.Recovery, err error) {
		if err != nil {
			replyError(ws, asked, joinError(err))
			return
		}
		a := roomAck{Room: room, Offset: rec.Position.Offset, Epoch: rec.Position.Epoch}
		if *s.Since != (engine.Position{}) {
			a.Recovered = &rec.Recovered
			if rec.Recovered {
				a.Missed = &rec.Missed
			} else {
				a.Reason = rec.Reason
			}
		}
		ack(asked, a)
	})
}

// joinError is the client's text for a refused join.
func joinError(err error) string {
	switch {
	case errors.Is(err, engine.ErrRoomFull):
		return "room is full"
	case errors.Is(err, engine.ErrRoomName):
		return "invalid room name"
	}
	return err.Error()
}

func (p *pubsub) leave(ws *engine.Conn, e engine.Event) {
	room, ok := p.roomOf(ws, e)
	if !ok {
		return
	}
	if !ws.Leave(room) {
		replyError(ws, e, "not a member of room "+room)
		return
	}
	ack(e, leaveAck{Room: room})
}

// leaveAck is the "data" of the acknowledgement of a leave.
type leaveAck struct {
	Room string `json:"room"`
}

// publish sends the event's "data" to every member of a room the sender is in. The data is copied as
// the client wrote it, not decoded and encoded again; the acknowledgement (after the publication got
// its position, which in a cluster takes a round trip to the stream) carries its offset.
func (p *pubsub) publish(ws *engine.Conn, e engine.Event) {
	room, ok := p.roomOf(ws, e)
	if !ok {
		return
	}
	if !slices.Contains(ws.Rooms(), room) {
		replyError(ws, e, "forbidden: not a member of room "+room)
		return
	}
	data, ok := e.Field("data")
	if !ok {
		replyError(ws, e, "publish needs data")
		return
	}
	asked := e
	if _, hasID := e.Field("id"); hasID {
		asked = e.Detach() // the acknowledgement may come after the handler returned
	}
	err := p.app.Publish(room, engine.NewMessage(engine.OpText, data), func(r engine.PublishResult) {
		if r.Err != nil {
			replyError(ws, asked, "publish failed: "+r.Err.Error())
			return
		}
		n := r.Delivered
		ack(asked, roomAck{Room: room, Offset: r.Position.Offset, Epoch: r.Position.Epoch, Delivered: &n})
	})
	if err != nil {
		replyError(ws, e, "publish failed: "+err.Error())
	}
}

// presenceAck is the "data" of the acknowledgement of a presence request.
type presenceAck struct {
	Room    string          `json:"room"`
	Clients []engine.Client `json:"clients"`
}

// presence answers who is in a room the connection is in.
func (p *pubsub) presence(ws *engine.Conn, e engine.Event) {
	room, ok := p.roomOf(ws, e)
	if !ok {
		return
	}
	if !slices.Contains(ws.Rooms(), room) {
		replyError(ws, e, "forbidden: not a member of room "+room)
		return
	}
	ack(e, presenceAck{Room: room, Clients: p.app.Presence(room)})
}

// unknown answers messages that are not one of the events.
func (p *pubsub) unknown(ws *engine.Conn, m engine.Message) {
	if m.Opcode() != engine.OpText {
		_ = ws.Send(errorReply{Type: "error", Error: "binary messages are not supported: send JSON text"})
		return
	}
	var probe struct {
		Type *string         `json:"type"`
		ID   json.RawMessage `json:"id"`
	}
	if json.Unmarshal(m.Data(), &probe) != nil || probe.Type == nil {
		_ = ws.Send(errorReply{Type: "error", Error: `want a JSON object with a "type": ` + knownTypes,
			ID: probe.ID})
		return
	}
	_ = ws.Send(errorReply{Type: "error", Error: "unknown type " + *probe.Type + ": want " + knownTypes,
		ID: probe.ID})
}

const knownTypes = "join, leave, publish or presence"

// roomOf returns the event's room, or answers an error for a missing or invalid one.
func (p *pubsub) roomOf(ws *engine.Conn, e engine.Event) (string, bool) {
	room := e.String("room")
	switch {
	case room == "":
		replyError(ws, e, `missing "room"`)
		return "", false
	case len(room) > p.app.Config().MaxRoomName:
		replyError(ws, e, "room name too long")
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

func replyError(ws *engine.Conn, e engine.Event, msg string) {
	id, _ := e.Field("id")
	_ = ws.Send(errorReply{Type: "error", Error: msg, ID: id})
}

// ack acknowledges a request that has an "id" ({"type":"ack","id":..,"data":v}).
func ack(e engine.Event, v any) {
	if _, ok := e.Field("id"); ok {
		_ = e.Reply(v)
	}
}

// renderMessage is the /ws route's Render: a publication becomes
// {"type":"message","room":R,"offset":N,"data":D} where D is the payload when it is JSON text, a JSON
// string for other text, and a binary payload is {"type":"message","room":R,"offset":N,"binary":
// "<base64>"}; a presence change becomes {"type":"presence","room":R,"event":"join"|"leave",
// "client":{"user":U,"conn":C}}.
func renderMessage(dst []byte, p engine.Publication) ([]byte, engine.Opcode) {
	room, _ := json.Marshal(p.Room) // a string always encodes
	if p.Presence != nil {
		ev := "leave"
		if p.Joined {
			ev = "join"
		}
		client, _ := json.Marshal(p.Presence)
		dst = append(dst, `{"type":"presence","room":`...)
		dst = append(dst, room...)
		dst = append(dst, `,"event":"`+ev+`","client":`...)
		dst = append(dst, client...)
		return append(dst, '}'), engine.OpText
	}
	dst = append(dst, `{"type":"message","room":`...)
	dst = append(dst, room...)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendUint(dst, p.Position.Offset, 10)
	data := p.Message.Data()
	switch {
	case p.Message.Opcode() == engine.OpBinary:
		dst = append(dst, `,"binary":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, data)
		dst = append(dst, '"')
	case json.Valid(data):
		dst = append(dst, `,"data":`...)
		dst = append(dst, data...)
	case utf8.Valid(data):
		s, _ := json.Marshal(string(data))
		dst = append(dst, `,"data":`...)
		dst = append(dst, s...)
	}
	return append(dst, '}'), engine.OpText
}
