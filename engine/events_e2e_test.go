package engine_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/openspeed/wsd/dispatch"
	"github.com/openspeed/wsd/engine"
)

// Custom events end to end: what reaches ws.On / Handlers.Events and what reaches the message
// handler, acknowledgements, MessagePack negotiation, hostile input, and handler panics.
//
// Every route of newEvServer answers so the client can see which handler ran, in order:
//
//	event handler    "event:<type>:<room>:<n>" (Send of a string: always a text frame)
//	message handler  "message:<text>" for text, "binary:<len>" for binary

// evWait bounds every wait of the event tests: an upper bound for a hang, never a timing assertion.
const evWait = 10 * time.Second

// evServer is an App plus what its handlers report.
type evServer struct {
	app    *engine.App
	addr   string
	errs   chan error            // Error handler
	closes chan engine.CloseInfo // Close handler
}

// newEvServer starts an App (engine.StartApp) with the route that route installs.
func newEvServer(t *testing.T, route func(s *evServer, a *engine.App)) *evServer {
	t.Helper()
	s := &evServer{errs: make(chan error, 16), closes: make(chan engine.CloseInfo, 16)}
	s.app, s.addr = engine.StartApp(t, engine.Config{}, func(a *engine.App) { route(s, a) })
	return s
}

func evMessage(ws *engine.Conn, m engine.Message) {
	if m.Opcode() == engine.OpBinary {
		_ = ws.Send(fmt.Sprintf("binary:%d", len(m.Data())))
		return
	}
	_ = ws.Send("message:" + m.Text())
}

func evEvent(ws *engine.Conn, e engine.Event) {
	_ = ws.Send(fmt.Sprintf("event:%s:%s:%d", e.Type(), e.String("room"), e.Int("n")))
}

// seedRoute is /seed in the seed style: ws.On for join-room and ack, ws.OnMessage for the rest.
func (s *evServer) seedRoute(a *engine.App) {
	a.WS("/seed", func(ws *engine.Conn, _ *engine.Context) {
		ws.On("join-room", func(e engine.Event) { evEvent(ws, e) })
		ws.On("decode", func(e engine.Event) {
			var v struct {
				Room  string         `json:"room" msgpack:"room"`
				Extra map[string]any `json:"extra" msgpack:"extra"`
			}
			err := e.Decode(&v)
			_ = ws.Send(fmt.Sprintf("decoded:%s:%v:%v", v.Room, v.Extra["list"], err))
		})
		ws.On("ack", func(e engine.Event) {
			if err := e.Reply(map[string]any{"ok": true, "room": e.String("room")}); err != nil {
				_ = ws.Send("reply error: " + err.Error())
			}
		})
		ws.On("struct", func(engine.Event) {
			_ = ws.Send(evPayload{Room: "x", N: 3, Tags: []string{"a", "b"}})
		})
		ws.OnMessage(func(m engine.Message) { evMessage(ws, m) })
	})
}

// evPayload is what the "struct" event sends with ws.Send.
type evPayload struct {
	Room string   `json:"room"`
	N    int      `json:"n"`
	Tags []string `json:"tags"`
}

// routeRoute is /route with shared handlers; the connection's own ws.On("b") overrides the route's.
func (s *evServer) routeRoute(a *engine.App) {
	a.Route("/route", engine.Handlers{
		Open: func(ws *engine.Conn, _ *engine.Context) {
			ws.On("b", func(engine.Event) { _ = ws.Send("own:b") })
		},
		Message: evMessage,
		Events: map[string]func(*engine.Conn, engine.Event){
			"join-room": evEvent,
			"a":         func(ws *engine.Conn, _ engine.Event) { _ = ws.Send("route:a") },
			"b":         func(ws *engine.Conn, _ engine.Event) { _ = ws.Send("route:b") },
		},
	})
}

// panicRoute is /panic: "boom" panics in a route event handler, "own-boom" in a ws.On handler.
func (s *evServer) panicRoute(a *engine.App) {
	a.Route("/panic", engine.Handlers{
		Open: func(ws *engine.Conn, _ *engine.Context) {
			ws.On("own-boom", func(engine.Event) { panic("own boom") })
		},
		Message: evMessage,
		Events: map[string]func(*engine.Conn, engine.Event){
			"boom":      func(*engine.Conn, engine.Event) { panic("route boom") },
			"join-room": evEvent,
		},
		Error: func(_ *engine.Conn, err error) { engine.Report(s.errs, err) },
		Close: func(_ *engine.Conn, info engine.CloseInfo) { engine.Report(s.closes, info) },
	})
}

func evWrite(t *testing.T, c *gorilla.Conn, typ int, data []byte) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(evWait))
	if err := c.WriteMessage(typ, data); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func evRead(t *testing.T, c *gorilla.Conn) (int, []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(evWait))
	typ, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, data
}

// evExpect reads the next message and checks that it is the text want.
func evExpect(t *testing.T, c *gorilla.Conn, want string) {
	t.Helper()
	typ, data := evRead(t, c)
	if typ != gorilla.TextMessage || string(data) != want {
		t.Fatalf("got type %d %.80q, want text %q", typ, data, want)
	}
}

// evRoundTrip sends text and expects the answer want.
func evRoundTrip(t *testing.T, c *gorilla.Conn, text, want string) {
	t.Helper()
	evWrite(t, c, gorilla.TextMessage, []byte(text))
	evExpect(t, c, want)
}

func evMsgPack(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// evReadMsgPack reads the next message, which must be a binary MessagePack map.
func evReadMsgPack(t *testing.T, c *gorilla.Conn) map[string]any {
	t.Helper()
	typ, data := evRead(t, c)
	var m map[string]any
	if typ != gorilla.BinaryMessage {
		t.Fatalf("got type %d %q, want a binary MessagePack message", typ, data)
	}
	if err := msgpack.Unmarshal(data, &m); err != nil {
		t.Fatalf("%x does not decode as a MessagePack map: %v", data, err)
	}
	return m
}

// evSeedShapes are the seed's shapes and near misses, with the answer of /seed and /route.
var evSeedShapes = []struct{ in, want string }{
	{`{"type":"join-room","room":"general"}`, "event:join-room:general:0"},
	{`{"room":"x","n":7,"type":"join-room","extra":{"type":"leave"}}`, "event:join-room:x:7"},
	{` { "type" : "join-room" , "room" : "sp ace" } `, "event:join-room:sp ace:0"},
	{`{"type":"join\u002droom","room":"esc\"aped"}`, `event:join-room:esc"aped:0`},
	{`{"type":"join-room","n":1.5}`, "event:join-room::0"},
	{"hello", "message:hello"},
	{`{"type":"leave-room","room":"x"}`, `message:{"type":"leave-room","room":"x"}`},
	{`{"type":"JOIN-ROOM"}`, `message:{"type":"JOIN-ROOM"}`},
	{`{"room":"x"}`, `message:{"room":"x"}`},
	{`{"data":{"type":"join-room"}}`, `message:{"data":{"type":"join-room"}}`},
	{`{}`, `message:{}`},
}

// TestEventsSeedStyle: ws.On handlers get the seed's event shapes with their fields; everything else
// (plain text, unhandled or nested types) goes to the message handler, in arrival order.
func TestEventsSeedStyle(t *testing.T) {
	s := newEvServer(t, (*evServer).seedRoute)
	c, _ := engine.DialGorilla(t, s.addr, "/seed", engine.GorillaOpts{})
	for _, tc := range evSeedShapes {
		evWrite(t, c, gorilla.TextMessage, []byte(tc.in))
	}
	for _, tc := range evSeedShapes {
		evExpect(t, c, tc.want)
	}
	evRoundTrip(t, c, `{"type":"decode","room":"r","extra":{"list":[1,"two"]}}`, "decoded:r:[1 two]:<nil>")
	evWrite(t, c, gorilla.BinaryMessage, []byte(`{"type":"join-room"}`))
	evExpect(t, c, "binary:20") // a JSON connection's binary message is never an event
}

// TestEventsRouteHandlers: Handlers.Events dispatch the same shapes; a connection's own ws.On wins
// over the route's handler of the same type.
func TestEventsRouteHandlers(t *testing.T) {
	s := newEvServer(t, (*evServer).routeRoute)
	c, _ := engine.DialGorilla(t, s.addr, "/route", engine.GorillaOpts{})
	for _, tc := range evSeedShapes {
		evRoundTrip(t, c, tc.in, tc.want)
	}
	evRoundTrip(t, c, `{"type":"a"}`, "route:a")
	evRoundTrip(t, c, `{"type":"b"}`, "own:b")
	evRoundTrip(t, c, `{"type":"c"}`, `message:{"type":"c"}`)
}

// TestEventsAck: Reply sends {"type":"ack","id":<id as sent>,"data":v}; numeric and string ids are
// copied as they are; an event without id cannot be acknowledged.
func TestEventsAck(t *testing.T) {
	s := newEvServer(t, (*evServer).seedRoute)
	c, _ := engine.DialGorilla(t, s.addr, "/seed", engine.GorillaOpts{})
	for _, tc := range []struct{ id, want string }{
		{`7`, `7`},
		{`"req-1"`, `"req-1"`},
		{`-12`, `-12`},
		{`1.5e3`, `1.5e3`},
		{`"é\"x"`, `"é\"x"`},
		{`12345678901234567890`, `12345678901234567890`},
	} {
		evRoundTrip(t, c, `{"type":"ack","room":"r","id":`+tc.id+`}`,
			`{"type":"ack","id":`+tc.want+`,"data":{"ok":true,"room":"r"}}`)
	}
	evRoundTrip(t, c, `{"type":"ack","room":"r"}`, "reply error: "+dispatch.ErrNoID.Error())
}

// TestEventsMsgPack: a client offering "msgpack" gets it in the 101; a binary MessagePack map with a
// handled "type" is an event, its ack and ws.Send(struct) arrive as binary MessagePack; other binary
// maps and text messages keep their own rules.
func TestEventsMsgPack(t *testing.T) {
	s := newEvServer(t, (*evServer).seedRoute)
	c, resp := engine.DialGorilla(t, s.addr, "/seed", engine.GorillaOpts{Protocols: []string{"msgpack"}})
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "msgpack" || c.Subprotocol() != "msgpack" {
		t.Fatalf("selected %q, want msgpack", got)
	}
	evWrite(t, c, gorilla.BinaryMessage, evMsgPack(t, map[string]any{"type": "join-room", "room": "x"}))
	evExpect(t, c, "event:join-room:x:0") // a string is sent as text on any connection
	evWrite(t, c, gorilla.BinaryMessage, evMsgPack(t, map[string]any{"type": "join-room", "room": "y", "n": 300}))
	evExpect(t, c, "event:join-room:y:300")
	evWrite(t, c, gorilla.BinaryMessage, evMsgPack(t, map[string]any{"type": "decode", "room": "r",
		"extra": map[string]any{"list": []any{1, "two"}}}))
	evExpect(t, c, "decoded:r:[1 two]:<nil>")

	evWrite(t, c, gorilla.BinaryMessage, evMsgPack(t, map[string]any{"type": "struct"}))
	got := evReadMsgPack(t, c)
	if fmt.Sprint(got) != "map[n:3 room:x tags:[a b]]" {
		t.Fatalf("ws.Send(struct) decoded to %v", got)
	}
	evWrite(t, c, gorilla.BinaryMessage, evMsgPack(t, map[string]any{"type": "ack", "id": 9, "room": "m"}))
	ack := evReadMsgPack(t, c)
	if fmt.Sprint(ack) != "map[data:map[ok:true room:m] id:9 type:ack]" {
		t.Fatalf("ack decoded to %v", ack)
	}

	other := evMsgPack(t, map[string]any{"type": "nobody", "room": "x"})
	evWrite(t, c, gorilla.BinaryMessage, other)
	evExpect(t, c, fmt.Sprintf("binary:%d", len(other)))
	evRoundTrip(t, c, `{"type":"join-room","room":"text"}`, "event:join-room:text:0") // JSON text still works
	evRoundTrip(t, c, "plain", "message:plain")
}

// TestEventsSubprotocolFallback: "json", no offer, or an unknown "foo" all end in JSON; "foo" is not
// echoed (the handshake succeeds without a subprotocol); the first supported offer wins.
func TestEventsSubprotocolFallback(t *testing.T) {
	s := newEvServer(t, (*evServer).seedRoute)
	for _, tc := range []struct {
		offer []string
		want  string
	}{{[]string{"json"}, "json"}, {nil, ""}, {[]string{"foo"}, ""}, {[]string{"foo", "json", "msgpack"}, "json"}} {
		c, resp := engine.DialGorilla(t, s.addr, "/seed", engine.GorillaOpts{Protocols: tc.offer})
		if _, sent := resp.Header["Sec-Websocket-Protocol"]; c.Subprotocol() != tc.want || (tc.want == "" && sent) {
			t.Fatalf("offer %v: selected %q (header %v), want %q", tc.offer, c.Subprotocol(), resp.Header, tc.want)
		}
		evRoundTrip(t, c, `{"type":"struct"}`, `{"room":"x","n":3,"tags":["a","b"]}`)
		mp := evMsgPack(t, map[string]any{"type": "join-room", "room": "x"})
		evWrite(t, c, gorilla.BinaryMessage, mp)
		evExpect(t, c, fmt.Sprintf("binary:%d", len(mp)))
	}
	c, _ := engine.DialGorilla(t, s.addr, "/seed", engine.GorillaOpts{Protocols: []string{"foo", "msgpack"}})
	if c.Subprotocol() != "msgpack" {
		t.Fatalf("offer foo, msgpack: selected %q", c.Subprotocol())
	}
}

// TestEventsMalformedInput: malformed JSON, non-objects, non-string types, hostile nesting and invalid
// MessagePack all reach the message handler unchanged; the connection and the server carry on.
func TestEventsMalformedInput(t *testing.T) {
	s := newEvServer(t, (*evServer).seedRoute)
	c, _ := engine.DialGorilla(t, s.addr, "/seed", engine.GorillaOpts{})
	deep := `{"type":"join-room","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`
	for _, in := range []string{
		`{"type":"join-room"`, `{"type":"join-room",}`, `{"type":"join-room"}}`, `{"type":"join-room"} x`,
		`{'type':'join-room'}`, `{"type":"join-room" "room":"x"}`, `{"type":"join-room","room":}`,
		`[{"type":"join-room"}]`, `"join-room"`, `42`, `null`, ``, ` `,
		`{"type":5}`, `{"type":null}`, `{"type":["join-room"]}`, `{"type":{"type":"join-room"}}`,
		`{"type":"join-room\u"}`, deep,
		strings.Repeat("[", 100000), strings.Repeat(`{"a":`, 50000),
	} {
		evRoundTrip(t, c, in, "message:"+in)
	}
	evRoundTrip(t, c, `{"type":"join-room","room":"after"}`, "event:join-room:after:0")

	m, _ := engine.DialGorilla(t, s.addr, "/seed", engine.GorillaOpts{Protocols: []string{"msgpack"}})
	good := evMsgPack(t, map[string]any{"type": "join-room", "room": "x"})
	for _, in := range [][]byte{
		{0xc1}, good[:len(good)-1], append(append([]byte{}, good...), 0x00),
		{0x81, 0x01, 0xa9, 'j', 'o', 'i', 'n', '-', 'r', 'o', 'o', 'm'}, // int key
		{0x81, 0xa4, 't', 'y', 'p', 'e', 0x05},                          // type is an int
		{0x91, 0xa4, 't', 'y', 'p', 'e'},                                // array
		{0xdf, 0xff, 0xff, 0xff, 0xff, 0xa4, 't', 'y', 'p', 'e'},        // map32 claiming 4G entries
		[]byte(strings.Repeat("\x91", 100000) + "\xc0"),                 // 100k nested arrays
		[]byte(strings.Repeat("\x81\xa1a", 50000) + "\xc0"),             // 50k nested maps
		evMsgPack(t, "join-room"), {},
	} {
		evWrite(t, m, gorilla.BinaryMessage, in)
		evExpect(t, m, fmt.Sprintf("binary:%d", len(in)))
	}
	evWrite(t, m, gorilla.BinaryMessage, good)
	evExpect(t, m, "event:join-room:x:0")
}

// TestEventsHandlerPanic: a panicking event handler (route or own) reports an *engine.PanicError to the
// error handler and closes its connection with 1011; another client is unaffected.
func TestEventsHandlerPanic(t *testing.T) {
	s := newEvServer(t, (*evServer).panicRoute)
	other, _ := engine.DialGorilla(t, s.addr, "/panic", engine.GorillaOpts{})
	for _, typ := range []string{"boom", "own-boom"} {
		victim, _ := engine.DialGorilla(t, s.addr, "/panic", engine.GorillaOpts{})
		evWrite(t, victim, gorilla.TextMessage, []byte(`{"type":"`+typ+`"}`))
		_ = victim.SetReadDeadline(time.Now().Add(evWait))
		_, data, err := victim.ReadMessage()
		if !gorilla.IsCloseError(err, gorilla.CloseInternalServerErr) {
			t.Fatalf("%s: got %q, %v; want close 1011", typ, data, err)
		}
		var pe *engine.PanicError
		select {
		case got := <-s.errs:
			if !errors.As(got, &pe) || pe.Event != "event" || pe.Route != "/panic" || len(pe.Stack) == 0 {
				t.Fatalf("%s: error handler got %#v, want a *engine.PanicError of an event", typ, got)
			}
		case <-time.After(evWait):
			t.Fatalf("%s: the error handler did not run", typ)
		}
		select {
		case info := <-s.closes:
			if !errors.As(info.Err, &pe) {
				t.Fatalf("%s: CloseInfo.Err = %v, want the PanicError", typ, info.Err)
			}
		case <-time.After(evWait):
			t.Fatalf("%s: the close handler did not run", typ)
		}
		evRoundTrip(t, other, `{"type":"join-room","room":"ok"}`, "event:join-room:ok:0")
	}
}
