package dispatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/openspeed/wsd/frame"
	"github.com/vmihailenco/msgpack/v5"
)

// fakeSender records what Reply sends.
type fakeSender struct {
	ops      []frame.Opcode
	payloads [][]byte
	err      error
}

func (s *fakeSender) SendFrame(op frame.Opcode, payload []byte) error {
	s.ops = append(s.ops, op)
	s.payloads = append(s.payloads, payload)
	return s.err
}

// decodeAny decodes a codec's output with the reference library (encoding/json or msgpack/v5).
func decodeAny(t *testing.T, c Codec, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	var err error
	if c.Binary() {
		err = msgpack.Unmarshal(b, &m)
	} else {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber() // ids such as 1<<40 print as sent
		err = dec.Decode(&m)
	}
	if err != nil {
		t.Fatalf("%s: decode %q: %v", c.Name(), b, err)
	}
	return m
}

func TestAppendAck(t *testing.T) {
	for _, c := range []Codec{JSON{}, MsgPack{}} {
		for _, id := range []any{7, -300, int64(1 << 40), "req-1", ""} {
			rawID, err := c.Append(nil, id)
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.AppendAck([]byte("pre"), rawID, map[string]any{"ok": true, "n": 2})
			if err != nil || !bytes.HasPrefix(out, []byte("pre")) {
				t.Fatalf("%s: AppendAck: %v, %q", c.Name(), err, out)
			}
			out = out[len("pre"):]
			m := decodeAny(t, c, out)
			data, _ := m["data"].(map[string]any)
			if len(m) != 3 || m["type"] != "ack" || fmt.Sprint(m["id"]) != fmt.Sprint(id) || data["ok"] != true {
				t.Errorf("%s id %v: ack decodes to %v", c.Name(), id, m)
			}
			if typ, ok := c.Type(out); !ok || string(typ) != "ack" {
				t.Errorf("%s: Type(ack) = %q, %v", c.Name(), typ, ok)
			}
			if raw, _, _ := c.Field(out, "id"); !bytes.Equal(raw, rawID) {
				t.Errorf("%s: ack id = %x; want %x copied as-is", c.Name(), raw, rawID)
			}
		}
		out, err := c.AppendAck(nil, nil, "x")
		if m := decodeAny(t, c, out); err != nil || m["id"] != nil || m["data"] != "x" {
			t.Errorf("%s: ack without id: %v %v", c.Name(), m, err)
		}
	}
	out, _ := JSON{}.AppendAck(nil, []byte(`"a"`), nil)
	if string(out) != `{"type":"ack","id":"a","data":null}` {
		t.Errorf("JSON ack = %s", out)
	}
	out, _ = MsgPack{}.AppendAck(nil, []byte("\x07"), nil)
	if string(out) != "\x83\xa4type\xa3ack\xa2id\x07\xa4data\xc0" {
		t.Errorf("MsgPack ack = %x", out)
	}
}

// eventOf encodes v with c and builds the Event the engine would.
func eventOf(t *testing.T, c Codec, v any, s Sender) Event {
	t.Helper()
	b, err := c.Append(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	typ, ok := c.Type(b)
	if !ok {
		t.Fatalf("%s: Type refuses %q", c.Name(), b)
	}
	return NewEvent(string(typ), b, c, s)
}

func TestEventAccessors(t *testing.T) {
	msg := map[string]any{"type": "join-room", "room": "général", "seq": 42, "neg": -7, "f": 1.5,
		"big": uint64(1 << 63), "nil": nil, "id": "r1", "nested": map[string]any{"room": "inner"}}
	for _, c := range []Codec{JSON{}, MsgPack{}} {
		e := eventOf(t, c, msg, nil)
		checks := []struct {
			what      string
			got, want any
		}{
			{"Type", e.Type(), "join-room"},
			{"Codec", e.Codec().Name(), c.Name()},
			{"String(room)", e.String("room"), "général"},
			{"String(seq)", e.String("seq"), ""},
			{"String(missing)", e.String("missing"), ""},
			{"Int(seq)", e.Int("seq"), int64(42)},
			{"Int(neg)", e.Int("neg"), int64(-7)},
			{"Int(f)", e.Int("f"), int64(0)},
			{"Int(big)", e.Int("big"), int64(0)},
			{"Int(room)", e.Int("room"), int64(0)},
			{"Has(nil)", e.Has("nil"), true},
			{"Has(missing)", e.Has("missing"), false},
			{"ID", string(e.ID()), string(mustAppend(t, c, "r1"))},
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Errorf("%s: %s = %v; want %v", c.Name(), ch.what, ch.got, ch.want)
			}
		}
		if typ, _ := c.Type(e.Raw()); string(typ) != "join-room" {
			t.Errorf("%s: Raw is not the message", c.Name())
		}
	}
}

func mustAppend(t *testing.T, c Codec, v any) []byte {
	t.Helper()
	b, err := c.Append(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEventDecode(t *testing.T) {
	type joinRoom struct {
		Type string            `json:"type"`
		Room string            `json:"room"`
		Seq  int               `json:"seq"`
		Meta map[string]string `json:"meta"`
	}
	want := joinRoom{"join-room", "general", 3, map[string]string{"k": "v"}}
	for _, c := range []Codec{JSON{}, MsgPack{}} {
		e := eventOf(t, c, want, nil)
		var got joinRoom
		if err := e.Decode(&got); err != nil || got.Room != want.Room || got.Seq != 3 || got.Meta["k"] != "v" {
			t.Errorf("%s: Decode = %+v, %v", c.Name(), got, err)
		}
		raw := e.Raw()
		raw[len(raw)/2] ^= 0xff // the decoded value must not alias the message
		if got.Room != "general" || got.Meta["k"] != "v" {
			t.Errorf("%s: decoded value changed with the message bytes", c.Name())
		}
	}
}

func TestEventReply(t *testing.T) {
	for _, c := range []Codec{JSON{}, MsgPack{}} {
		s := &fakeSender{}
		e := eventOf(t, c, map[string]any{"type": "sum", "id": 9, "a": 1}, s)
		if err := e.Reply(map[string]any{"sum": 3}); err != nil {
			t.Fatal(err)
		}
		wantOp := frame.OpText
		if c.Binary() {
			wantOp = frame.OpBinary
		}
		if len(s.ops) != 1 || s.ops[0] != wantOp {
			t.Fatalf("%s: sent ops %v; want one %v", c.Name(), s.ops, wantOp)
		}
		m := decodeAny(t, c, s.payloads[0])
		if m["type"] != "ack" || fmt.Sprint(m["id"]) != "9" || fmt.Sprint(m["data"]) != "map[sum:3]" {
			t.Errorf("%s: reply = %v", c.Name(), m)
		}
		if c.Name() == "json" && string(s.payloads[0]) != `{"type":"ack","id":9,"data":{"sum":3}}` {
			t.Errorf("json reply = %s", s.payloads[0])
		}

		noID := eventOf(t, c, map[string]any{"type": "sum"}, s)
		if err := noID.Reply(1); !errors.Is(err, ErrNoID) || len(s.ops) != 1 {
			t.Errorf("%s: Reply without id = %v (sent %d)", c.Name(), err, len(s.ops))
		}
		s.err = errors.New("closed")
		if err := e.Reply(1); err != s.err {
			t.Errorf("%s: Reply = %v; want the sender's error", c.Name(), err)
		}
		if err := e.Reply(make(chan int)); err == nil || len(s.ops) != 2 {
			t.Errorf("%s: Reply(chan) = %v; want an encoding error and nothing sent", c.Name(), err)
		}
	}
}

func TestZeroEvent(t *testing.T) {
	var e Event
	if e.String("a") != "" || e.Int("a") != 0 || e.Has("a") || e.ID() != nil || e.Raw() != nil || e.Type() != "" {
		t.Fatal("zero Event accessors")
	}
	if err := e.Reply(1); !errors.Is(err, ErrNoID) {
		t.Fatalf("zero Event Reply = %v", err)
	}
	if e.Decode(new(any)) == nil {
		t.Fatal("zero Event Decode succeeded")
	}
	e = NewEvent("t", []byte(`{"type":"t","id":1}`), JSON{}, nil)
	if err := e.Reply(1); err == nil {
		t.Fatal("Reply without a Sender succeeded")
	}
}

func TestCodecFor(t *testing.T) {
	if c := CodecFor("json"); c == nil || c.Name() != "json" || c.Binary() {
		t.Errorf("CodecFor(json) = %v", c)
	}
	if c := CodecFor("msgpack"); c == nil || c.Name() != "msgpack" || !c.Binary() {
		t.Errorf("CodecFor(msgpack) = %v", c)
	}
	for _, name := range []string{"", "JSON", "MsgPack", "cbor", "json "} {
		if c := CodecFor(name); c != nil {
			t.Errorf("CodecFor(%q) = %v; want nil", name, c)
		}
	}
}

func TestNoAllocations(t *testing.T) {
	seed := []byte(`{"type":"join-room","room":"general","seq":12}`)
	mp := []byte("\x83\xa4type\xa9join-room\xa4room\xa7general\xa3seq\x0c")
	var sink []byte
	var n int64
	num := []byte("-1234567")
	var jc, mc Codec = JSON{}, MsgPack{}
	je, me := NewEvent("join-room", seed, jc, nil), NewEvent("join-room", mp, mc, nil)
	for name, f := range map[string]func(){
		"JSON Type":         func() { sink, _ = jc.Type(seed) },
		"JSON Field":        func() { sink, _, _ = jc.Field(seed, "seq") },
		"JSON Int":          func() { n, _ = jc.Int(num) },
		"MsgPack Type":      func() { sink, _ = mc.Type(mp) },
		"MsgPack Field":     func() { sink, _, _ = mc.Field(mp, "seq") },
		"NewEvent":          func() { je = NewEvent("join-room", seed, jc, nil) },
		"Event Int and Has": func() { n = je.Int("seq") + me.Int("seq"); _ = je.Has("room") && me.Has("room") },
		"Event ID":          func() { sink = je.ID() },
		"CodecFor":          func() { jc = CodecFor("json") },
	} {
		if a := testing.AllocsPerRun(100, f); a != 0 {
			t.Errorf("%s: %v allocations per run; want 0", name, a)
		}
	}
	_, _ = sink, n
}
