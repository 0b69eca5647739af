package engine

import (
	"errors"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/rooms"
)

// Errors of the room methods.
var (
	// ErrRoomFull: Join of a room that has reached its member limit.
	ErrRoomFull = rooms.ErrFull
	// ErrRoomName: a room name that is empty, longer than Config.MaxRoomName bytes, or not UTF-8.
	ErrRoomName = rooms.ErrName
)

// Position is a place in a room's stream: the offset of a publication (contiguous per room: 1, 2,
// 3, ...; 0 is "before the first") and the epoch of the stream, which changes whenever the room's
// history could have been lost (a restart of the node that kept it, the room forgotten after its
// history expired, a purged cluster stream). A client that remembers the Position of the last
// publication it received can rejoin with Conn.JoinFrom and miss nothing.
type Position = rooms.Position

// Recovery is the outcome of Conn.JoinFrom: whether every publication after the position was replayed,
// the room's position at the join, how many were replayed, and why recovery failed.
type Recovery = rooms.Recovery

// PublishResult is what a publication got: its Position, and how many connections of this node it was
// queued for.
type PublishResult = rooms.PubResult

// Publication is a room publication as a route's Render sees it.
type Publication struct {
	Room     string
	Position Position
	// Message is the publication as published (for a structured value, in the codec of the members
	// being rendered for). Its bytes are valid only during the call.
	Message Message
	// Presence, instead of a message, is a connection that joined (Joined) or left the room, for
	// routes with RouteOptions.PresenceEvents (it has no Position).
	Presence *Client
	Joined   bool
}

// renderHook is a route's Render and whether it renders presence events.
type renderHook struct {
	fn       func(dst []byte, p Publication) ([]byte, Opcode)
	presence bool
}

// Client is a connection as presence lists it: its user (Conn.SetUser) and its id (Conn.ID).
type Client = rooms.Client

// Presence lists the connections in room whose route has RouteOptions.Presence: on this node, and on
// the other nodes with a Broker (eventually consistent), sorted by user. Safe from any goroutine.
func (a *App) Presence(room string) []Client { return a.table.Presence(room) }

// Join adds the connection to room; it receives every publication of the room from then on. Joining a
// room it is in does nothing. It returns ErrRoomFull when the room is at its member limit
// (RouteOptions.MaxRoomMembers / Config.MaxRoomMembers; concurrent joins never exceed it), ErrRoomName
// for an invalid name, and ErrClosed once the connection is closing. Safe from any goroutine.
func (c *Conn) Join(room string) error {
	if c.ReadyState() != StateOpen {
		return ErrClosed
	}
	t := c.loop.app.table
	if _, err := t.Join(room, member{c}, c.route.roomOpts); err != nil {
		return err
	}
	return c.undoIfClosed(room)
}

// undoIfClosed undoes a join that raced the connection's close: the loop marks the connection closed
// and then leaves all its rooms, so a join that finds it closed after inserting undoes itself.
func (c *Conn) undoIfClosed(room string) error {
	if c.ReadyState() == StateClosed {
		c.loop.app.table.Leave(room, member{c})
		return ErrClosed
	}
	return nil
}

// JoinFrom joins room and, before any later publication, sends the connection every publication after
// since that the room's history still holds, in order — or, when it no longer holds them all (or since
// is from another epoch), none: the connection then joins from the room's current position and the
// Recovery says why. The zero Position joins from now (the Recovery then only reports the room's
// position: every publication after it reaches the connection). done runs once, on the connection's
// loop, with the outcome (or the join's error,
// as for Join); with a cluster broker that sequences, it may run after JoinFrom returned, once the
// cluster's history has been read. Safe from any goroutine.
func (c *Conn) JoinFrom(room string, since Position, done func(Recovery, error)) {
	if c.ReadyState() != StateOpen {
		done(Recovery{}, ErrClosed)
		return
	}
	t := c.loop.app.table
	t.JoinFrom(room, member{c}, c.route.roomOpts, since, func(rec Recovery, err error, async bool) {
		if err == nil {
			err = c.undoIfClosed(room)
		}
		if !async {
			done(rec, err)
			return
		}
		c.loop.execute(func() { done(rec, err) })
	})
}

// Leave removes the connection from room; it reports whether it was a member. Safe from any goroutine.
func (c *Conn) Leave(room string) bool {
	return c.loop.app.table.Leave(room, member{c})
}

// Room is the room the connection joined last among those it is still in ("" when none): the
// plugin's ws.room. Safe from any goroutine.
func (c *Conn) Room() string { return c.loop.app.table.LastRoom(member{c}) }

// Rooms lists the rooms the connection is in, in join order. Safe from any goroutine.
func (c *Conn) Rooms() []string { return c.loop.app.table.RoomsOf(member{c}) }

// Broadcast publishes v (encoded once, as for Send) to every member of room except this connection:
// the plugin's ws.broadcast. Safe from any goroutine.
func (c *Conn) Broadcast(room string, v any) error {
	return c.loop.app.publish(room, v, c, nil)
}

// BroadcastAll publishes v to every member of room, this connection included: the plugin's
// ws.broadcastAll. Safe from any goroutine.
func (c *Conn) BroadcastAll(room string, v any) error {
	return c.loop.app.publish(room, v, nil, nil)
}

// Publish sends v (a string as text, a []byte as binary, a Message with its opcode, any other value
// encoded with each member's codec) to every member of room, on every node with a Broker, encoded
// once, and records it in the room's history. Every member receives the room's publications in the
// same order. done, when not nil, runs once with the publication's Position and how many connections
// of this node it was queued for: before Publish returns on a single node, on a broker goroutine when a
// cluster broker sequences. It returns an error (and done does not run) for an invalid room name, a
// control opcode, or a value the codec cannot encode. The slow-consumer policy may still drop it for a
// member whose backlog is over MaxBackpressure. Safe from any goroutine.
func (a *App) Publish(room string, v any, done func(PublishResult)) error {
	return a.publish(room, v, nil, done)
}

func (a *App) publish(room string, v any, skip *Conn, done func(PublishResult)) error {
	if err := a.table.CheckName(room); err != nil {
		return err
	}
	p := a.table.NewPub(room)
	if err := a.encode(p, v); err != nil {
		p.Release()
		return err
	}
	if skip != nil {
		a.table.Skip(p, member{skip})
	}
	if done != nil {
		p.OnDone(done)
	}
	a.table.Publish(p)
	return nil
}

// encode sets p's frames for v: strings, bytes and Messages once, any other value once per codec in use
// (JSON always; MessagePack when a connection negotiated it, or any node may have one).
func (a *App) encode(p *rooms.Pub, v any) error {
	switch v := v.(type) {
	case string:
		p.Main = a.rawFrame(frame.OpText, stringBytes(v))
	case []byte:
		p.Main = a.rawFrame(frame.OpBinary, v)
	case Message:
		if op := v.Opcode(); op != frame.OpText && op != frame.OpBinary {
			return ErrBadOpcode
		}
		p.Main = a.rawFrame(v.Opcode(), v.Data())
	default:
		return a.encodeValue(p, v)
	}
	return nil
}

// encodeValue encodes a structured value in JSON (Main) and, when needed, MessagePack (Alt).
func (a *App) encodeValue(p *rooms.Pub, v any) error {
	for i, c := range codecs {
		if i > 0 && a.codecConns[i].Load() == 0 && a.cfg.Broker == nil {
			continue // nobody here needs it (with a broker, other nodes may)
		}
		buf := a.frames.Buffer()
		b, err := c.Append(buf.B, v)
		if err != nil {
			a.bufs.Put(buf)
			return err
		}
		buf.B = b
		f := a.frames.Finish(buf, codecOpcode(c))
		if i == 0 {
			p.Main = f
		} else {
			p.Alt = f
		}
	}
	return nil
}

// rawFrame copies payload into a shared frame holding one reference.
func (a *App) rawFrame(op frame.Opcode, payload []byte) *rooms.Frame {
	buf := a.frames.Buffer()
	buf.B = append(buf.B, payload...)
	return a.frames.Finish(buf, op)
}

// Count is the number of connections in room: on this server, plus on the other nodes when a Broker is
// configured (eventually consistent). Safe from any goroutine.
func (a *App) Count(room string) int { return a.table.Count(room) }

// LocalCount is the number of connections in room on this server. Safe from any goroutine.
func (a *App) LocalCount(room string) int { return a.table.LocalCount(room) }

// RoomCount is a room and its number of connections.
type RoomCount = rooms.RoomCount

// Rooms lists the rooms with members (cluster-wide with a Broker) and their member counts, sorted by
// name. Safe from any goroutine.
func (a *App) Rooms() []RoomCount { return a.table.List() }

// Position is the current position of room's stream on this node (the zero Position when the room
// has neither members nor history here). Safe from any goroutine.
func (a *App) Position(room string) Position { return a.table.Position(room) }

// RoomMessage is one publication of a room's history.
type RoomMessage struct {
	Offset uint64    `json:"offset"`
	Text   string    `json:"text,omitempty"`   // a text message
	Binary []byte    `json:"binary,omitempty"` // a binary message (base64 in JSON)
	At     time.Time `json:"at"`
}

// RoomInfo describes a room: its connection count (cluster-wide with a Broker), its position and the
// publications its history holds on this node.
type RoomInfo struct {
	Room        string        `json:"room"`
	Connections int           `json:"connections"`
	Offset      uint64        `json:"offset"`
	Epoch       string        `json:"epoch,omitempty"`
	Messages    []RoomMessage `json:"messages"`
}

// ErrNoRoom is returned by RoomInfo for a room that has no members and no history.
var ErrNoRoom = errors.New("engine: no such room")

// RoomInfo returns room's connection count, position, and the last limit publications of its history
// after offset after (limit <= 0: all it holds). Safe from any goroutine.
func (a *App) RoomInfo(room string, after uint64, limit int) (RoomInfo, error) {
	info := RoomInfo{Room: room, Connections: a.table.Count(room), Messages: []RoomMessage{}}
	found := a.table.History(room, after, limit, func(pos Position, es []rooms.HistoryEntry) {
		info.Offset, info.Epoch = pos.Offset, pos.Epoch
		for _, e := range es {
			m := RoomMessage{Offset: e.Offset, At: e.At}
			if e.Main.Opcode() == frame.OpText {
				m.Text = string(e.Main.Payload())
			} else {
				m.Binary = append([]byte(nil), e.Main.Payload()...)
			}
			info.Messages = append(info.Messages, m)
		}
	})
	if !found && info.Connections == 0 {
		return info, ErrNoRoom
	}
	return info, nil
}
