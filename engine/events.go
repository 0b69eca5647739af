package engine

import (
	"fmt"

	"github.com/openspeed/wsd/dispatch"
	"github.com/openspeed/wsd/frame"
)

// Event is a custom event: a message that is an object with a string "type" field for which a handler
// is registered (Conn.On or Handlers.Events). It is a small value passed to the handler, built
// without allocation. Its bytes (Raw, Field) point into the engine's buffers and are valid only until
// the handler returns; Detach copies them, so that the event (and its Reply) can outlive the handler.
// The accessors read the first top-level field of that name; String copies, Int and Field do not
// allocate. An Event is used by one goroutine at a time; Reply is safe from any goroutine.
type Event struct{ e dispatch.Event }

// Type is the event's "type". Call the Event methods from the handler, or from any goroutine on an
// Event returned by Detach.
func (e Event) Type() string { return e.e.Type() }

// Field returns the raw encoding of the top-level field key (a JSON value as sent, or a MessagePack
// value) and whether it is present (null included). Goroutines: see Type.
func (e Event) Field(key string) ([]byte, bool) {
	if e.e.Codec() == nil {
		return nil, false
	}
	raw, _, ok := e.e.Codec().Field(e.e.Raw(), key)
	return raw, ok
}

// String returns the top-level string field key (a copy), or "" when it is absent or not a string.
// Goroutines: see Type.
func (e Event) String(key string) string { return e.e.String(key) }

// Int returns the top-level integer field key, or 0 when it is absent or not an integer within int64.
// Goroutines: see Type.
func (e Event) Int(key string) int64 { return e.e.Int(key) }

// Decode decodes the whole message into v with the connection's codec; v never aliases the message.
// Goroutines: see Type.
func (e Event) Decode(v any) error { return e.e.Decode(v) }

// Reply acknowledges the event: it sends {"type":"ack","id":<the event's "id", as sent>,"data":v} to
// the connection in its codec. It fails when the event has no "id" (the client asked for no ack),
// for an encoding error, or once the connection is closing. Goroutines: see Type.
func (e Event) Reply(v any) error { return e.e.Reply(v) }

// Detach returns a copy of the event that owns its bytes: it stays valid after the handler returns,
// for an answer that comes later (from a goroutine, or a publication's done callback). Call it from
// the handler.
func (e Event) Detach() Event {
	raw := append([]byte(nil), e.e.Raw()...)
	return Event{e.e.WithData(raw)}
}

// replier sends an event's acknowledgement on its connection.
type replier struct{ c *Conn }

// SendFrame implements dispatch.Sender. A reply is never dropped by the slow-consumer policy: it
// answers a request of the client (which its rate limits bound), and a client that waits for it after
// a recovery larger than MaxBackpressure would otherwise wait forever.
func (r replier) SendFrame(op Opcode, payload []byte) error {
	return r.c.sendFrame(op, payload, itemKeep)
}

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

// On registers fn for custom events of type typ on this connection (the plugin's ws.on): a text
// message {"type": typ, ...} (or, on a MessagePack connection, a binary MessagePack map with that
// "type") goes to fn instead of the message handler. The built-in events have their own methods, and
// On panics for their names (so that no client can fire a close handler with {"type":"close"}):
// "message" (OnMessage), "close" (OnClose), "error" (OnError), "ping" (OnPing), "pong" (OnPong),
// "drop" and "drain" (Handlers.Drop, Handlers.Drain), "open" (the WS open handler). Call it from a
// handler on the connection's loop.
func (c *Conn) On(typ string, fn func(e Event)) {
	checkEventName("On", typ)
	x := c.x()
	if x.events == nil {
		x.events = make(map[string]connEvent)
	}
	x.events[typ] = connEvent{typ, fn}
}

// builtinEvents maps the built-in event names to what registers their handlers.
var builtinEvents = map[string]string{"message": "OnMessage", "close": "OnClose", "error": "OnError",
	"ping": "OnPing", "pong": "OnPong", "drop": "Handlers.Drop", "drain": "Handlers.Drain",
	"open": "the WS open handler"}

// checkEventName panics for a built-in event name registered as a custom event.
func checkEventName(where, typ string) {
	if m, ok := builtinEvents[typ]; ok {
		panic(fmt.Sprintf("engine: %s(%q): %q is a built-in event, not a custom one: use %s", where, typ, typ, m))
	}
}

// deliver routes one complete message: to an event handler when it is an event with a registered
// type, else to the message handler. Messages that are not events cost no allocation. On-loop only.
func (c *Conn) deliver(op Opcode, data []byte) {
	st := &c.loop.stats
	st.messagesIn.Add(1)
	st.bytesIn.Add(uint64(len(data)))
	if c.route.rate != nil && !c.allowMessage(len(data)) {
		return
	}
	x := c.ext
	route := c.route.events
	if (x == nil || len(x.events) == 0) && len(route) == 0 {
		c.fireReceived(op, data)
		return
	}
	codec := codecs[codecJSON]
	if op == frame.OpBinary {
		if c.codecIdx() != codecMsgPack {
			c.fireReceived(op, data)
			return
		}
		codec = codecs[codecMsgPack]
	}
	typ, ok := codec.Type(data)
	if !ok {
		c.fireReceived(op, data)
		return
	}
	if x != nil {
		if h, found := x.events[string(typ)]; found {
			if c.allowEvent(h.typ) {
				c.fireEvent(Event{dispatch.NewEvent(h.typ, data, codec, replier{c})}, h.fn, nil)
			}
			return
		}
	}
	if h, found := route[string(typ)]; found {
		if c.allowEvent(h.typ) {
			c.fireEvent(Event{dispatch.NewEvent(h.typ, data, codec, replier{c})}, nil, h.fn)
		}
		return
	}
	c.fireReceived(op, data)
}

// fireReceived runs the message handler with a received message, through the loop's reusable message
// (no allocation per message).
func (c *Conn) fireReceived(op Opcode, data []byte) {
	in := &c.loop.in
	in.op, in.data = op, data
	c.fireMessage(Message{in})
	in.op, in.data = 0, nil
}

// Decode decodes a received message into v the way Send encodes: a binary message on a connection
// that negotiated "msgpack" as MessagePack, anything else as JSON. v never aliases the message.
// Call it from the handler the message was passed to.
func (c *Conn) Decode(m Message, v any) error {
	if m.Opcode() == OpBinary && c.codecIdx() == codecMsgPack {
		return codecs[codecMsgPack].Unmarshal(m.Data(), v)
	}
	return codecs[codecJSON].Unmarshal(m.Data(), v)
}
