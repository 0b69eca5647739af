package dispatch

import (
	"errors"

	"github.com/openspeed/wsd/frame"
)

// Sender delivers a reply; the engine's connection implements it. SendFrame must copy payload or
// take ownership of it: Reply hands it a fresh buffer and never touches it again.
type Sender interface {
	SendFrame(op frame.Opcode, payload []byte) error
}

// ErrNoID is returned by Event.Reply for an event without an "id" field.
var ErrNoID = errors.New("dispatch: event has no id to acknowledge")

// errNoSender and errNoCodec are returned by an Event built without a Sender or Codec (the zero
// Event).
var (
	errNoSender = errors.New("dispatch: event has no sender")
	errNoCodec  = errors.New("dispatch: event has no codec")
)

// Event is a custom event: an object message with a string "type" for which a handler is
// registered. It is a small value, built without allocation for each event and passed by value.
// Its bytes (Raw, ID) point into the engine's buffers and are valid only until the handler returns;
// copy them to keep them. An Event is used on the goroutine its handler runs on; Reply itself is
// as safe as the Sender's SendFrame, but the message bytes are gone once the handler returns, so
// a goroutine that answers later must copy what it needs (or Decode) first.
//
// The accessors read the first top-level field of that name (as Type does for "type") and cost
// one scan of the message up to that field; String copies, Int, Has and ID do not allocate.
type Event struct {
	typ   string
	data  []byte
	codec Codec
	s     Sender
}

// NewEvent builds an event of type typ (already extracted with c.Type) over the message data, to
// be answered through s. It does not allocate.
func NewEvent(typ string, data []byte, c Codec, s Sender) Event {
	return Event{typ: typ, data: data, codec: c, s: s}
}

// WithData returns the event over data instead (a copy of its message, to keep it).
func (e Event) WithData(data []byte) Event {
	e.data = data
	return e
}

// Type is the event's "type".
func (e Event) Type() string { return e.typ }

// Raw is the encoded message, valid until the handler returns.
func (e Event) Raw() []byte { return e.data }

// Codec is the codec the message was encoded with (and Reply encodes with).
func (e Event) Codec() Codec { return e.codec }

func (e Event) field(key string) ([]byte, Kind, bool) {
	if e.codec == nil {
		return nil, Invalid, false
	}
	return e.codec.Field(e.data, key)
}

// String returns the top-level string field key (a copy), or "" when it is absent or not a string.
func (e Event) String(key string) string {
	raw, kind, ok := e.field(key)
	if !ok || kind != String {
		return ""
	}
	s, _ := e.codec.String(raw)
	return s
}

// Int returns the top-level integer field key, or 0 when it is absent or not an integer within
// int64 (a float such as 1.5 or 1e3 is not an integer here).
func (e Event) Int(key string) int64 {
	raw, kind, ok := e.field(key)
	if !ok || kind != Number {
		return 0
	}
	n, _ := e.codec.Int(raw)
	return n
}

// Has reports whether the message has a top-level field key (whatever its value, null included).
func (e Event) Has(key string) bool {
	_, _, ok := e.field(key)
	return ok
}

// Decode decodes the whole message into v with the event's codec. v never aliases the message.
func (e Event) Decode(v any) error {
	if e.codec == nil {
		return errNoCodec
	}
	return e.codec.Unmarshal(e.data, v)
}

// ID returns the raw encoding of the "id" field (a JSON number or string token, or a MessagePack
// value), or nil when there is none. Valid until the handler returns.
func (e Event) ID() []byte {
	raw, _, ok := e.field("id")
	if !ok {
		return nil
	}
	return raw
}

// Reply acknowledges the event: it sends {"type":"ack","id":<the event's id>,"data":v} encoded
// with the event's codec (a text frame for JSON, a binary frame for MessagePack) through the
// Sender. It returns ErrNoID when the event has no "id", an encoding error, or the Sender's error.
func (e Event) Reply(v any) error {
	id := e.ID()
	if id == nil {
		return ErrNoID
	}
	if e.s == nil {
		return errNoSender
	}
	payload, err := e.codec.AppendAck(nil, id, v)
	if err != nil {
		return err
	}
	op := frame.OpText
	if e.codec.Binary() {
		op = frame.OpBinary
	}
	return e.s.SendFrame(op, payload)
}
