package main

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/examples/internal/extest"
	"github.com/openspeed/wsd/internal/wstest"
)

func TestMain(m *testing.M) { wstest.VerifyTestMain(m) }

func start(t *testing.T, cfg engine.Config) (*engine.App, string) {
	t.Helper()
	cfg.Loops = 2
	app := newApp(cfg)
	return app, extest.Start(t, app)
}

// isoShape is JavaScript's toISOString: UTC, three fractional digits, Z.
var isoShape = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// testStart bounds the timestamps the tests see from below.
var testStart = time.Now().Truncate(time.Millisecond)

// expectLine reads the chat line {"user","message","timestamp"} with a toISOString timestamp taken
// while the test runs (a bound, not a timing assertion).
func expectLine(t *testing.T, c *websocket.Conn, user, message string) {
	t.Helper()
	s := extest.Text(t, c)
	var got map[string]string
	if err := json.Unmarshal([]byte(s), &got); err != nil || len(got) != 3 || got["user"] != user || got["message"] != message {
		t.Fatalf("got %s, want {\"user\":%q,\"message\":%q,\"timestamp\":...}", s, user, message)
	}
	at, err := time.Parse(time.RFC3339Nano, got["timestamp"])
	if !isoShape.MatchString(got["timestamp"]) || err != nil || at.Before(testStart) || at.After(time.Now()) {
		t.Fatalf("timestamp %q: want toISOString of the sending time", got["timestamp"])
	}
}

// quiet checks that nothing is pending for c: the answer to a join-room of its own room, which only
// c gets, is its next message.
func quiet(t *testing.T, c *websocket.Conn, room string) {
	t.Helper()
	extest.Write(t, c, `{"type":"join-room","room":"`+room+`"}`)
	extest.Expect(t, c, "Switched to room: "+room)
}

// TestChatJoinMessageLeave: the others get the join notice (the joiner does not); a message, plain or
// the "message" event, reaches the others in the room and not its sender; a disconnect is announced to
// those who stay.
func TestChatJoinMessageLeave(t *testing.T) {
	_, addr := start(t, engine.Config{})
	alice := extest.Dial(t, addr, "/chat/general?user=alice")
	bob := extest.Dial(t, addr, "/chat/general?user=bob")
	carol := extest.Dial(t, addr, "/chat/general?user=carol")
	extest.Expect(t, alice, "bob joined the room")
	extest.Expect(t, alice, "carol joined the room")
	extest.Expect(t, bob, "carol joined the room") // bob's first message: no notice of his own join

	extest.Write(t, alice, `{"type":"message","content":"Hello!"}`)
	expectLine(t, bob, "alice", "Hello!")
	expectLine(t, carol, "alice", "Hello!")
	extest.Write(t, bob, "hi")
	expectLine(t, alice, "bob", "hi") // alice's first message since: her own line never came back
	expectLine(t, carol, "bob", "hi")
	extest.Write(t, bob, `{"type":"typing"}`) // no handler for "typing": a chat message as written
	expectLine(t, alice, "bob", `{"type":"typing"}`)
	expectLine(t, carol, "bob", `{"type":"typing"}`)
	quiet(t, bob, "general")

	extest.CloseNormally(t, bob)
	extest.Expect(t, alice, "bob left the room")
	extest.Expect(t, carol, "bob left the room")
	extest.Write(t, alice, "still here") // the ones who stay are not disturbed by the other's close
	expectLine(t, carol, "alice", "still here")
	quiet(t, alice, "general")
}

// TestChatRoomsAreSeparate: a message stays in its room; a missing user is "Anonymous".
func TestChatRoomsAreSeparate(t *testing.T) {
	_, addr := start(t, engine.Config{})
	a1, a2 := extest.Dial(t, addr, "/chat/one"), extest.Dial(t, addr, "/chat/one?user=x")
	extest.Expect(t, a1, "x joined the room")
	b := extest.Dial(t, addr, "/chat/two?user=bob")
	extest.Write(t, a1, "in one")
	expectLine(t, a2, "Anonymous", "in one")
	quiet(t, b, "two") // "in one" never reached room two
}

// TestChatJoinRoomEvent: join-room moves the connection and answers "Switched to room: R". The old room
// hears it leave, the new one hears it join, and its messages go to the new room only. Joining the
// current room only answers; a join-room without a room is an error.
func TestChatJoinRoomEvent(t *testing.T) {
	app, addr := start(t, engine.Config{})
	alice := extest.Dial(t, addr, "/chat/general?user=alice")
	bob := extest.Dial(t, addr, "/chat/general?user=bob")
	extest.Expect(t, alice, "bob joined the room")
	carol := extest.Dial(t, addr, "/chat/random?user=carol")

	extest.Write(t, alice, `{"type":"join-room","room":"random"}`)
	extest.Expect(t, alice, "Switched to room: random")
	extest.Expect(t, bob, "alice left the room")
	extest.Expect(t, carol, "alice joined the room")
	if app.Count("general") != 1 || app.Count("random") != 2 {
		t.Fatalf("counts general %d random %d, want 1 and 2", app.Count("general"), app.Count("random"))
	}
	extest.Write(t, alice, "hello random")
	expectLine(t, carol, "alice", "hello random")
	quiet(t, bob, "general") // bob got nothing of it

	extest.Write(t, alice, `{"type":"join-room","room":"random"}`)
	extest.Expect(t, alice, "Switched to room: random") // carol hears nothing: her next message is the leave
	extest.Write(t, alice, `{"type":"join-room"}`)
	extest.ExpectJSON(t, alice, failure{Error: "Room required"})
	extest.CloseNormally(t, alice)
	extest.Expect(t, carol, "alice left the room")
}

// TestChatNoRoom: /chat accepts a client in no room; a message then gets {"error":"Join a room
// first"}, and its first join-room puts it in a room (no "left" notice anywhere).
func TestChatNoRoom(t *testing.T) {
	_, addr := start(t, engine.Config{})
	bob := extest.Dial(t, addr, "/chat/general?user=bob")
	ada := extest.Dial(t, addr, "/chat?user=ada")
	extest.Write(t, ada, `{"type":"message","content":"Hello!"}`)
	extest.ExpectJSON(t, ada, failure{Error: "Join a room first"})
	extest.Write(t, ada, `{"type":"join-room","room":"general"}`)
	extest.Expect(t, ada, "Switched to room: general")
	extest.Expect(t, bob, "ada joined the room")
	extest.Write(t, ada, `{"type":"message","content":"Hello!"}`)
	expectLine(t, bob, "ada", "Hello!")
	_ = extest.Dial(t, addr, "/chat").Close() // in no room: its close is announced nowhere
	quiet(t, bob, "general")
}

// TestChatRoomFull: with a member limit, a client connecting to a full room gets {"error":"Room is
// full"} and a normal close; a join-room to a full room gets the error and leaves the client in no room.
func TestChatRoomFull(t *testing.T) {
	_, addr := start(t, engine.Config{MaxRoomMembers: 1})
	a := extest.Dial(t, addr, "/chat/solo?user=a")
	late := extest.Dial(t, addr, "/chat/solo?user=late")
	extest.ExpectJSON(t, late, failure{Error: "Room is full"})
	extest.ExpectClose(t, late, websocket.CloseNormalClosure, "")

	b := extest.Dial(t, addr, "/chat/other?user=b")
	extest.Write(t, b, `{"type":"join-room","room":"solo"}`)
	extest.ExpectJSON(t, b, failure{Error: "Room is full"})
	extest.Write(t, b, "where am I?")
	extest.ExpectJSON(t, b, failure{Error: "Join a room first"})
	quiet(t, a, "solo") // a heard nobody join
}

// TestChatMsgPack: a client that negotiated msgpack sends the message event as MessagePack and gets the
// others' lines as MessagePack (binary); notices and the join-room answer stay text.
func TestChatMsgPack(t *testing.T) {
	_, addr := start(t, engine.Config{})
	js := extest.Dial(t, addr, "/chat/general?user=js")
	mp := extest.Dial(t, addr, "/chat/general?user=mp", "msgpack")
	if mp.Subprotocol() != "msgpack" {
		t.Fatalf("subprotocol %q, want msgpack", mp.Subprotocol())
	}
	extest.Expect(t, js, "mp joined the room")
	ev, _ := msgpack.Marshal(map[string]string{"type": "message", "content": "Hello!"})
	if err := mp.WriteMessage(websocket.BinaryMessage, ev); err != nil {
		t.Fatal(err)
	}
	expectLine(t, js, "mp", "Hello!")
	extest.Write(t, js, "hi mp")
	typ, data := extest.Read(t, mp)
	var got map[string]string
	if err := msgpack.Unmarshal(data, &got); typ != websocket.BinaryMessage || err != nil ||
		got["user"] != "js" || got["message"] != "hi mp" || !isoShape.MatchString(got["timestamp"]) {
		t.Fatalf("got %d %q (%v), want a MessagePack line from js", typ, data, err)
	}
	quiet(t, mp, "general")
}
