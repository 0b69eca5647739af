package main

import (
	"testing"

	"github.com/gorilla/websocket"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/examples/internal/extest"
	"github.com/openspeed/wsd/internal/wstest"
)

func TestMain(m *testing.M) { wstest.VerifyTestMain(m) }

// TestAuthValidToken: welcome, then messages are answered under the token's user.
func TestAuthValidToken(t *testing.T) {
	addr := extest.Start(t, newApp(engine.Config{Loops: 2}))
	c := extest.Dial(t, addr, "/ws?token=secret-ada")
	extest.ExpectJSON(t, c, welcome{Type: "welcome", User: "ada"})
	extest.Write(t, c, "hi")
	extest.ExpectJSON(t, c, echoed{User: "ada", Message: "hi"})
	extest.CloseNormally(t, c)
}

// TestAuthRejected: a wrong, empty, missing or differently cased token gets {"error":"Unauthorized"}
// and then close 1008 "unauthorized".
func TestAuthRejected(t *testing.T) {
	addr := extest.Start(t, newApp(engine.Config{Loops: 2}))
	for _, path := range []string{"/ws?token=wrong", "/ws?token=", "/ws", "/ws?token=SECRET-ADA"} {
		t.Run(path, func(t *testing.T) {
			c := extest.Dial(t, addr, path)
			extest.ExpectJSON(t, c, failure{Error: "Unauthorized"})
			extest.ExpectClose(t, c, websocket.ClosePolicyViolation, "unauthorized")
		})
	}
}

// TestAuthUsersAreSeparate: two valid users each get their own name.
func TestAuthUsersAreSeparate(t *testing.T) {
	addr := extest.Start(t, newApp(engine.Config{Loops: 2}))
	ada := extest.Dial(t, addr, "/ws?token=secret-ada")
	grace := extest.Dial(t, addr, "/ws?token=secret-grace")
	extest.ExpectJSON(t, grace, welcome{Type: "welcome", User: "grace"})
	extest.ExpectJSON(t, ada, welcome{Type: "welcome", User: "ada"})
	extest.Write(t, grace, "hello")
	extest.ExpectJSON(t, grace, echoed{User: "grace", Message: "hello"})
}
