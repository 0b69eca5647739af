package dispatch

// Kind is the kind of a scanned value.
type Kind uint8

// The kinds of values Codec.Field reports.
const (
	Invalid Kind = iota
	String
	Number
	Bool
	Null
	Object
	Array
	Binary // MessagePack bin and ext (including timestamps); JSON has none
)

var kindNames = [...]string{"invalid", "string", "number", "bool", "null", "object", "array", "binary"}

// String returns the kind's lower-case name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// MaxDepth bounds nesting when scanning: the top-level object is at depth 1, and a message with a
// container nested deeper than MaxDepth is not a well-formed event (it goes to the plain message
// handler). The scanners never recurse, so no input can exhaust the stack.
const MaxDepth = 64

// Codec encodes values and reads event fields. Implementations are stateless value types, safe for
// concurrent use from any goroutine.
type Codec interface {
	// Name is "json" or "msgpack": also the Sec-WebSocket-Protocol name that selects the codec.
	Name() string
	// Binary is false for JSON (text frames) and true for MessagePack (binary frames).
	Binary() bool
	// Append appends v's encoding to dst. On error it returns dst unchanged.
	Append(dst []byte, v any) ([]byte, error)
	// Unmarshal decodes data into v. The result never aliases data.
	Unmarshal(data []byte, v any) error
	// Type returns the value of the top-level "type" field when data is a well-formed object (the
	// whole message is checked, nesting <= MaxDepth, nothing but JSON whitespace after it) whose
	// first "type" field is a string; ok is false otherwise. typ is a sub-slice of data (valid as
	// long as data) when the string needs no unescaping, which is always the case for MessagePack
	// and for JSON without backslash escapes; then Type never allocates. A JSON "type" with escapes
	// is decoded into a new slice.
	Type(data []byte) (typ []byte, ok bool)
	// Field returns the raw encoding of the first top-level field named key of an object message,
	// and its Kind; ok is false when the field is absent or data is not an object. It stops at the
	// field, so it does not check the rest of the message: use it on messages Type accepted (every
	// Event). raw is a sub-slice of data. No allocation.
	Field(data []byte, key string) (raw []byte, kind Kind, ok bool)
	// String decodes a String value returned by Field into a new string (JSON escapes, including
	// \uXXXX and surrogate pairs, are decoded; a lone surrogate becomes U+FFFD as in encoding/json).
	String(raw []byte) (string, bool)
	// Int decodes an integer Number: in JSON an integer literal without fraction or exponent within
	// int64; in MessagePack any int or uint format whose value fits int64.
	Int(raw []byte) (int64, bool)
	// AppendAck appends the acknowledgement envelope {"type":"ack","id":<id>,"data":<v>}, where id
	// is the raw encoding of the event's "id" field copied as-is (null when id is empty); in
	// MessagePack a map with the same three keys in that order. On error it returns dst unchanged.
	AppendAck(dst []byte, id []byte, v any) ([]byte, error)
}

// CodecFor returns the codec for a subprotocol name ("json" or "msgpack", compared exactly, as
// subprotocol tokens are), or nil for any other name.
func CodecFor(name string) Codec {
	switch name {
	case "json":
		return JSON{}
	case "msgpack":
		return MsgPack{}
	}
	return nil
}
