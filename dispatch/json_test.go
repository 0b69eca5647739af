package dispatch

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

type typeCase struct {
	name string
	in   string
	want string // expected type when ok
	ok   bool
}

func runTypeCases(t *testing.T, c Codec, cases []typeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			typ, ok := c.Type([]byte(tc.in))
			if ok != tc.ok || (ok && string(typ) != tc.want) {
				t.Fatalf("Type(%q) = %q, %v; want %q, %v", tc.in, typ, ok, tc.want, tc.ok)
			}
			if !ok && typ != nil {
				t.Fatalf("Type(%q) returned %q with ok=false", tc.in, typ)
			}
		})
	}
}

func TestJSONTypeAccepts(t *testing.T) {
	cases := []typeCase{
		{"seed join-room", `{"type":"join-room","room":"general"}`, "join-room", true},
		{"seed message", `{"type":"message","content":"Hello!"}`, "message", true},
		{"whitespace everywhere", " \t\r\n{ \n\"type\" \t:\r \"x\" ,\n \"a\" : [ 1 , { } ] } \r\n\t", "x", true},
		{"type last", `{"a":1,"b":"two","type":"last"}`, "last", true},
		{"empty type", `{"type":""}`, "", true},
		{"escaped hyphen", `{"type":"join\u002droom"}`, "join-room", true},
		{"escaped key", `{"t\u0079pe":"x"}`, "x", true},
		{"simple escapes", `{"type":"a\"b\\c\/d\b\f\n\r\t"}`, "a\"b\\c/d\b\f\n\r\t", true},
		{"surrogate pair", `{"type":"\ud83d\ude00"}`, "\U0001F600", true},
		{"lone surrogate", `{"type":"\ud800"}`, "\ufffd", true},
		{"raw utf8", `{"type":"héllo→😀"}`, "héllo→😀", true},
		{"duplicate first wins", `{"type":"a","type":"b"}`, "a", true},
		{"duplicate second not string", `{"type":"a","type":1}`, "a", true},
		{"case sensitive key", `{"Type":"a","type":"b"}`, "b", true},
		{"nested before and after", `{"x":{"type":"inner","y":[1,2,{"z":null}]},"type":"outer","w":[[],{},[{}]]}`, "outer", true},
		{"all value kinds", `{"type":"x","a":[0,-0,1.5,-1.5e10,1E+2,2e-3,123456789012345678901234567890,true,false,null,"s",{}]}`, "x", true},
		{"empty containers", `{"type":"x","a":[],"b":{},"c":[ ],"d":{ }}`, "x", true},
		{"control escape", `{"type":"\u0000\u001f"}`, "\x00\x1f", true},
		{"string with brackets", `{"a":"}]{[","type":"x"}`, "x", true},
	}
	runTypeCases(t, JSON{}, cases)
	for _, tc := range cases {
		if !json.Valid([]byte(tc.in)) {
			t.Errorf("test input %q is not valid JSON; the table is wrong", tc.in)
		}
	}
}

func TestJSONTypeRejects(t *testing.T) {
	cases := []typeCase{
		{name: "number type", in: `{"type":1}`},
		{name: "null type", in: `{"type":null}`},
		{name: "bool type", in: `{"type":true}`},
		{name: "object type", in: `{"type":{"a":"b"}}`},
		{name: "array type", in: `{"type":["a"]}`},
		{name: "first type not string", in: `{"type":1,"type":"b"}`},
		{name: "only nested type", in: `{"x":{"type":"inner"}}`},
		{name: "no type", in: `{"a":"b"}`},
		{name: "empty object", in: `{}`},
		{name: "array", in: `[{"type":"x"}]`},
		{name: "string", in: `"type"`},
		{name: "number", in: `1`},
		{name: "null", in: `null`},
		{name: "true", in: `true`},
		{name: "empty", in: ``},
		{name: "spaces", in: "  \n"},
	}
	for i, in := range malformedJSON {
		cases = append(cases, typeCase{name: fmt.Sprintf("malformed %d", i), in: in})
	}
	runTypeCases(t, JSON{}, cases)
}

// malformedJSON are messages with a string "type" that are not valid JSON: each must be refused
// by Type and by encoding/json.
var malformedJSON = []string{
	`{"type":"x"`, `{"type":"x",}`, `{"type":"x"}}`, `{"type":"x"} x`, `{"type":"x"}{}`,
	`{type:"x"}`, `{'type':'x'}`, `{"type" "x"}`, `{"type":"x" "a":1}`, `{"type"::"x"}`,
	`{"type":"x\q"}`, `{"type":"x\u12"}`, `{"type":"x\u12g4"}`, "{\"type\":\"a\tb\"}",
	"{\"type\":\"a\nb\"}", "{\"type\":\"a\x00b\"}", `{"type":"x","a":01}`, `{"type":"x","a":1.}`,
	`{"type":"x","a":.5}`, `{"type":"x","a":1e}`, `{"type":"x","a":1e+}`, `{"type":"x","a":-}`,
	`{"type":"x","a":+1}`, `{"type":"x","a":-01}`, `{"type":"x","a":tru}`, `{"type":"x","a":nul}`,
	`{"type":"x","a":True}`, `{"type":"x","a":nulll}`, `{"type":"x","a":[1,]}`, `{"type":"x","a":[,1]}`,
	`{"type":"x","a":{"b"}}`, `{"type":"x","a":{"b":1,}}`, `{"type":"x","a":[1 2]}`, `{"type":"x","a":[}`,
	`{"type":"x","a":{]}`, `{"type":"x","a":[}]`, `{"type":"x","a":"unterminated}`, `{"type":"x","a":NaN}`,
	`{"type":"x","a":0x10}`, `{"type":"x\`, "{\"type\":\"x\"} \x00", `{"type":"x"}//`, `{,"type":"x"}`,
	`{"type":"x",,"a":1}`, `{"type":"x", "a": [1, 2]]}`, "\ufeff{\"type\":\"x\"}", `{"type":"x","a":[[]}`,
	`{"type":"x","a":{"b":}}`, `{"type":"x","a":{1:2}}`, `{"type":"x","a":}`, `{"type":"x","a"}`,
	`{"type":"x",1}`, `{"type":"x","a":"\u"}`, `{"type":"x","a":"\`, `{"type":"x","a":"\"}`, `{`, `{"`,
	`{"type`, `{"type"`, `{"type":`, `{"type":"`, "{\"type\":\"x\"}\x1e", `{"type":"x","a":1 ]}`,
	`{"type":"x","a":[1}`, `{"type":"x","a":{"b":1]}`, `{"type":"x","a":-e1}`, `{"type":"x","a":1e1.5}`,
}

func TestJSONMalformedAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range malformedJSON {
		if json.Valid([]byte(in)) {
			t.Errorf("test input %q is valid JSON; the table is wrong", in)
		}
	}
}

func nested(open, close string, n int, inner string) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

func TestJSONTypeDepth(t *testing.T) {
	arrays := func(n int) string { return `{"type":"x","a":` + nested("[", "]", n, "") + `}` }
	objects := func(n int) string { return `{"type":"x","a":` + nested(`{"b":`, "}", n, "1") + `}` }
	runTypeCases(t, JSON{}, []typeCase{
		{"arrays to MaxDepth", arrays(MaxDepth - 1), "x", true},
		{"arrays past MaxDepth", arrays(MaxDepth), "", false},
		{"objects to MaxDepth", objects(MaxDepth - 1), "x", true},
		{"objects past MaxDepth", objects(MaxDepth), "", false},
		{"type after deep value", `{"a":` + nested("[", "]", MaxDepth, "") + `,"type":"x"}`, "", false},
		{"10000 open brackets", strings.Repeat("[", 10000), "", false},
		{"10000 open brackets in object", `{"type":"x","a":` + strings.Repeat("[", 10000), "", false},
		{"balanced 10000 deep", `{"type":"x","a":` + nested("[", "]", 10000, "") + `}`, "", false},
		{"million open braces", strings.Repeat(`{"a":`, 1_000_000), "", false},
	})
}

func TestJSONTypeAliasesInput(t *testing.T) {
	data := []byte(`{"a":[1],"type":"join-room"}`)
	typ, ok := JSON{}.Type(data)
	if !ok || !within(typ, data) {
		t.Fatalf("Type = %q, %v; want a sub-slice of the message", typ, ok)
	}
	esc := []byte(`{"type":"join\u002droom"}`)
	typ, ok = JSON{}.Type(esc)
	if !ok || string(typ) != "join-room" || within(typ, esc) {
		t.Fatalf("escaped Type = %q, %v; want a decoded copy", typ, ok)
	}
}

// within reports whether sub's bytes lie inside buf's.
func within(sub, buf []byte) bool {
	if len(sub) == 0 {
		return true
	}
	for i := range buf {
		if &buf[i] == &sub[0] {
			return len(buf)-i >= len(sub)
		}
	}
	return false
}

const fieldMsg = `{"type":"t", "s":"str","n":-42,"big":9223372036854775807,"min":-9223372036854775808,` +
	`"over":9223372036854775808,"f":1.5,"e":1e3,"b":true,"z":null,"o":{"a":[1,{"s":"x"}]},"arr":[1,2],` +
	`"esc":"a\u00e9\ud83d\ude00\n","lone":"\ud800x","k\u0065y":"escaped key","s":"second"}`

type fieldCase struct {
	key  string
	raw  string
	kind Kind
	ok   bool
}

func TestJSONField(t *testing.T) {
	for _, tc := range []fieldCase{
		{"type", `"t"`, String, true},
		{"s", `"str"`, String, true}, // first of two
		{"n", `-42`, Number, true},
		{"big", `9223372036854775807`, Number, true},
		{"f", `1.5`, Number, true},
		{"b", `true`, Bool, true},
		{"z", `null`, Null, true},
		{"o", `{"a":[1,{"s":"x"}]}`, Object, true},
		{"arr", `[1,2]`, Array, true},
		{"key", `"escaped key"`, String, true},
		{"a", "", Invalid, false}, // only nested
		{"missing", "", Invalid, false},
		{"", "", Invalid, false},
	} {
		raw, kind, ok := JSON{}.Field([]byte(fieldMsg), tc.key)
		if string(raw) != tc.raw || kind != tc.kind || ok != tc.ok {
			t.Errorf("Field(%q) = %q, %v, %v; want %q, %v, %v", tc.key, raw, kind, ok, tc.raw, tc.kind, tc.ok)
		}
	}
	for _, in := range []string{`[{"a":1}]`, `"a"`, ``, `{"a"`, `{"b":1,"a"`} {
		if raw, kind, ok := (JSON{}).Field([]byte(in), "a"); ok {
			t.Errorf("Field(%q, a) = %q, %v, true; want not found", in, raw, kind)
		}
	}
}

func TestJSONString(t *testing.T) {
	good := []string{`"abc"`, `""`, `"a\"b"`, `"\u00e9"`, `"\u00E9"`, `"\ud83d\ude00"`, `"\ud800"`,
		`"\ud800\u0041"`, `"\udc00"`, `"\ud800\ud800\udc00"`, `"\ud800\\"`, `"\/"`, `"\b\f\n\r\t"`,
		`"héllo"`, `"\u0000"`}
	for _, in := range good {
		var want string
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("encoding/json rejects %q: %v", in, err)
		}
		got, ok := JSON{}.String([]byte(in))
		if !ok || got != want {
			t.Errorf("String(%s) = %q, %v; want %q (as encoding/json)", in, got, ok, want)
		}
	}
	bad := []string{`abc`, `"abc`, `"a"b"`, `"\x"`, "\"a\x01\"", `"`, ``, `"\u12"`, `"\"`, `1`, ` "a"`, `"a" `}
	for _, in := range bad {
		if got, ok := (JSON{}).String([]byte(in)); ok {
			t.Errorf("String(%q) = %q, true; want false", in, got)
		}
	}
}

func TestJSONInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-0", 0, true}, {"42", 42, true}, {"-42", -42, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"-9223372036854775808", -9223372036854775808, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false},
		{"99999999999999999999", 0, false}, {"1.5", 0, false}, {"1.0", 0, false}, {"1e3", 0, false},
		{"01", 0, false}, {"-", 0, false}, {"", 0, false}, {"+1", 0, false}, {" 1", 0, false},
		{"1 ", 0, false}, {`"1"`, 0, false}, {"true", 0, false}, {"-a", 0, false}, {"00", 0, false},
	} {
		got, ok := JSON{}.Int([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("Int(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestKindString(t *testing.T) {
	if String.String() != "string" || Binary.String() != "binary" || Kind(200).String() != "invalid" {
		t.Fatal("Kind.String names")
	}
}

func TestJSONAppend(t *testing.T) {
	type msg struct {
		Type string `json:"type"`
		Text string `json:"text,omitempty"`
		Bin  []byte `json:"bin"`
	}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{msg{Type: "m", Text: "<b>&</b>", Bin: []byte{1, 2}}, `{"type":"m","text":"<b>&</b>","bin":"AQI="}`},
		{map[string]any{"b": 1, "a": "\xff"}, `{"a":"\ufffd","b":1}`},
		{json.RawMessage(`{"x": 1}`), `{"x":1}`},
		{"é", `"é"`},
	} {
		got, err := JSON{}.Append([]byte("pre:"), tc.v)
		if err != nil || string(got) != "pre:"+tc.want {
			t.Errorf("Append(%#v) = %s, %v; want pre:%s", tc.v, got, err, tc.want)
		}
	}
}

// TestJSONUnmarshalGuards feeds Unmarshal the inputs that make goccy/go-json v0.10.5 panic when
// they reach it in sequence (a key ending in a dangling backslash after other malformed keys), and
// the invalid JSON it accepts silently: the scanner must refuse them all first.
func TestJSONUnmarshalGuards(t *testing.T) {
	type ev struct {
		Type string `json:"type"`
		Room string `json:"room"`
		N    int    `json:"n"`
	}
	bad := []string{`{"\q":1}`, `{"t\qpe":"x"}`, `{"\`, `{"type\2":"x","room":"y"}`, `{"ty\0pe":"x"}`,
		`{"\"`, `{"a\`, `{"\u`, `{"room\q":"x"}`, `{"roo\`, `{"typ\`, `{"type":"x"} {}`,
		`{"type":"x","a":` + nested("[", "]", MaxDepth, "") + `}`, ``}
	good := `{"type":"join-room","room":"general","n":1234567}`
	for i := range 3000 {
		in := good
		if i%3 != 0 {
			in = bad[(i*5)%len(bad)] // 5 is coprime with len(bad): every input, in a shifting order
		}
		var v ev
		err := JSON{}.Unmarshal([]byte(in), &v)
		if (err == nil) != (in == good) || (in == good && v.N != 1234567) {
			t.Fatalf("Unmarshal(%q) = %+v, %v", in, v, err)
		}
	}
	var deep any // valid at MaxDepth
	if err := (JSON{}).Unmarshal([]byte(nested("[", "]", MaxDepth, "")), &deep); err != nil {
		t.Fatalf("Unmarshal at MaxDepth: %v", err)
	}
}
