package main

import (
	"testing"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/examples/internal/extest"
	"github.com/openspeed/wsd/internal/wstest"
)

func TestMain(m *testing.M) { wstest.VerifyTestMain(m) }

func start(t *testing.T) (*engine.App, string) {
	t.Helper()
	app := newApp(engine.Config{Loops: 2})
	return app, extest.Start(t, app)
}

// TestRoomsSwitch: switch-room leaves the old room (its members are told), joins the new one (its
// members are told) and confirms to the client; messages then reach the new room only.
func TestRoomsSwitch(t *testing.T) {
	app, addr := start(t)
	alice := extest.Dial(t, addr, "/ws?user=alice")
	bob := extest.Dial(t, addr, "/ws?user=bob")
	extest.ExpectJSON(t, alice, notice{Type: "user-joined", User: "bob", Room: "lobby"})
	carol := extest.Dial(t, addr, "/ws?user=carol&room=x")

	extest.Write(t, alice, `{"type":"switch-room","room":"x"}`)
	extest.ExpectJSON(t, alice, notice{Type: "room-switched", Room: "x"})
	extest.ExpectJSON(t, bob, notice{Type: "user-left", User: "alice", Room: "lobby"})
	extest.ExpectJSON(t, carol, notice{Type: "user-joined", User: "alice", Room: "x"})
	if app.Count("lobby") != 1 || app.Count("x") != 2 {
		t.Fatalf("counts lobby %d x %d, want 1 and 2", app.Count("lobby"), app.Count("x"))
	}

	extest.Write(t, alice, `{"type":"message","content":"Hello!"}`)
	want := notice{Type: "message", User: "alice", Room: "x", Content: "Hello!"}
	extest.ExpectJSON(t, alice, want)
	extest.ExpectJSON(t, carol, want)
	// Anything for bob was queued before carol got it: bob's next message is his own.
	extest.Write(t, bob, `{"type":"message","content":"anyone?"}`)
	extest.ExpectJSON(t, bob, notice{Type: "message", User: "bob", Room: "lobby", Content: "anyone?"})

	extest.CloseNormally(t, carol)
	extest.ExpectJSON(t, alice, notice{Type: "user-left", User: "carol", Room: "x"})
	extest.Write(t, alice, `{"type":"message","content":"alone"}`) // alice is not disturbed
	extest.ExpectJSON(t, alice, notice{Type: "message", User: "alice", Room: "x", Content: "alone"})
}

// TestRoomsSwitchEdgeCases: switching to the current room only confirms; a missing room is an error;
// other messages are ignored.
func TestRoomsSwitchEdgeCases(t *testing.T) {
	_, addr := start(t)
	alice := extest.Dial(t, addr, "/ws?user=alice")
	bob := extest.Dial(t, addr, "/ws?user=bob")
	extest.ExpectJSON(t, alice, notice{Type: "user-joined", User: "bob", Room: "lobby"})

	extest.Write(t, alice, `{"type":"switch-room","room":"lobby"}`)
	extest.ExpectJSON(t, alice, notice{Type: "room-switched", Room: "lobby"})
	extest.Write(t, alice, `{"type":"switch-room"}`)
	extest.ExpectJSON(t, alice, notice{Type: "error", Error: "room required"})
	extest.Write(t, alice, "plain text is ignored")
	extest.Write(t, alice, `{"type":"message","content":"still in the lobby"}`)
	want := notice{Type: "message", User: "alice", Room: "lobby", Content: "still in the lobby"}
	extest.ExpectJSON(t, alice, want)
	extest.ExpectJSON(t, bob, want) // no user-left/user-joined before it
}
