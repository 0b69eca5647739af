package dispatch

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// FuzzJSONType checks Type against encoding/json: never a panic; Type accepts exactly the valid
// objects whose first "type" is a string and whose nesting is at most MaxDepth; the type it returns
// is the one encoding/json decodes (into map[string]any when "type" is not duplicated).
func FuzzJSONType(f *testing.F) {
	for _, s := range []string{
		`{"type":"join-room","room":"general"}`, `{"type":"message","content":"Hello!"}`,
		`{"type":"join\u002droom"}`, `{"t\u0079pe":"\ud83d\ude00\ud800"}`, `{"type":1}`,
		`{"type":"a","type":"b"}`, `{"x":{"type":"in"},"type":"out","y":[1,-2.5e3,true,null,{}]}`,
		` {"type" : "x" } `, `[]`, `"s"`, `{"a":` + nested("[", "]", MaxDepth-1, "") + `,"type":"x"}`,
	} {
		f.Add([]byte(s))
	}
	for _, s := range malformedJSON {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		typ, ok := JSON{}.Type(data)
		exerciseFields(JSON{}, data)
		var ev struct {
			Type string `json:"type"`
			ID   int    `json:"id"`
		}
		uerr := JSON{}.Unmarshal(data, &ev) // must not panic
		valid := json.Valid(data)
		if uerr == nil && !valid {
			t.Fatalf("Unmarshal accepts invalid JSON %q", data)
		}
		if ok && !valid {
			t.Fatalf("Type accepts invalid JSON %q", data)
		}
		if !valid {
			return
		}
		want, isEvent, nType := jsonReference(data)
		isEvent = isEvent && jsonDepth(data) <= MaxDepth
		if ok != isEvent {
			t.Fatalf("Type(%q) ok = %v; encoding/json says %v", data, ok, isEvent)
		}
		if !ok || !utf8.Valid(data) {
			return // encoding/json replaces invalid UTF-8, the scanner keeps it
		}
		if string(typ) != want {
			t.Fatalf("Type(%q) = %q; encoding/json finds %q", data, typ, want)
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber() // valid JSON may hold numbers no float64 can (1e700)
		if err := dec.Decode(&m); err != nil || (nType == 1 && m["type"] != want) {
			t.Fatalf("Type(%q) = %q; map decode gives %v, %v", data, typ, m["type"], err)
		}
	})
}

// exerciseFields runs Field, String and Int on a few keys: they must never panic, and the kind
// must match what String and Int accept.
func exerciseFields(c Codec, data []byte) {
	for _, key := range []string{"type", "id", "a", ""} {
		raw, kind, ok := c.Field(data, key)
		if !ok {
			continue
		}
		if _, isStr := c.String(raw); isStr != (kind == String) {
			panic("String disagrees with the kind of " + string(raw))
		}
		if _, isInt := c.Int(raw); isInt && kind != Number {
			panic("Int accepts a non-number " + string(raw))
		}
	}
}

// jsonReference reads valid JSON with encoding/json's decoder: whether it is an object whose
// first "type" is a string, that string, and how many top-level "type" keys there are.
func jsonReference(data []byte) (typ string, isEvent bool, nType int) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false, 0
	}
	for dec.More() {
		key, err := dec.Token()
		var raw json.RawMessage
		if err != nil || dec.Decode(&raw) != nil {
			return "", false, 0
		}
		if key != "type" {
			continue
		}
		if nType++; nType == 1 {
			isEvent = raw[0] == '"' && json.Unmarshal(raw, &typ) == nil
		}
	}
	return typ, isEvent, nType
}

// jsonDepth is the deepest nesting of containers in valid JSON.
func jsonDepth(data []byte) int {
	depth, deepest, inStr := 0, 0, false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case !inStr && (c == '{' || c == '['):
			depth++
			deepest = max(deepest, depth)
		case !inStr && (c == '}' || c == ']'):
			depth--
		}
	}
	return deepest
}

// FuzzMsgPackType checks Type against vmihailenco/msgpack: never a panic (Unmarshal included);
// Type accepts exactly the maps with str keys, a str first "type", nesting at most MaxDepth and no
// trailing bytes, and returns the string the library decodes.
func FuzzMsgPackType(f *testing.F) {
	f.Add(allFormatsMsg())
	f.Add([]byte("\x82\xa4type\xa9join-room\xa4room\xa7general"))
	f.Add([]byte("\x82\xa4type\xa7message\xa7content\xa6Hello!"))
	f.Add([]byte("\x82\xa4type\xa1a\xa4type\x01"))
	f.Add([]byte("\xdf\x00\x00\x00\x01\xd9\x04type\xdb\x00\x00\x00\x01x"))
	f.Add([]byte("\x82\xa4type\xa1x\xa1a" + strings.Repeat("\x91", MaxDepth-1) + "\x90"))
	for _, fm := range mpFormats {
		f.Add([]byte("\x82\xa4type\xa1x\xa1v" + fm.enc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		typ, ok := MsgPack{}.Type(data)
		exerciseFields(MsgPack{}, data)
		var v any
		_ = MsgPack{}.Unmarshal(data, &v)
		want, isEvent := mpReference(data)
		if ok != isEvent || (ok && string(typ) != want) {
			t.Fatalf("Type(%x) = %q, %v; the library reads %q, %v", data, typ, ok, want, isEvent)
		}
		if ok {
			var m map[string]any
			if err := (MsgPack{}).Unmarshal(data, &m); err == nil && m["type"] == nil {
				t.Fatalf("Type(%x) = %q but Unmarshal finds no type", data, typ)
			}
		}
	})
}

// mpReference reads data with the library: whether it is one map with str keys whose first "type"
// is a str, nested at most MaxDepth, with nothing after it; and that string.
func mpReference(data []byte) (string, bool) {
	r := bytes.NewReader(data)
	dec := msgpack.NewDecoder(r)
	c, err := dec.PeekCode()
	if err != nil || !(msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32) {
		return "", false
	}
	n, err := dec.DecodeMapLen()
	if err != nil {
		return "", false
	}
	typ, found, depth := "", false, 1
	for i := 0; i < n; i++ {
		if c, err := dec.PeekCode(); err != nil || !msgpcode.IsString(c) {
			return "", false
		}
		key, err := dec.DecodeString()
		if err != nil {
			return "", false
		}
		if key == "type" && !found {
			if c, err := dec.PeekCode(); err != nil || !msgpcode.IsString(c) {
				return "", false
			}
			if typ, err = dec.DecodeString(); err != nil {
				return "", false
			}
			found = true
			continue
		}
		d, err := mpRefDepth(dec)
		if err != nil {
			return "", false
		}
		depth = max(depth, 1+d)
	}
	return typ, found && depth <= MaxDepth && r.Len() == 0
}

// mpRefDepth skips one value with the library and returns its nesting depth (0 for a scalar).
func mpRefDepth(dec *msgpack.Decoder) (int, error) {
	c, err := dec.PeekCode()
	if err != nil {
		return 0, err
	}
	n, per := 0, 0
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err = dec.DecodeMapLen()
		per = 2
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err = dec.DecodeArrayLen()
		per = 1
	default:
		return 0, dec.Skip()
	}
	deepest := 0
	for i := 0; err == nil && i < n*per && deepest <= MaxDepth; i++ {
		var d int
		d, err = mpRefDepth(dec)
		deepest = max(deepest, d)
	}
	return 1 + deepest, err
}
