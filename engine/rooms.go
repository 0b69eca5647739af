package engine

import (
	"errors"
	"sort"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/rooms"
)

// ErrRoomFull is returned by Join when the room has reached its member limit.
var ErrRoomFull = rooms.ErrFull

// member is a *Conn as the room table sees it.
type member struct{ c *Conn }

// LoopIndex implements rooms.Member.
func (m member) LoopIndex() int { return m.c.loop.idx }

// Membership implements rooms.Member.
func (m member) Membership() *rooms.Membership[member] { return &m.c.ms }

// fanout queues broadcast frames, one critical section per loop.
type fanout struct{ a *App }

// Deliver implements rooms.Fanout.
func (f fanout) Deliver(loop int, members []member, skip member, hasSkip bool, fs rooms.Frames) int {
	loops := f.a.loopList()
	if loop >= len(loops) {
		return 0
	}
	var s *Conn
	if hasSkip {
		s = skip.c
	}
	return loops[loop].enqueueFrames(members, s, fs)
}

// Join adds the connection to room. Joining a room it is in does nothing. It returns ErrRoomFull when
// the room is at its member limit (RouteOptions.MaxRoomMembers / Config.MaxRoomMembers; the check is
// atomic, concurrent joins never exceed it) and ErrClosed once the connection is closing.
// Safe from any goroutine.
func (c *Conn) Join(room string) error {
	if c.ReadyState() != StateOpen {
		return ErrClosed
	}
	t := c.loop.app.table
	if err := t.Join(room, member{c}, c.route.roomOpts); err != nil {
		return err
	}
	// A Join from another goroutine may race the connection's close: the loop marks the connection
	// closed and then leaves all its rooms, so a Join that finds it closed after inserting undoes itself.
	if c.ReadyState() == StateClosed {
		t.Leave(room, member{c})
		return ErrClosed
	}
	return nil
}

// Leave removes the connection from room; it reports whether it was a member. Safe from any goroutine.
func (c *Conn) Leave(room string) bool {
	return c.loop.app.table.Leave(room, member{c})
}

// Room is the room the connection joined last among those it is still in ("" when none): the
// seed's ws.room. Safe from any goroutine.
func (c *Conn) Room() string { return c.loop.app.table.LastRoom(member{c}) }

// InRoom reports whether the connection is in room. Safe from any goroutine; no allocation.
func (c *Conn) InRoom(room string) bool { return c.loop.app.table.IsMember(room, member{c}) }

// Rooms lists the rooms the connection is in, in join order. Safe from any goroutine.
func (c *Conn) Rooms() []string { return c.loop.app.table.RoomsOf(member{c}) }

// Broadcast sends v (encoded once, as for Send) to every member of room except this connection.
// It returns the number of connections it was queued for. Safe from any goroutine.
func (c *Conn) Broadcast(room string, v any) (int, error) {
	return c.loop.app.publish(room, v, c)
}

// BroadcastAll sends v to every member of room, this connection included. Safe from any goroutine.
func (c *Conn) BroadcastAll(room string, v any) (int, error) {
	return c.loop.app.publish(room, v, nil)
}

// Publish sends v (string: text, []byte: binary, Message: its opcode, which must be text or binary
// (else ErrBadOpcode), else JSON text) to every member of room, encoded once. It returns the number
// of connections it was queued for; the slow-consumer policy may still drop it for a member whose
// backlog is over MaxBackpressure when the queue is written. Safe from any goroutine.
func (a *App) Publish(room string, v any) (int, error) {
	return a.publish(room, v, nil)
}

func (a *App) publish(room string, v any, skip *Conn) (int, error) {
	fs, err := a.encode(v)
	if err != nil {
		return 0, err
	}
	return a.broadcast(room, fs, skip), nil
}

// broadcast delivers encoded frames to room's members here, hands them to the broker, and releases
// the caller's references.
func (a *App) broadcast(room string, fs rooms.Frames, skip *Conn) int {
	n := a.table.Broadcast(room, member{skip}, skip != nil, fs)
	if b := a.cfg.Broker; b != nil {
		b.Publish(room, rooms.Frames{fs[0], fs[1]}) // each node compresses for its own connections
	}
	releaseFrames(fs)
	a.countBroadcast(n)
	return n
}

func (a *App) countBroadcast(n int) {
	if n > 0 {
		a.broadcasts.Add(1)
		a.deliveries.Add(uint64(n))
	}
}

func releaseFrames(fs rooms.Frames) {
	for _, f := range fs {
		if f != nil {
			f.Release(1)
		}
	}
}

// PublishFrame sends a payload with an explicit opcode (frame.OpText or frame.OpBinary) to every member
// of room. Safe from any goroutine.
func (a *App) PublishFrame(room string, op frame.Opcode, payload []byte) int {
	if op != frame.OpText && op != frame.OpBinary {
		return 0
	}
	fs := rooms.Frames{a.rawFrame(op, payload)}
	a.addCompressed(&fs)
	return a.broadcast(room, fs, nil)
}

// encode turns v into shared frames holding one reference each: strings, bytes and Messages once, any
// other value once per codec in use (JSON always; MessagePack when a connection negotiated it).
func (a *App) encode(v any) (rooms.Frames, error) {
	var fs rooms.Frames
	switch v := v.(type) {
	case string:
		fs[0] = a.rawFrame(frame.OpText, stringBytes(v))
	case []byte:
		fs[0] = a.rawFrame(frame.OpBinary, v)
	case Message:
		if !dataOp(v.op) {
			return rooms.Frames{}, ErrBadOpcode
		}
		fs[0] = a.rawFrame(v.op, v.data)
	default:
		if err := a.encodeValue(&fs, v); err != nil {
			return rooms.Frames{}, err
		}
	}
	a.addCompressed(&fs)
	return fs, nil
}

// encodeValue encodes a structured value once per codec in use.
func (a *App) encodeValue(fs *rooms.Frames, v any) error {
	for i, c := range codecs {
		if i > 0 && a.codecConns[i].Load() == 0 && a.cfg.Broker == nil {
			continue // nobody here needs it (with a broker, other nodes may)
		}
		buf := a.frames.Buffer()
		b, err := c.Append(buf.B, v)
		if err != nil {
			a.bufs.Put(buf)
			releaseFrames(*fs)
			return err
		}
		buf.B = b
		fs[i] = a.frames.Finish(buf, codecOpcode(c))
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
func (a *App) Count(room string) int { return a.table.ClusterCount(room) }

// LocalCount is the number of connections in room on this server. Safe from any goroutine.
func (a *App) LocalCount(room string) int { return a.table.Count(room) }

// remoteSink delivers broadcasts from other nodes to this node's members.
type remoteSink struct{ a *App }

// DeliverRemote implements rooms.Inbound. It never publishes back to the broker.
func (s remoteSink) DeliverRemote(room string, variants [][]byte) {
	a := s.a
	var fs rooms.Frames
	for i, w := range variants {
		if i < 2 && w != nil { // compressed variants are made here, for this node's connections
			fs[i] = a.frames.FromWire(w)
		}
	}
	if fs[0] == nil {
		releaseFrames(fs)
		return
	}
	a.addCompressed(&fs)
	n := a.table.Broadcast(room, member{}, false, fs)
	releaseFrames(fs)
	a.countBroadcast(n)
}

// RoomCount is a room and its number of connections.
type RoomCount = rooms.RoomCount

// Rooms lists the live rooms with their member counts (cluster-wide with a Broker), sorted by name.
// Safe from any goroutine.
func (a *App) Rooms() []RoomCount {
	local := a.table.List()
	b := a.cfg.Broker
	if b == nil {
		return local
	}
	counts := b.RemoteRooms()
	for i := range local {
		local[i].Members += counts[local[i].Name]
		delete(counts, local[i].Name)
	}
	for name, n := range counts {
		local = append(local, RoomCount{Name: name, Members: n})
	}
	sort.Slice(local, func(i, j int) bool { return local[i].Name < local[j].Name })
	return local
}

// RoomMessage is one message of a room's history.
type RoomMessage struct {
	Text   string    `json:"text,omitempty"`   // a text message
	Binary []byte    `json:"binary,omitempty"` // a binary message (base64 in JSON)
	At     time.Time `json:"at"`
}

// RoomInfo describes a room: its connection count and, when history is on, its last messages.
type RoomInfo struct {
	Room        string        `json:"room"`
	Connections int           `json:"connections"`
	Messages    []RoomMessage `json:"messages"`
}

// ErrNoRoom is returned by RoomInfo for a room that does not exist (no members).
var ErrNoRoom = errors.New("engine: no such room")

// RoomInfo returns room's connection count and recorded messages. Safe from any goroutine.
func (a *App) RoomInfo(room string) (RoomInfo, error) {
	r := a.table.Lookup(room)
	if r == nil {
		n := a.table.ClusterCount(room)
		if n == 0 {
			return RoomInfo{Room: room, Messages: []RoomMessage{}}, ErrNoRoom
		}
		return RoomInfo{Room: room, Connections: n, Messages: []RoomMessage{}}, nil
	}
	info := RoomInfo{Room: room, Connections: a.table.ClusterCount(room), Messages: []RoomMessage{}}
	for _, e := range r.History() {
		m := RoomMessage{At: e.At}
		if e.Op == frame.OpText {
			m.Text = string(e.Data)
		} else {
			m.Binary = e.Data
		}
		info.Messages = append(info.Messages, m)
	}
	return info, nil
}

// OnDrop sets the handler that runs (on the loop) after one or more messages for this connection were
// dropped by the slow-consumer policy since it last ran. Call it from a handler on the connection's
// loop.
func (c *Conn) OnDrop(fn func()) { c.x().onDrop = fn }

func (c *Conn) fireDrop() {
	if x := c.ext; x != nil && x.onDrop != nil {
		defer c.recoverPanic("drop")
		x.onDrop()
		return
	}
	if fn := c.route.h.Drop; fn != nil {
		defer c.recoverPanic("drop")
		fn(c)
	}
}
