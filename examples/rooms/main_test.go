package main

import (
	"testing"

	"github.com/gorilla/websocket"

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

// dial connects to /room/room and checks the welcome.
func dial(t *testing.T, addr, room string) *websocket.Conn {
	t.Helper()
	c := extest.Dial(t, addr, "/room/"+room)
	extest.Expect(t, c, "Welcome to room "+room+"!")
	return c
}

// quiet checks that nothing is pending for c: a switch to its own room is answered to c alone.
func quiet(t *testing.T, c *websocket.Conn, room string) {
	t.Helper()
	extest.Write(t, c, `{"type":"switch-room","room":"`+room+`"}`)
	extest.Expect(t, c, "Switched to room "+room)
}

// TestRoomsWelcome: the newcomer gets "Welcome to room R!" and only the others get "A new user
// joined"; another room hears nothing.
func TestRoomsWelcome(t *testing.T) {
	_, addr := start(t, engine.Config{})
	a := dial(t, addr, "lobby")
	other := dial(t, addr, "games")
	b := dial(t, addr, "lobby")
	extest.Expect(t, a, "A new user joined")
	quiet(t, b, "lobby") // b was not told of its own arrival
	quiet(t, other, "games")
}

// TestRoomsSwitch: switch-room leaves the old room, joins the new one (its members get "A new user
// joined") and answers "Switched to room R2"; messages then reach the new room only.
func TestRoomsSwitch(t *testing.T) {
	app, addr := start(t, engine.Config{})
	alice := dial(t, addr, "lobby")
	bob := dial(t, addr, "lobby")
	extest.Expect(t, alice, "A new user joined")
	carol := dial(t, addr, "x")

	extest.Write(t, alice, `{"type":"switch-room","room":"x"}`)
	extest.Expect(t, alice, "Switched to room x")
	extest.Expect(t, carol, "A new user joined")
	if app.Count("lobby") != 1 || app.Count("x") != 2 {
		t.Fatalf("counts lobby %d x %d, want 1 and 2", app.Count("lobby"), app.Count("x"))
	}
	extest.Write(t, alice, "hello x")
	extest.Expect(t, carol, "hello x")
	quiet(t, bob, "lobby") // bob heard neither the switch nor the message
	quiet(t, alice, "x")   // nor did alice hear her own message
}

// TestRoomsSwitchErrors: a switch-room without a room is an error; a full room (with a member limit)
// answers {"error":"Room is full"}, at connect followed by a close.
func TestRoomsSwitchErrors(t *testing.T) {
	_, addr := start(t, engine.Config{MaxRoomMembers: 1})
	a := dial(t, addr, "a")
	extest.Write(t, a, `{"type":"switch-room"}`)
	extest.ExpectJSON(t, a, failure{Error: "Room required"})
	extest.Write(t, a, `{"type":"switch-room","room":""}`)
	extest.ExpectJSON(t, a, failure{Error: "Room required"})

	late := extest.Dial(t, addr, "/room/a")
	extest.ExpectJSON(t, late, failure{Error: "Room is full"})
	extest.ExpectClose(t, late, websocket.CloseNormalClosure, "")

	b := dial(t, addr, "b")
	extest.Write(t, b, `{"type":"switch-room","room":"a"}`)
	extest.ExpectJSON(t, b, failure{Error: "Room is full"})
	quiet(t, a, "a") // no "A new user joined"
}
