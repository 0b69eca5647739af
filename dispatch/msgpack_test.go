package dispatch

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// mpFormats holds one value of every MessagePack format, each with its kind.
var mpFormats = []struct {
	name string
	enc  string
	kind Kind
}{
	{"positive fixint", "\x05", Number}, {"negative fixint", "\xff", Number}, {"nil", "\xc0", Null},
	{"false", "\xc2", Bool}, {"true", "\xc3", Bool},
	{"bin8", "\xc4\x02ab", Binary}, {"bin16", "\xc5\x00\x01a", Binary}, {"bin32", "\xc6\x00\x00\x00\x01a", Binary},
	{"ext8", "\xc7\x01\x05a", Binary}, {"ext16", "\xc8\x00\x01\x05a", Binary}, {"ext32", "\xc9\x00\x00\x00\x01\x05a", Binary},
	{"float32", "\xca\x3f\xc0\x00\x00", Number}, {"float64", "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", Number},
	{"uint8", "\xcc\xff", Number}, {"uint16", "\xcd\xff\xff", Number}, {"uint32", "\xce\xff\xff\xff\xff", Number},
	{"uint64", "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", Number},
	{"int8", "\xd0\x80", Number}, {"int16", "\xd1\x80\x00", Number}, {"int32", "\xd2\x80\x00\x00\x00", Number},
	{"int64", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00", Number},
	{"fixext1", "\xd4\x05a", Binary}, {"fixext2", "\xd5\x05ab", Binary}, {"fixext4", "\xd6\x05abcd", Binary},
	{"fixext8", "\xd7\x05abcdefgh", Binary}, {"fixext16", "\xd8\x05abcdefghijklmnop", Binary},
	{"fixstr", "\xa3abc", String}, {"empty fixstr", "\xa0", String}, {"str8", "\xd9\x01a", String},
	{"str16", "\xda\x00\x01a", String}, {"str32", "\xdb\x00\x00\x00\x01a", String},
	{"fixarray", "\x92\x01\xa1a", Array}, {"empty fixarray", "\x90", Array},
	{"array16", "\xdc\x00\x01\x01", Array}, {"array32", "\xdd\x00\x00\x00\x01\x01", Array},
	{"fixmap", "\x81\xa1k\x01", Object}, {"map16", "\xde\x00\x01\xa1k\x01", Object},
	{"map32", "\xdf\x00\x00\x00\x01\xa1k\x01", Object}, {"map with int key", "\x81\x01\x02", Object},
}

// allFormatsMsg is {"type": "x", "v": [every format]}.
func allFormatsMsg() []byte {
	b := []byte("\x82\xa4type\xa1x\xa1v\xdc\x00")
	b = append(b, byte(len(mpFormats)))
	for _, f := range mpFormats {
		b = append(b, f.enc...)
	}
	return b
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMsgPackTypeAccepts(t *testing.T) {
	type joinRoom struct {
		Type string `json:"type"`
		Room string `json:"room"`
	}
	ours, err := MsgPack{}.Append(nil, joinRoom{"join-room", "general"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []typeCase{
		{"seed join-room (library)", string(mustMarshal(t, map[string]any{"type": "join-room", "room": "general"})), "join-room", true},
		{"seed message (library)", string(mustMarshal(t, map[string]any{"type": "message", "content": "Hello!"})), "message", true},
		{"struct with json tags (Append)", string(ours), "join-room", true},
		{"by hand", "\x82\xa4type\xa9join-room\xa4room\xa7general", "join-room", true},
		{"str8 key and value", "\x81\xd9\x04type\xd9\x01x", "x", true},
		{"str16 key and value", "\x81\xda\x00\x04type\xda\x00\x01x", "x", true},
		{"str32 key and value", "\x81\xdb\x00\x00\x00\x04type\xdb\x00\x00\x00\x01x", "x", true},
		{"map16", "\xde\x00\x01\xa4type\xa1x", "x", true},
		{"map32", "\xdf\x00\x00\x00\x01\xa4type\xa1x", "x", true},
		{"empty type", "\x81\xa4type\xa0", "", true},
		{"type last", "\x82\xa1a\x01\xa4type\xa4last", "last", true},
		{"every format", string(allFormatsMsg()), "x", true},
		{"duplicate first wins", "\x82\xa4type\xa1a\xa4type\xa1b", "a", true},
		{"duplicate second not str", "\x82\xa4type\xa1a\xa4type\x01", "a", true},
		{"nested type before", "\x82\xa1o\x81\xa4type\xa5inner\xa4type\xa5outer", "outer", true},
		{"nested non-str keys", "\x82\xa4type\xa1x\xa1m\x82\x01\x02\xc3\xc0", "x", true},
	}
	runTypeCases(t, MsgPack{}, cases)
	for _, tc := range cases { // the library agrees they are single well-formed values
		dec := msgpack.NewDecoder(bytes.NewReader([]byte(tc.in)))
		if err := dec.Skip(); err != nil || dec.Buffered().(*bytes.Reader).Len() != 0 {
			t.Errorf("%s: library Skip: %v", tc.name, err)
		}
	}
}

func TestMsgPackTypeRejects(t *testing.T) {
	cases := []typeCase{
		{name: "int type", in: "\x81\xa4type\x01"},
		{name: "bin type", in: "\x81\xa4type\xc4\x01x"},
		{name: "nil type", in: "\x81\xa4type\xc0"},
		{name: "map type", in: "\x81\xa4type\x80"},
		{name: "first type not str", in: "\x82\xa4type\x01\xa4type\xa1x"},
		{name: "no type", in: "\x81\xa1a\xa1b"},
		{name: "only nested type", in: "\x81\xa1o\x81\xa4type\xa1x"},
		{name: "empty map", in: "\x80"},
		{name: "int key", in: "\x82\x01\x02\xa4type\xa1x"},
		{name: "bin key", in: "\x81\xc4\x04type\xa1x"},
		{name: "non-str key after type", in: "\x82\xa4type\xa1x\x01\x02"},
		{name: "array", in: "\x91\x81\xa4type\xa1x"},
		{name: "str", in: "\xa4type"},
		{name: "int", in: "\x01"},
		{name: "nil", in: "\xc0"},
		{name: "empty", in: ""},
		{name: "JSON", in: `{"type":"x"}`},
		{name: "trailing byte", in: "\x81\xa4type\xa1x\x00"},
		{name: "two maps", in: "\x81\xa4type\xa1x\x80"},
		{name: "0xc1 value", in: "\x82\xa4type\xa1x\xa1a\xc1"},
		{name: "0xc1 nested", in: "\x82\xa4type\xa1x\xa1a\x91\xc1"},
		{name: "0xc1 top", in: "\xc1"},
		{name: "count past end", in: "\x83\xa4type\xa1x"},
		{name: "map32 huge count", in: "\xdf\xff\xff\xff\xff\xa4type\xa1x"},
		{name: "array32 huge count", in: "\x82\xa4type\xa1x\xa1a\xdd\xff\xff\xff\xff\x01"},
		{name: "str32 huge length", in: "\x82\xa4type\xa1x\xa1a\xdb\xff\xff\xff\xff"},
		{name: "bin32 huge length", in: "\x82\xa4type\xa1x\xa1a\xc6\xff\xff\xff\xff"},
		{name: "ext32 huge length", in: "\x82\xa4type\xa1x\xa1a\xc9\xff\xff\xff\xff\x01"},
		{name: "ext8 length counts type byte", in: "\x82\xa4type\xa1x\xa1a\xc7\x01\x05"},
	}
	runTypeCases(t, MsgPack{}, cases)
}

func TestMsgPackTypeTruncated(t *testing.T) {
	msg := allFormatsMsg()
	for n := 0; n < len(msg); n++ {
		if typ, ok := (MsgPack{}).Type(msg[:n]); ok {
			t.Fatalf("Type(first %d of %d bytes) = %q, true", n, len(msg), typ)
		}
	}
	for i := range msg { // every byte replaced by the never-used 0xc1 or by a huge map32 header
		for _, bad := range []byte{0xc1, 0xdf} {
			b := bytes.Clone(msg)
			b[i] = bad
			MsgPack{}.Type(b) // must not panic
		}
	}
}

func TestMsgPackTypeDepth(t *testing.T) {
	deep := func(n int, leaf string) string {
		return "\x82\xa4type\xa1x\xa1a" + strings.Repeat("\x91", n) + leaf
	}
	runTypeCases(t, MsgPack{}, []typeCase{
		{"arrays to MaxDepth", deep(MaxDepth-1, "\x01"), "x", true},
		{"empty array at MaxDepth", deep(MaxDepth-2, "\x90"), "x", true},
		{"arrays past MaxDepth", deep(MaxDepth, "\x01"), "", false},
		{"empty array past MaxDepth", deep(MaxDepth-1, "\x90"), "", false},
		{"maps to MaxDepth", "\x82\xa4type\xa1x\xa1a" + strings.Repeat("\x81\xa1k", MaxDepth-1) + "\x01", "x", true},
		{"maps past MaxDepth", "\x82\xa4type\xa1x\xa1a" + strings.Repeat("\x81\xa1k", MaxDepth) + "\x01", "", false},
		{"10000 nested arrays", deep(10000, "\x01"), "", false},
		{"million nested maps", strings.Repeat("\x81\xa1k", 1_000_000) + "\x01", "", false},
	})
}

func TestMsgPackField(t *testing.T) {
	for _, f := range mpFormats {
		msg := "\x82\xa4type\xa1x\xa1v" + f.enc
		raw, kind, ok := MsgPack{}.Field([]byte(msg), "v")
		if !ok || string(raw) != f.enc || kind != f.kind {
			t.Errorf("%s: Field = %x, %v, %v; want %x, %v", f.name, raw, kind, ok, f.enc, f.kind)
		}
		if _, ok := (MsgPack{}).Type([]byte(msg)); !ok {
			t.Errorf("%s: Type refuses the message", f.name)
		}
	}
	msg := []byte("\x83\xa4type\xa1x\xa1s\xa3one\xa1s\xa3two")
	if raw, _, ok := (MsgPack{}).Field(msg, "s"); !ok || string(raw) != "\xa3one" {
		t.Errorf("duplicate field: got %q; want the first", raw)
	}
	for _, in := range []string{"", "\x91\x01", "\xa1s", "\x81\xa1a\x01", "\x81\x01\xa1s", "\x82\xa1a\x01\xc1"} {
		if raw, _, ok := (MsgPack{}).Field([]byte(in), "s"); ok {
			t.Errorf("Field(%x, s) = %x, true; want false", in, raw)
		}
	}
}

func TestMsgPackString(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"\xa3abc", "abc", true}, {"\xa0", "", true}, {"\xd9\x02hé"[:4], "h\xc3", true},
		{"\xd9\x03hé", "hé", true}, {"\xda\x00\x01a", "a", true}, {"\xdb\x00\x00\x00\x01a", "a", true},
		{"\xc4\x01a", "", false}, {"\xa3ab", "", false}, {"\xa1ab", "", false}, {"", "", false},
		{"\x01", "", false}, {"\xd9", "", false}, {"\xdb\xff\xff\xff\xff", "", false},
	} {
		got, ok := MsgPack{}.String([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("String(%x) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMsgPackInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"\x00", 0, true}, {"\x05", 5, true}, {"\x7f", 127, true}, {"\xff", -1, true}, {"\xe0", -32, true},
		{"\xcc\xff", 255, true}, {"\xcd\xff\xff", 65535, true}, {"\xce\xff\xff\xff\xff", 4294967295, true},
		{"\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 9223372036854775807, true},
		{"\xcf\x80\x00\x00\x00\x00\x00\x00\x00", 0, false},
		{"\xd0\x80", -128, true}, {"\xd0\x7f", 127, true}, {"\xd1\x80\x00", -32768, true},
		{"\xd2\x80\x00\x00\x00", -2147483648, true},
		{"\xd3\x80\x00\x00\x00\x00\x00\x00\x00", -9223372036854775808, true},
		{"\xd3\xff\xff\xff\xff\xff\xff\xff\xfe", -2, true},
		{"\xca\x3f\xc0\x00\x00", 0, false}, {"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", 0, false},
		{"\x05\x00", 0, false}, {"\xcd\x01", 0, false}, {"\xcc\x01\x02", 0, false}, {"", 0, false},
		{"\xa1a", 0, false}, {"\xc0", 0, false}, {"\xc3", 0, false},
	} {
		got, ok := MsgPack{}.Int([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("Int(%x) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// Every integer the library writes, in whatever format it picks, reads back.
	for _, n := range []int64{0, 1, -1, 127, 128, -32, -33, 255, 256, 65535, 65536, -129, -32769, 1 << 40, -1 << 40, -1 << 63, 1<<63 - 1} {
		for _, v := range []any{n, uint64(max(n, 0))} {
			b, err := MsgPack{}.Append(nil, v)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := MsgPack{}.Int(b)
			want, _ := v.(int64)
			if u, isU := v.(uint64); isU {
				want = int64(u)
			}
			if !ok || got != want {
				t.Errorf("Int(Append(%v) = %x) = %d, %v", v, b, got, ok)
			}
		}
	}
}

func TestMsgPackUnmarshal(t *testing.T) {
	type msg struct {
		Type  string   `json:"type"`
		Room  string   `json:"room"`
		Count int      `json:"count,omitempty"`
		Tags  []string `json:"tags"`
		Skip  string   `json:"-"`
	}
	in := msg{Type: "join-room", Room: "general", Count: 3, Tags: []string{"a"}, Skip: "no"}
	b, err := MsgPack{}.Append([]byte("prefix"), in)
	if err != nil || !bytes.HasPrefix(b, []byte("prefix")) {
		t.Fatalf("Append: %v %q", err, b)
	}
	var out msg
	if err := (MsgPack{}).Unmarshal(b[len("prefix"):], &out); err != nil {
		t.Fatal(err)
	}
	in.Skip = ""
	if out.Type != in.Type || out.Room != in.Room || out.Count != in.Count || len(out.Tags) != 1 || out.Skip != "" {
		t.Fatalf("round trip: %+v; want %+v", out, in)
	}
	var m map[string]any
	if err := (MsgPack{}).Unmarshal(b[len("prefix"):], &m); err != nil || m["room"] != "general" || len(m) != 4 {
		t.Fatalf("into map: %v %v", m, err)
	}
	for _, bad := range []string{"", "\xdf\xff\xff\xff\xff\x01", "\xdd\xff\xff\xff\xff", strings.Repeat("\x91", 100_000) + "\x01",
		"\x80\x00", "\xc1", "\xa3ab"} {
		var v any
		if err := (MsgPack{}).Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("Unmarshal(%.20x...) = %v, nil; want an error", bad, v)
		}
	}
}

func TestAppendErrorsLeaveDst(t *testing.T) {
	for _, c := range []Codec{JSON{}, MsgPack{}} {
		dst := []byte("keep")
		got, err := c.Append(dst, make(chan int))
		if err == nil || string(got) != "keep" {
			t.Errorf("%s: Append(chan) = %q, %v; want dst and an error", c.Name(), got, err)
		}
		got, err = c.AppendAck(dst, []byte("1"), func() {})
		if err == nil || string(got) != "keep" {
			t.Errorf("%s: AppendAck(func) = %q, %v; want dst and an error", c.Name(), got, err)
		}
	}
}

// TestMsgPackDecodeStartsNoGoroutine: decoding into values with pointer fields must not start
// goroutines (msgpack's UsePreallocateValues starts one per type that never ends), nor trust a
// length prefix to preallocate.
func TestMsgPackDecodeStartsNoGoroutine(t *testing.T) {
	type inner struct{ N int }
	type outer struct {
		P  *inner
		M  map[string]*inner
		XS []*inner
	}
	data, err := MsgPack{}.Append(nil, outer{P: &inner{1}, M: map[string]*inner{"a": {2}}, XS: []*inner{{3}}})
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	for i := 0; i < 10; i++ {
		var v outer
		if err := (MsgPack{}).Unmarshal(data, &v); err != nil || v.P == nil || v.P.N != 1 || v.XS[0].N != 3 {
			t.Fatalf("decode: %+v, %v", v, err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("goroutines %d → %d after decoding", before, after)
	}
}
