package dispatch

import (
	"bytes"
	"errors"
	"math"

	"github.com/vmihailenco/msgpack/v5"
)

// MsgPack is the MessagePack codec: binary frames, github.com/vmihailenco/msgpack/v5 for Append and
// Unmarshal (with `json` struct tags honoured where a field has no `msgpack` tag, and integers in
// their most compact format), a hand-written scanner for Type and Field. The zero value is ready to
// use.
type MsgPack struct{}

var _ Codec = MsgPack{}

// errMsgPackMalformed is returned by MsgPack.Unmarshal for input the scanner refuses.
var errMsgPackMalformed = errors.New("dispatch: malformed, trailing or too deeply nested MessagePack")

// mpAckHead is the start of the ack envelope: a 3-entry map, "type": "ack", then the key "id".
const mpAckHead = "\x83\xa4type\xa3ack\xa2id"

// Name returns "msgpack".
func (MsgPack) Name() string { return "msgpack" }

// Binary returns true: MessagePack travels in binary frames.
func (MsgPack) Binary() bool { return true }

// appendWriter is the io.Writer (and io.ByteWriter) the encoder appends through.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

// Append appends the MessagePack encoding of v to dst. Maps and structs encode as maps with str
// keys (struct fields named by their msgpack tag, else json tag, else field name).
func (MsgPack) Append(dst []byte, v any) ([]byte, error) {
	w := &appendWriter{b: dst}
	enc := msgpack.GetEncoder()
	enc.Reset(w)
	enc.SetCustomStructTag("json")
	enc.UseCompactInts(true)
	err := enc.Encode(v)
	msgpack.PutEncoder(enc)
	if err != nil {
		return dst, err
	}
	return w.b, nil
}

// Unmarshal decodes data, which must be exactly one MessagePack value nested at most MaxDepth deep,
// into v. The check comes first because the library recurses without a depth limit and sizes maps
// from the counts in the input; after it, no count exceeds the message length.
func (MsgPack) Unmarshal(data []byte, v any) error {
	if end, ok := mpSkip(data, 0, 0); !ok || end != len(data) {
		return errMsgPackMalformed
	}
	dec := msgpack.GetDecoder()
	dec.Reset(bytes.NewReader(data))
	dec.SetCustomStructTag("json")
	err := dec.Decode(v)
	msgpack.PutDecoder(dec)
	return err
}

// Type implements Codec.Type for MessagePack: data must be a map whose top-level keys are all str.
// It never allocates.
func (MsgPack) Type(data []byte) ([]byte, bool) {
	it, ok := newMPIter(data)
	if !ok {
		return nil, false
	}
	var typ []byte
	found := false
	for {
		key, val, more, ok := it.next()
		if !more {
			if !ok || !found {
				return nil, false
			}
			return typ, true
		}
		if !found && string(key) == "type" {
			body, end, isStr := mpStr(val, 0)
			if !isStr || end != len(val) {
				return nil, false // the first "type" decides
			}
			typ, found = body, true
		}
	}
}

// Field implements Codec.Field for MessagePack.
func (MsgPack) Field(data []byte, key string) ([]byte, Kind, bool) {
	it, ok := newMPIter(data)
	if !ok {
		return nil, Invalid, false
	}
	for {
		k, val, more, _ := it.next()
		if !more {
			return nil, Invalid, false
		}
		if string(k) == key {
			_, _, kind, _ := mpHead(val, 0)
			return val, kind, true
		}
	}
}

// String decodes a str value (any str format; bin is Binary, not String) into a new string.
func (MsgPack) String(raw []byte) (string, bool) {
	body, end, ok := mpStr(raw, 0)
	if !ok || end != len(raw) {
		return "", false
	}
	return string(body), true
}

// Int decodes any MessagePack integer format whose value fits int64.
func (MsgPack) Int(raw []byte) (int64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	c := raw[0]
	switch {
	case c <= 0x7f || c >= 0xe0: // positive and negative fixint
		if len(raw) != 1 {
			return 0, false
		}
		return int64(int8(c)), true
	case c >= 0xcc && c <= 0xcf:
		size := 1 << (c - 0xcc)
		u, end, ok := mpUint(raw, 1, size)
		if !ok || end != len(raw) || u > math.MaxInt64 {
			return 0, false
		}
		return int64(u), true
	case c >= 0xd0 && c <= 0xd3:
		size := 1 << (c - 0xd0)
		u, end, ok := mpUint(raw, 1, size)
		if !ok || end != len(raw) {
			return 0, false
		}
		return signExtend(u, size), true
	}
	return 0, false
}

// signExtend reads the low size bytes of u as a two's-complement integer.
func signExtend(u uint64, size int) int64 {
	switch size {
	case 1:
		return int64(int8(u))
	case 2:
		return int64(int16(u))
	case 4:
		return int64(int32(u))
	}
	return int64(u)
}

// AppendAck appends the map {"type": "ack", "id": <id>, "data": <v>} (id nil when empty).
func (c MsgPack) AppendAck(dst []byte, id []byte, v any) ([]byte, error) {
	n := len(dst)
	dst = append(dst, mpAckHead...)
	if len(id) == 0 {
		dst = append(dst, 0xc0)
	} else {
		dst = append(dst, id...)
	}
	dst = append(dst, "\xa4data"...)
	dst, err := c.Append(dst, v)
	if err != nil {
		return dst[:n], err
	}
	return dst, nil
}
