package main

import (
	"testing"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/examples/internal/extest"
	"github.com/openspeed/wsd/internal/wstest"
)

func TestMain(m *testing.M) { wstest.VerifyTestMain(m) }

// TestContextWhoami: room, readyState 1, decoded params and query, subprotocol and the peer address.
func TestContextWhoami(t *testing.T) {
	rec := extest.NewRecorder()
	addr := extest.Start(t, newApp(engine.Config{Loops: 2, Logger: rec.Logger()}))
	c := extest.Dial(t, addr, "/ctx/caf%C3%A9?user=ada&lang=go%20lang&lang=second", "json")
	want := info{
		Room:        "café",
		ReadyState:  1,
		State:       "OPEN",
		Params:      map[string]string{"room": "café"},
		Query:       map[string]string{"user": "ada", "lang": "go lang"},
		Subprotocol: "json",
		RemoteAddr:  c.LocalAddr().String(),
	}
	extest.Write(t, c, `{"type":"whoami"}`)
	extest.ExpectJSON(t, c, want)
	extest.Write(t, c, "any message")
	extest.ExpectJSON(t, c, want)

	extest.CloseNormally(t, c)
	r := rec.WaitFor(t, "closed", nil)
	if r.Attrs["readyState"].Int64() != 3 || r.Attrs["room"].String() != "café" || r.Attrs["code"].Int64() != 1000 {
		t.Fatalf("close handler saw %v, want readyState 3, room café, code 1000", r.Attrs)
	}
}

// TestContextNoQuery: without a query or subprotocol the fields are empty, not missing.
func TestContextNoQuery(t *testing.T) {
	addr := extest.Start(t, newApp(engine.Config{Loops: 2}))
	c := extest.Dial(t, addr, "/ctx/lobby")
	extest.Write(t, c, `{"type":"whoami"}`)
	extest.ExpectJSON(t, c, map[string]any{
		"room": "lobby", "readyState": 1, "state": "OPEN", "params": map[string]string{"room": "lobby"},
		"query": map[string]string{}, "subprotocol": "", "remoteAddr": c.LocalAddr().String(),
	})
}
