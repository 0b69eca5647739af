// Package dispatch decides what a WebSocket message means: whether it is a custom event, of which
// type, and how to read its fields and answer it. It knows nothing of sockets; the engine hands it
// complete messages and receives replies through the Sender interface.
//
// Entry points:
//
//	codec := dispatch.CodecFor(subprotocol)          // JSON{} for "json", MsgPack{} for "msgpack"
//	typ, ok := codec.Type(msg)                       // is it an event, and of which type? (no allocation)
//	e := dispatch.NewEvent(name, msg, codec, conn)   // what an event handler receives
//	e.String("room"); e.Int("seq"); e.Decode(&v); e.Reply(result)
//
// # Events
//
// An event is a message that is an object (a JSON object in a text frame, or a MessagePack map in a
// binary frame on a connection that negotiated the "msgpack" subprotocol) whose top-level "type"
// field is a string for which a handler is registered. Every other message — not an object,
// malformed, without a string "type", or of a type nobody handles — goes to the plain message
// handler unchanged. The envelopes:
//
//	event:  {"type": "join-room", "room": "general", "id": 7}   // any other fields; "id" optional
//	ack:    {"type": "ack", "id": 7, "data": <reply value>}      // Event.Reply; id copied as sent
//	error:  {"type": "error", "error": "unknown room"}
//
// In MessagePack the envelopes are maps with the same str keys; the ack map has its keys in the
// order type, id, data. The ack's id is the event's "id" copied byte for byte, so a client may use
// numbers or strings; an event without "id" cannot be acknowledged (ErrNoID).
//
// # Scanning
//
// Type and Field read a message without decoding it: a hand-written scanner for each codec checks
// the message (Type checks all of it: syntax, nesting at most MaxDepth, nothing after the top-level
// value) and returns sub-slices of it. Neither allocates when the "type" string needs no unescaping.
// Neither recurses, so hostile nesting cannot exhaust the stack. Decode uses the codec's library.
//
// # Why vmihailenco/msgpack/v5
//
// MessagePack goes through github.com/vmihailenco/msgpack/v5 rather than tinylib/msgp: Send(v any)
// and Reply(v any) take arbitrary Go values, which msgpack/v5 encodes by reflection with no code
// generation step for users, and it honours `json` struct tags (SetCustomStructTag), so one struct
// definition serves both codecs. msgp is faster but works only on types it generated code for.
// Integers are written in their most compact format (UseCompactInts), as JavaScript clients do.
// JSON uses github.com/goccy/go-json, compatible with encoding/json and faster; it is written without
// HTML escaping ('<', '>' and '&' stay as they are, as JSON.stringify leaves them).
//
// Both Unmarshal methods run the scanner over the whole input before the library sees it, and
// refuse anything but exactly one well-formed value nested at most MaxDepth deep: msgpack/v5
// recurses without a depth limit and sizes maps from counts in the input, and goccy/go-json v0.10
// accepts some invalid escapes in object keys and can panic after a key with a dangling backslash
// (goccy/go-json#604).
//
// # Caveats
//
//   - Bytes are valid only until the handler returns: Event.Raw, Event.ID and the typ returned by
//     Type point into the engine's buffers. String, Decode and Unmarshal copy.
//   - If "type" (or any field) appears more than once, the first occurrence wins for Type, Field and
//     the Event accessors; Decode follows its library (the last one wins).
//   - Nesting deeper than MaxDepth (64, the top-level object counting as 1) makes a message not an
//     event, and Unmarshal refuses it.
//   - The JSON scanner does not check UTF-8: the engine has already checked every text frame.
//     MessagePack str bytes are not checked either.
//   - Field stops at the field it finds and does not check the rest of the message; it is meant for
//     messages Type accepted, as every Event's is.
//   - MessagePack events must have str keys at the top level; keys of nested maps may be anything,
//     but Decode into map[string]any needs str (or bin) keys throughout.
package dispatch
