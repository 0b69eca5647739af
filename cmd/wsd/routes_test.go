package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/openspeed/wsd/engine"
)

// rtWait bounds every wait of the route tests: an upper bound for a hang, never a timing assertion.
const rtWait = 10 * time.Second

// rtStart starts newApp(cfg, nil) (no auth) on a free port and returns its address; the test's cleanup
// shuts it down.
func rtStart(t *testing.T, cfg engine.Config) (*engine.App, string) {
	t.Helper()
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	app := newApp(cfg, nil)
	if err := app.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), rtWait)
		defer cancel()
		if err := app.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return app, app.Addr().String()
}

// rtDial connects a WebSocket client to path; the server's open handler (and so its Join) has run when
// it returns.
func rtDial(t *testing.T, addr, path string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func rtWrite(t *testing.T, c *websocket.Conn, typ int, data string) {
	t.Helper()
	if err := c.WriteMessage(typ, []byte(data)); err != nil {
		t.Fatal(err)
	}
}

// rtExpect reads the next message and checks its type and payload.
func rtExpect(t *testing.T, c *websocket.Conn, typ int, want string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(rtWait))
	got, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read (want %q): %v", want, err)
	}
	if got != typ || string(data) != want {
		t.Fatalf("got type %d %q, want type %d %q", got, data, typ, want)
	}
}

// rtExpectChat reads the next message and checks that it is the chat line
// {"user","message","timestamp"}, sent after the test started (timestamps have millisecond precision).
func rtExpectChat(t *testing.T, c *websocket.Conn, user, message string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(rtWait))
	typ, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read (want %s: %s): %v", user, message, err)
	}
	var line map[string]string
	if typ != websocket.TextMessage || json.Unmarshal(data, &line) != nil ||
		len(line) != 3 || line["user"] != user || line["message"] != message {
		t.Fatalf("got type %d %q, want the JSON line {user: %q, message: %q, timestamp}", typ, data, user, message)
	}
	rtCheckTimestamp(t, line["timestamp"])
}

// jsISO is the shape of JavaScript's Date.prototype.toISOString: UTC, three fractional digits, Z.
var jsISO = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// rtCheckTimestamp checks that ts has toISOString's shape and lies between the start of the test
// binary and now (a bound, not a timing assertion).
func rtCheckTimestamp(t *testing.T, ts string) {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, ts)
	if !jsISO.MatchString(ts) || err != nil {
		t.Fatalf("timestamp %q is not toISOString's format (%v)", ts, err)
	}
	if at.Before(rtEpoch.Truncate(time.Millisecond)) || at.After(time.Now()) {
		t.Fatalf("timestamp %s is not between %s and now", ts, rtEpoch.UTC().Format(time.RFC3339Nano))
	}
}

// rtEpoch is when the test binary started.
var rtEpoch = time.Now()

// rtSilent checks that c has nothing pending: it asks the server for an answer only c gets (a
// join-room to the room it is in) and checks that this answer is the next message.
func rtSilent(t *testing.T, c *websocket.Conn, room string) {
	t.Helper()
	rtWrite(t, c, websocket.TextMessage, `{"type":"join-room","room":"`+room+`"}`)
	rtExpect(t, c, websocket.TextMessage, "Switched to room: "+room)
}

// rtExpectCloseCode reads until the server's close frame and checks its code.
func rtExpectCloseCode(t *testing.T, c *websocket.Conn, code int) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(rtWait))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, code) {
		t.Fatalf("got %v, want close %d", err, code)
	}
}

// rtHTTP does one request and returns the status and body.
func rtHTTP(t *testing.T, method, url string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: rtWait}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, got
}

// rtGetJSON GETs url, expects 200 and decodes the JSON answer into v.
func rtGetJSON(t *testing.T, url string, v any) {
	t.Helper()
	status, body := rtHTTP(t, http.MethodGet, url, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %q", url, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %q", url, err, body)
	}
}

// TestRoomsRelayRoute: /rooms/:room relays text and binary messages unchanged to the room's other
// members, never back to the sender and never to another room.
func TestRoomsRelayRoute(t *testing.T) {
	app, addr := rtStart(t, engine.Config{})
	a := rtDial(t, addr, "/rooms/r1")
	b := rtDial(t, addr, "/rooms/r1")
	c := rtDial(t, addr, "/rooms/r1")
	other := rtDial(t, addr, "/rooms/r2")

	rtWrite(t, a, websocket.TextMessage, "hi é")
	rtWrite(t, a, websocket.BinaryMessage, "\x00\x01\xfe\xff")
	rtWrite(t, a, websocket.TextMessage, "")
	for _, m := range []*websocket.Conn{b, c} {
		rtExpect(t, m, websocket.TextMessage, "hi é")
		rtExpect(t, m, websocket.BinaryMessage, "\x00\x01\xfe\xff")
		rtExpect(t, m, websocket.TextMessage, "")
	}
	rtWrite(t, b, websocket.TextMessage, "from b")
	rtExpect(t, a, websocket.TextMessage, "from b") // a's first message: its own never came back
	rtExpect(t, c, websocket.TextMessage, "from b")
	n := 0
	if err := app.Publish("r2", "r2 only", func(r engine.PublishResult) { n = r.Delivered }); n != 1 || err != nil {
		t.Fatalf("Publish r2: %d %v", n, err)
	}
	rtExpect(t, other, websocket.TextMessage, "r2 only") // r1's traffic never reached r2
}

// TestRoomsRoutesFull: at MaxRoomMembers the relay route closes the newcomer with 1013 and the chat
// route answers {"error":"Room is full"} before closing with 1013.
func TestRoomsRoutesFull(t *testing.T) {
	app, addr := rtStart(t, engine.Config{MaxRoomMembers: 1})
	rtDial(t, addr, "/rooms/solo")
	rtExpectCloseCode(t, rtDial(t, addr, "/rooms/solo"), websocket.CloseTryAgainLater)
	rtDial(t, addr, "/chat/solo2?user=first")
	late := rtDial(t, addr, "/chat/solo2?user=late")
	rtExpect(t, late, websocket.TextMessage, `{"error":"Room is full"}`)
	rtExpectCloseCode(t, late, websocket.CloseTryAgainLater)
	if app.Count("solo") != 1 || app.Count("solo2") != 1 {
		t.Fatalf("counts %d %d, want 1 1", app.Count("solo"), app.Count("solo2"))
	}
}

// TestChatRoute: /chat/:room announces a newcomer to the others; a message (plain text or the
// "message" event) goes to the others in the room as JSON {"user","message","timestamp"}, never back
// to its sender; a departure is announced to those left.
func TestChatRoute(t *testing.T) {
	_, addr := rtStart(t, engine.Config{})
	alice := rtDial(t, addr, "/chat/lobby?user=alice")
	bob := rtDial(t, addr, "/chat/lobby?user=bob")
	rtExpect(t, alice, websocket.TextMessage, "bob joined the room")

	rtWrite(t, bob, websocket.TextMessage, "hello")
	rtExpectChat(t, alice, "bob", "hello")
	rtWrite(t, alice, websocket.TextMessage, `"quoted" <b>`)
	rtExpectChat(t, bob, "alice", `"quoted" <b>`) // bob's first message: not his own line, not his join
	rtWrite(t, alice, websocket.TextMessage, `{"type":"message","content":"Hello!"}`)
	rtExpectChat(t, bob, "alice", "Hello!")
	rtWrite(t, alice, websocket.TextMessage, `{"type":"typing"}`) // no handler: a chat line as written
	rtExpectChat(t, bob, "alice", `{"type":"typing"}`)
	rtSilent(t, alice, "lobby") // none of alice's lines came back to her
	rtSilent(t, bob, "lobby")

	anon := rtDial(t, addr, "/chat/lobby")
	rtExpect(t, alice, websocket.TextMessage, "Anonymous joined the room")
	rtExpect(t, bob, websocket.TextMessage, "Anonymous joined the room")
	_ = anon.Close() // abrupt
	rtExpect(t, alice, websocket.TextMessage, "Anonymous left the room")
	rtExpect(t, bob, websocket.TextMessage, "Anonymous left the room")

	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if err := bob.WriteControl(websocket.CloseMessage, msg, time.Now().Add(rtWait)); err != nil {
		t.Fatal(err)
	}
	rtExpect(t, alice, websocket.TextMessage, "bob left the room")
	rtWrite(t, alice, websocket.TextMessage, "alone")
	rtSilent(t, alice, "lobby") // a line to an empty room goes nowhere, not back
}

// TestChatJoinRoom: join-room leaves the current room (its others hear it), joins the new one (its
// others hear it) and answers "Switched to room: R"; lines then go to the new room only. A join-room
// to the current room only answers; a missing, overlong or full room is refused with an error and the
// connection stays where it was.
func TestChatJoinRoom(t *testing.T) {
	app, addr := rtStart(t, engine.Config{MaxRoomMembers: 2})
	alice := rtDial(t, addr, "/chat/general?user=alice")
	bob := rtDial(t, addr, "/chat/general?user=bob")
	rtExpect(t, alice, websocket.TextMessage, "bob joined the room")
	carol := rtDial(t, addr, "/chat/random?user=carol")

	rtWrite(t, alice, websocket.TextMessage, `{"type":"join-room","room":"random"}`)
	rtExpect(t, alice, websocket.TextMessage, "Switched to room: random")
	rtExpect(t, bob, websocket.TextMessage, "alice left the room")
	rtExpect(t, carol, websocket.TextMessage, "alice joined the room")
	rtWrite(t, alice, websocket.TextMessage, "hello random")
	rtExpectChat(t, carol, "alice", "hello random")
	rtSilent(t, bob, "general") // bob heard nothing of it

	rtWrite(t, alice, websocket.TextMessage, `{"type":"join-room","room":"random"}`)
	rtExpect(t, alice, websocket.TextMessage, "Switched to room: random")
	for _, bad := range []struct{ event, answer string }{
		{`{"type":"join-room"}`, `{"error":"Room required"}`},
		{`{"type":"join-room","room":""}`, `{"error":"Room required"}`},
		{`{"type":"join-room","room":"` + strings.Repeat("r", engine.DefaultMaxRoomName+1) + `"}`, `{"error":"Room name too long"}`},
	} {
		rtWrite(t, alice, websocket.TextMessage, bad.event)
		rtExpect(t, alice, websocket.TextMessage, bad.answer)
	}
	dave := rtDial(t, addr, "/chat/general?user=dave") // general is full now (bob, dave)
	rtExpect(t, bob, websocket.TextMessage, "dave joined the room")
	rtWrite(t, alice, websocket.TextMessage, `{"type":"join-room","room":"general"}`)
	rtExpect(t, alice, websocket.TextMessage, `{"error":"Room is full","room":"general"}`)
	rtWrite(t, alice, websocket.TextMessage, "still in random")
	rtExpectChat(t, carol, "alice", "still in random")
	rtSilent(t, bob, "general")
	rtSilent(t, dave, "general")
	if app.Count("general") != 2 || app.Count("random") != 2 {
		t.Fatalf("counts general %d random %d, want 2 and 2", app.Count("general"), app.Count("random"))
	}

	_ = alice.Close()
	rtExpect(t, carol, websocket.TextMessage, "alice left the room") // from the room she was in last
	rtSilent(t, bob, "general")
}

// TestChatNoRoom: /chat (no room) upgrades; the connection is in no room, so a line is answered
// {"error":"Join a room first"}, until join-room puts it in one (announced there).
func TestChatNoRoom(t *testing.T) {
	app, addr := rtStart(t, engine.Config{})
	bob := rtDial(t, addr, "/chat/lobby?user=bob")
	c := rtDial(t, addr, "/chat?user=ada")
	rtWrite(t, c, websocket.TextMessage, "anyone?")
	rtExpect(t, c, websocket.TextMessage, `{"error":"Join a room first"}`)
	rtWrite(t, c, websocket.TextMessage, `{"type":"message","content":"Hello!"}`)
	rtExpect(t, c, websocket.TextMessage, `{"error":"Join a room first"}`)
	if n := len(app.Rooms()); n != 1 {
		t.Fatalf("%d rooms, want only lobby: %+v", n, app.Rooms())
	}

	rtWrite(t, c, websocket.TextMessage, `{"type":"join-room","room":"lobby"}`)
	rtExpect(t, c, websocket.TextMessage, "Switched to room: lobby")
	rtExpect(t, bob, websocket.TextMessage, "ada joined the room") // no "left" anywhere before it
	rtWrite(t, c, websocket.TextMessage, `{"type":"message","content":"Hello!"}`)
	rtExpectChat(t, bob, "ada", "Hello!")
	_ = c.Close()
	rtExpect(t, bob, websocket.TextMessage, "ada left the room")

	quiet := rtDial(t, addr, "/chat")
	_ = quiet.Close() // leaves no room: nothing to announce
	rtSilent(t, bob, "lobby")
}

// TestChatMsgPack: on a msgpack connection the chat line and the error answers are MessagePack
// (binary); the notices and the join-room answer stay text.
func TestChatMsgPack(t *testing.T) {
	_, addr := rtStart(t, engine.Config{})
	d := websocket.Dialer{Subprotocols: []string{"msgpack"}, HandshakeTimeout: rtWait}
	mp, resp, err := d.Dial("ws://"+addr+"/chat?user=mp", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = mp.Close() })
	if mp.Subprotocol() != "msgpack" {
		t.Fatalf("subprotocol %q, want msgpack", mp.Subprotocol())
	}
	rtWrite(t, mp, websocket.TextMessage, "hi")
	rtExpectMsgPack(t, mp, map[string]string{"error": "Join a room first"})
	enc, _ := msgpack.Marshal(map[string]string{"type": "join-room", "room": "lobby"})
	rtWrite(t, mp, websocket.BinaryMessage, string(enc))
	rtExpect(t, mp, websocket.TextMessage, "Switched to room: lobby")

	js := rtDial(t, addr, "/chat/lobby?user=js")
	rtExpect(t, mp, websocket.TextMessage, "js joined the room")
	rtWrite(t, js, websocket.TextMessage, "to msgpack")
	line := rtExpectMsgPack(t, mp, nil)
	if len(line) != 3 || line["user"] != "js" || line["message"] != "to msgpack" {
		t.Fatalf("msgpack chat line %v, want user js, message \"to msgpack\", timestamp", line)
	}
	rtCheckTimestamp(t, line["timestamp"])
	enc, _ = msgpack.Marshal(map[string]string{"type": "message", "content": "to json"})
	rtWrite(t, mp, websocket.BinaryMessage, string(enc))
	rtExpectChat(t, js, "mp", "to json")
}

// rtExpectMsgPack reads a binary MessagePack map of strings; with want, it must be exactly want.
func rtExpectMsgPack(t *testing.T, c *websocket.Conn, want map[string]string) map[string]string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(rtWait))
	typ, data, err := c.ReadMessage()
	var got map[string]string
	if err != nil || typ != websocket.BinaryMessage || msgpack.Unmarshal(data, &got) != nil {
		t.Fatalf("got %d %q %v, want a binary MessagePack map", typ, data, err)
	}
	if want != nil && fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	return got
}

// TestJSTime: the timestamp is what JavaScript's toISOString prints for the same instant: UTC, always
// three fractional digits (truncated, not rounded), Z.
func TestJSTime(t *testing.T) {
	east := time.FixedZone("UTC+5:30", 5*3600+1800)
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 12, 5, 13, 7, 8, 777_000_000, time.UTC), "2026-12-05T13:07:08.777Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05.000Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.UTC), "2026-01-02T03:04:05.999Z"},
		{time.Date(2026, 1, 1, 2, 0, 0, 5_000_000, east), "2025-12-31T20:30:00.005Z"},
		{time.Date(999, 1, 1, 0, 0, 0, 0, time.UTC), "0999-01-01T00:00:00.000Z"},
	} {
		if got := jsTime(tc.in); got != tc.want {
			t.Errorf("jsTime(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// rtRoom is a /rooms/:room/info answer.
type rtRoom struct {
	Room        string `json:"room"`
	Connections int    `json:"connections"`
	Messages    []struct {
		Text   string    `json:"text"`
		Binary []byte    `json:"binary"`
		At     time.Time `json:"at"`
	} `json:"messages"`
}

// TestRoomsHTTPAPI: GET /rooms lists the live rooms with their counts; GET /rooms/:room/info gives the
// count and the last RoomHistory messages (relayed and published, text and binary); a room nobody is in
// answers 0 connections and no messages.
func TestRoomsHTTPAPI(t *testing.T) {
	_, addr := rtStart(t, engine.Config{History: engine.HistoryOptions{Size: 50}})
	a := rtDial(t, addr, "/rooms/r1")
	b := rtDial(t, addr, "/rooms/r1")
	rtDial(t, addr, "/chat/lobby?user=x")

	var list []struct {
		Room        string `json:"room"`
		Connections int    `json:"connections"`
	}
	rtGetJSON(t, "http://"+addr+"/rooms", &list)
	if fmt.Sprint(list) != "[{lobby 1} {r1 2}]" {
		t.Fatalf("GET /rooms: %+v, want lobby with 1 connection and r1 with 2", list)
	}
	for i := range 60 {
		rtWrite(t, a, websocket.TextMessage, fmt.Sprintf("m%d", i))
	}
	rtWrite(t, a, websocket.BinaryMessage, "\x00\xff")
	for i := range 60 {
		rtExpect(t, b, websocket.TextMessage, fmt.Sprintf("m%d", i))
	}
	rtExpect(t, b, websocket.BinaryMessage, "\x00\xff") // everything is recorded once b has it

	var info rtRoom
	rtGetJSON(t, "http://"+addr+"/rooms/r1/info", &info)
	if info.Room != "r1" || info.Connections != 2 || len(info.Messages) != 50 {
		t.Fatalf("info: room %q, %d connections, %d messages; want r1, 2, 50",
			info.Room, info.Connections, len(info.Messages))
	}
	for i, m := range info.Messages[:49] { // the oldest kept is m11
		if want := fmt.Sprintf("m%d", i+11); m.Text != want || m.Binary != nil || m.At.IsZero() {
			t.Fatalf("message %d: %+v, want text %q with a time", i, m, want)
		}
	}
	if last := info.Messages[49]; last.Text != "" || string(last.Binary) != "\x00\xff" {
		t.Fatalf("last message %+v, want binary 00ff", last)
	}

	var count rtRoom
	rtGetJSON(t, "http://"+addr+"/rooms/r1/info?messages=0", &count)
	if count.Connections != 2 || count.Messages == nil || len(count.Messages) != 0 {
		t.Fatalf("info?messages=0: %+v, want 2 connections and messages []", count)
	}

	var none rtRoom
	rtGetJSON(t, "http://"+addr+"/rooms/nobody/info", &none)
	if none.Room != "nobody" || none.Connections != 0 || none.Messages == nil || len(none.Messages) != 0 {
		t.Fatalf("unknown room info: %+v, want connections 0 and messages []", none)
	}
}

// TestRoomsPublishRoute: POST /rooms/:room/publish sends the body to every member, as a text frame
// when it is valid UTF-8 and as a binary frame otherwise, and answers how many it reached.
func TestRoomsPublishRoute(t *testing.T) {
	_, addr := rtStart(t, engine.Config{History: engine.HistoryOptions{Size: 50}})
	members := []*websocket.Conn{rtDial(t, addr, "/rooms/news"), rtDial(t, addr, "/chat/news?user=u")}
	rtExpect(t, members[0], websocket.TextMessage, "u joined the room")
	cases := []struct {
		body string
		typ  int
	}{
		{"breaking é", websocket.TextMessage},
		{"\xff\xfe\x00", websocket.BinaryMessage},
		{"", websocket.TextMessage},
	}
	for _, tc := range cases {
		rtPublish(t, addr, "news", tc.body, 2)
		for _, m := range members {
			rtExpect(t, m, tc.typ, tc.body)
		}
	}
	rtPublish(t, addr, "empty", "x", 0)
	var info rtRoom
	rtGetJSON(t, "http://"+addr+"/rooms/news/info", &info)
	if info.Connections != 2 || len(info.Messages) != 4 || info.Messages[0].Text != "u joined the room" ||
		info.Messages[1].Text != "breaking é" || string(info.Messages[2].Binary) != "\xff\xfe\x00" {
		t.Fatalf("info after publishing: %+v", info)
	}
}

// rtPublish POSTs body to /rooms/room/publish and checks the answer {"room","delivered"}.
func rtPublish(t *testing.T, addr, room, body string, delivered int) {
	t.Helper()
	status, got := rtHTTP(t, http.MethodPost, "http://"+addr+"/rooms/"+room+"/publish", []byte(body))
	var ans struct {
		Room      string `json:"room"`
		Delivered *int   `json:"delivered"`
	}
	if status != http.StatusOK || json.Unmarshal(got, &ans) != nil || ans.Room != room ||
		ans.Delivered == nil || *ans.Delivered != delivered {
		t.Fatalf("POST publish %q to %s: %d %s, want delivered %d", body, room, status, got, delivered)
	}
}

// TestChatName: names from the query lose control characters and are cut at maxChatName runes.
func TestChatName(t *testing.T) {
	long := strings.Repeat("é", 100)
	for in, want := range map[string]string{
		"ada":            "ada",
		"a\nb\tc\x00":    "abc",
		"":               "Anonymous",
		"\x01\x02":       "Anonymous",
		long:             strings.Repeat("é", maxChatName),
		"ok\xffbad utf8": "okbad utf8",
	} {
		if got := chatName(in); got != want {
			t.Errorf("chatName(%q) = %q, want %q", in, got, want)
		}
	}
}
