package dispatch

import (
	"bytes"
	"errors"
	"math"
	"strings"

	json "github.com/goccy/go-json"
)

// JSON is the JSON codec: text frames, github.com/goccy/go-json for Append and Unmarshal, a
// hand-written allocation-free scanner for Type and Field. The zero value is ready to use.
type JSON struct{}

var _ Codec = JSON{}

// Name returns "json".
func (JSON) Name() string { return "json" }

// Binary returns false: JSON travels in text frames.
func (JSON) Binary() bool { return false }

// jsonEncodeOptions turn off HTML escaping: '<', '>' and '&' are written as they are, as
// JSON.stringify writes them, since the output goes to WebSocket peers, not into HTML. Invalid UTF-8
// in strings still becomes U+FFFD, so the output is always fit for a text frame. Never modified.
var jsonEncodeOptions = []json.EncodeOptionFunc{json.DisableHTMLEscape()}

// Append appends the JSON encoding of v to dst: encoding/json's format (map keys sorted, []byte as
// base64, Marshaler honoured) without HTML escaping.
func (JSON) Append(dst []byte, v any) ([]byte, error) {
	b, err := json.MarshalWithOption(v, jsonEncodeOptions...)
	if err != nil {
		return dst, err
	}
	if dst == nil {
		return b, nil
	}
	return append(dst, b...), nil
}

// errJSONMalformed is returned by JSON.Unmarshal for input the scanner refuses.
var errJSONMalformed = errors.New("dispatch: malformed, trailing or too deeply nested JSON")

// Unmarshal decodes data, which must be exactly one JSON value nested at most MaxDepth deep, into v
// with goccy/go-json (which copies data first, so v never aliases it). The scanner checks data
// first: goccy/go-json v0.10 accepts some invalid escapes in object keys and, after a key that ends
// in a dangling backslash, can panic on a later call (goccy/go-json#604, #575), so it only ever sees
// valid JSON.
func (JSON) Unmarshal(data []byte, v any) error {
	if end, ok := skipValue(data, 0, 0); !ok || skipWS(data, end) != len(data) {
		return errJSONMalformed
	}
	return json.Unmarshal(data, v)
}

// Type implements Codec.Type for JSON.
func (JSON) Type(data []byte) ([]byte, bool) {
	it, ok := newJSONIter(data)
	if !ok {
		return nil, false
	}
	var typ []byte
	for {
		key, esc, val, more, ok := it.next()
		if !more {
			if !ok || typ == nil {
				return nil, false
			}
			break
		}
		if typ == nil && keyEquals(key, esc, "type") {
			if val[0] != '"' {
				return nil, false // the first "type" decides
			}
			typ = val
		}
	}
	body := typ[1 : len(typ)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return body, true
	}
	return appendUnescaped(make([]byte, 0, len(body)), body), true
}

// Field implements Codec.Field for JSON.
func (JSON) Field(data []byte, key string) ([]byte, Kind, bool) {
	it, ok := newJSONIter(data)
	if !ok {
		return nil, Invalid, false
	}
	for {
		k, esc, val, more, _ := it.next()
		if !more {
			return nil, Invalid, false
		}
		if keyEquals(k, esc, key) {
			return val, jsonKind(val[0]), true
		}
	}
}

// String decodes a JSON string token (with its quotes) into a new string.
func (JSON) String(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	end, esc, ok := scanString(raw, 0)
	if !ok || end != len(raw) {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	if !esc {
		return string(body), true
	}
	var sb strings.Builder
	sb.Grow(len(body))
	for i := 0; i < len(body); {
		if body[i] != '\\' {
			sb.WriteByte(body[i])
			i++
			continue
		}
		var r rune
		r, i = decodeEscape(body, i)
		sb.WriteRune(r)
	}
	return sb.String(), true
}

// Int decodes a JSON integer literal (no fraction, no exponent, no surrounding space) within int64.
func (JSON) Int(raw []byte) (int64, bool) {
	i, neg := 0, false
	if len(raw) > 0 && raw[0] == '-' {
		i, neg = 1, true
	}
	if i >= len(raw) || raw[i] < '0' || raw[i] > '9' {
		return 0, false
	}
	if raw[i] == '0' {
		return 0, len(raw) == i+1 // "0" and "-0"; "01" is not JSON
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var u uint64
	for ; i < len(raw); i++ {
		c := raw[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (limit-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	if neg {
		return -int64(u), true // u == 1<<63 wraps to math.MinInt64, as wanted
	}
	return int64(u), true
}

// AppendAck appends {"type":"ack","id":<id>,"data":<v>}.
func (c JSON) AppendAck(dst []byte, id []byte, v any) ([]byte, error) {
	n := len(dst)
	dst = append(dst, `{"type":"ack","id":`...)
	if len(id) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, id...)
	}
	dst = append(dst, `,"data":`...)
	dst, err := c.Append(dst, v)
	if err != nil {
		return dst[:n], err
	}
	return append(dst, '}'), nil
}
