package main

import (
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/examples/internal/extest"
	"github.com/openspeed/wsd/internal/wstest"
)

func TestMain(m *testing.M) { wstest.VerifyTestMain(m) }

// badTokens are refused by both routes: wrong, empty, missing, differently cased.
var badTokens = []string{"?token=wrong", "?token=", "", "?token=SECRET-ADA"}

// TestAuthValidToken: on both routes, a valid token gets the welcome, then messages are answered
// under the token's user.
func TestAuthValidToken(t *testing.T) {
	addr := extest.Start(t, newApp(engine.Config{Loops: 2}))
	for _, path := range []string{"/protected", "/secure"} {
		c := extest.Dial(t, addr, path+"?token=secret-ada")
		extest.ExpectJSON(t, c, welcome{Type: "welcome", User: "ada"})
		extest.Write(t, c, "hi")
		extest.ExpectJSON(t, c, echoed{User: "ada", Message: "hi"})
		extest.CloseNormally(t, c)
	}
}

// TestAuthProtectedRejected: /protected upgrades any client, then sends a bad token
// {"error":"Authentication required"} and closes normally (1000, no reason).
func TestAuthProtectedRejected(t *testing.T) {
	addr := extest.Start(t, newApp(engine.Config{Loops: 2}))
	for _, q := range badTokens {
		t.Run(q, func(t *testing.T) {
			c := extest.Dial(t, addr, "/protected"+q)
			extest.Expect(t, c, `{"error":"Authentication required"}`)
			extest.ExpectClose(t, c, websocket.CloseNormalClosure, "")
		})
	}
}

// TestAuthSecureRejected: /secure refuses a bad token before the upgrade: 401 with WWW-Authenticate
// and the error text, no WebSocket; a valid client on the same server is not disturbed.
func TestAuthSecureRejected(t *testing.T) {
	addr := extest.Start(t, newApp(engine.Config{Loops: 2}))
	good := extest.Dial(t, addr, "/secure?token=secret-grace")
	extest.ExpectJSON(t, good, welcome{Type: "welcome", User: "grace"})
	for _, q := range badTokens {
		c, resp, err := extest.TryDial(addr, "/secure"+q)
		if err == nil {
			_ = c.Close()
			t.Fatalf("%s: upgraded, want 401", q)
		}
		if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
			t.Fatalf("%s: %v, want a refused handshake", q, err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "Bearer" ||
			string(body) != "Authentication required\n" {
			t.Fatalf("%s: %d %v %q, want 401, WWW-Authenticate: Bearer, the error text", q, resp.StatusCode, resp.Header, body)
		}
	}
	extest.Write(t, good, "still here")
	extest.ExpectJSON(t, good, echoed{User: "grace", Message: "still here"})
}

// TestAuthUsersAreSeparate: two valid users each get their own name.
func TestAuthUsersAreSeparate(t *testing.T) {
	addr := extest.Start(t, newApp(engine.Config{Loops: 2}))
	ada := extest.Dial(t, addr, "/protected?token=secret-ada")
	grace := extest.Dial(t, addr, "/secure?token=secret-grace")
	extest.ExpectJSON(t, grace, welcome{Type: "welcome", User: "grace"})
	extest.ExpectJSON(t, ada, welcome{Type: "welcome", User: "ada"})
	extest.Write(t, grace, "hello")
	extest.ExpectJSON(t, grace, echoed{User: "grace", Message: "hello"})
	extest.Write(t, ada, "hi")
	extest.ExpectJSON(t, ada, echoed{User: "ada", Message: "hi"})
}
