package main

import (
	"testing"

	"github.com/gorilla/websocket"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/examples/internal/extest"
	"github.com/openspeed/wsd/internal/wstest"
)

func TestMain(m *testing.M) { wstest.VerifyTestMain(m) }

func start(t *testing.T) string {
	t.Helper()
	return extest.Start(t, newApp(engine.Config{Loops: 2}))
}

func line(user, message string) chatLine { return chatLine{User: user, Message: message} }

// TestChatJoinMessageLeave: the others get the join notice (the joiner does not), a message reaches
// everyone in the room including its sender, and a disconnect is announced to those who stay.
func TestChatJoinMessageLeave(t *testing.T) {
	addr := start(t)
	alice := extest.Dial(t, addr, "/chat/general?user=alice")
	bob := extest.Dial(t, addr, "/chat/general?user=bob")
	extest.Expect(t, alice, "bob joined the room")

	extest.Write(t, alice, "hi")
	extest.ExpectJSON(t, alice, line("alice", "hi"))
	extest.ExpectJSON(t, bob, line("alice", "hi")) // bob's first message: no notice of his own join

	extest.Write(t, bob, `{"type":"typing"}`) // not a registered event: a chat message like any other
	extest.ExpectJSON(t, bob, line("bob", `{"type":"typing"}`))
	extest.ExpectJSON(t, alice, line("bob", `{"type":"typing"}`))

	extest.CloseNormally(t, bob)
	extest.Expect(t, alice, "bob left the room")
	extest.Write(t, alice, "still here") // the one who stays is not disturbed by the other's close
	extest.ExpectJSON(t, alice, line("alice", "still here"))
}

// TestChatRoomsAreSeparate: a message stays in its room; a missing user is "Anonymous".
func TestChatRoomsAreSeparate(t *testing.T) {
	addr := start(t)
	a := extest.Dial(t, addr, "/chat/one")
	b := extest.Dial(t, addr, "/chat/two?user=bob")
	extest.Write(t, a, "in one")
	extest.ExpectJSON(t, a, line("Anonymous", "in one"))
	extest.Write(t, b, "in two")
	extest.ExpectJSON(t, b, line("bob", "in two")) // not "in one" first: it never reached room two
}

// TestChatJoinRoomEvent: join-room moves the connection. The old room hears it leave, the new one
// hears it join, and its messages go to the new room only.
func TestChatJoinRoomEvent(t *testing.T) {
	addr := start(t)
	alice := extest.Dial(t, addr, "/chat/general?user=alice")
	bob := extest.Dial(t, addr, "/chat/general?user=bob")
	extest.Expect(t, alice, "bob joined the room")
	carol := extest.Dial(t, addr, "/chat/random?user=carol")

	extest.Write(t, alice, `{"type":"join-room","room":"random"}`)
	extest.Expect(t, bob, "alice left the room")
	extest.Expect(t, carol, "alice joined the room")

	extest.Write(t, alice, "hello random")
	extest.ExpectJSON(t, alice, line("alice", "hello random"))
	extest.ExpectJSON(t, carol, line("alice", "hello random"))
	// Everything for bob was queued before carol got it; bob's next message is his own.
	extest.Write(t, bob, "anyone?")
	extest.ExpectJSON(t, bob, line("bob", "anyone?"))

	extest.CloseNormally(t, alice)
	extest.Expect(t, carol, "alice left the room")
}

// TestChatJoinRoomSameOrEmpty: joining the room one is in, or no room, changes nothing.
func TestChatJoinRoomSameOrEmpty(t *testing.T) {
	addr := start(t)
	alice := extest.Dial(t, addr, "/chat/general?user=alice")
	bob := extest.Dial(t, addr, "/chat/general?user=bob")
	extest.Expect(t, alice, "bob joined the room")
	extest.Write(t, alice, `{"type":"join-room","room":"general"}`)
	extest.Write(t, alice, `{"type":"join-room"}`)
	extest.Write(t, alice, "still here")
	extest.ExpectJSON(t, bob, line("alice", "still here"))
	extest.ExpectJSON(t, alice, line("alice", "still here"))
	if err := bob.WriteMessage(websocket.TextMessage, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	extest.ExpectJSON(t, alice, line("bob", "ok"))
}
