package engine

import (
	"github.com/openspeed/wsd/dispatch"
	"github.com/openspeed/wsd/frame"
)

// Event is a custom event: a message that is an object with a string "type" field for which a handler
// is registered (ws.On or Handlers.Events). Its bytes are valid until the handler returns.
type Event = dispatch.Event

// Codec indexes (Conn.codec) and the codecs they select.
const (
	codecJSON    = 0
	codecMsgPack = 1
)

// codecs is immutable: the codec of each index.
var codecs = [...]dispatch.Codec{codecJSON: dispatch.JSON{}, codecMsgPack: dispatch.MsgPack{}}

// defaultSubprotocols are offered by routes that do not set RouteOptions.Subprotocols: a client that
// asks for "msgpack" gets MessagePack, "json" (or nothing) gets JSON.
var defaultSubprotocols = []string{"json", "msgpack"}

func codecOpcode(c dispatch.Codec) frame.Opcode {
	if c.Binary() {
		return frame.OpBinary
	}
	return frame.OpText
}

// connEvent and routeEvent keep the registered type string so dispatch needs no allocation.
type connEvent struct {
	typ string
	fn  func(Event)
}

type routeEvent struct {
	typ string
	fn  func(*Conn, Event)
}

// On registers fn for custom events of type typ on this connection (the seed's ws.on): a text message
// {"type": typ, ...} (or, on a MessagePack connection, a binary MessagePack map with that "type") goes
// to fn instead of the message handler. Call it from a handler on the connection's loop.
func (c *Conn) On(typ string, fn func(e Event)) {
	x := c.x()
	if x.events == nil {
		x.events = make(map[string]connEvent)
	}
	x.events[typ] = connEvent{typ, fn}
}

// Codec is the connection's codec for Send of structured values and for events. Safe from any
// goroutine.
func (c *Conn) Codec() dispatch.Codec { return codecs[c.codecIdx()] }

// deliver routes one complete message: to an event handler when it is an event with a registered
// type, else to the message handler. Messages that are not events cost no allocation. On-loop only.
func (c *Conn) deliver(m Message) {
	st := &c.loop.stats
	st.messagesIn.Add(1)
	st.bytesIn.Add(uint64(len(m.data)))
	if c.route.rate != nil && !c.allowMessage(len(m.data)) {
		return
	}
	x := c.ext
	route := c.route.events
	if (x == nil || len(x.events) == 0) && len(route) == 0 {
		c.fireMessage(m)
		return
	}
	codec := codecs[codecJSON]
	if m.op == frame.OpBinary {
		if c.codecIdx() != codecMsgPack {
			c.fireMessage(m)
			return
		}
		codec = codecs[codecMsgPack]
	}
	typ, ok := codec.Type(m.data)
	if !ok {
		c.fireMessage(m)
		return
	}
	if x != nil {
		if h, found := x.events[string(typ)]; found {
			if c.allowEvent(h.typ) {
				c.fireEvent(dispatch.NewEvent(h.typ, m.data, codec, c), h.fn, nil)
			}
			return
		}
	}
	if h, found := route[string(typ)]; found {
		if c.allowEvent(h.typ) {
			c.fireEvent(dispatch.NewEvent(h.typ, m.data, codec, c), nil, h.fn)
		}
		return
	}
	c.fireMessage(m)
}

func (c *Conn) fireEvent(e Event, own func(Event), shared func(*Conn, Event)) {
	defer c.recoverPanic("event")
	if own != nil {
		own(e)
		return
	}
	shared(c, e)
}
