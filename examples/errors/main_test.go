package main

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/examples/internal/extest"
	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

func TestMain(m *testing.M) { wstest.VerifyTestMain(m) }

func start(t *testing.T) (*extest.Recorder, string) {
	t.Helper()
	rec := extest.NewRecorder()
	return rec, extest.Start(t, newApp(engine.Config{Loops: 2, Logger: rec.Logger()}))
}

// TestErrorsInvalidMessages: whatever is not a known event gets the error answer, and the connection
// stays usable.
func TestErrorsInvalidMessages(t *testing.T) {
	_, addr := start(t)
	c := extest.Dial(t, addr, "/robust")
	for _, msg := range []string{
		`{nope`, `[1,2]`, `"str"`, `42`, ``, `{"type":5}`, `{"type":"unknown"}`, `{"text":"no type"}`,
		`{"type":"echo"} trailing`, strings.Repeat("[", 100000),
	} {
		extest.Write(t, c, msg)
		extest.ExpectJSON(t, c, invalid)
	}
	if err := c.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"echo"}`)); err != nil {
		t.Fatal(err)
	}
	extest.ExpectJSON(t, c, invalid) // JSON events are text messages
	extest.Write(t, c, `{"type":"echo","text":"still fine"}`)
	extest.ExpectJSON(t, c, echo{Type: "echo", Text: "still fine"})
}

// TestErrorsPanic: a panicking handler closes its own connection with 1011 and reports an
// *engine.PanicError to the error handler; another client keeps working.
func TestErrorsPanic(t *testing.T) {
	rec, addr := start(t)
	victim := extest.Dial(t, addr, "/robust")
	other := extest.Dial(t, addr, "/robust")
	extest.Write(t, victim, `{"type":"crash"}`)
	extest.ExpectClose(t, victim, websocket.CloseInternalServerErr, "")

	got := rec.WaitFor(t, "connection error", nil)
	if !got.Attrs["panic"].Bool() || got.Attrs["event"].String() != "event" ||
		!strings.Contains(got.Attrs["err"].String(), "crash requested") {
		t.Fatalf("error handler saw %v, want a PanicError of an event handler", got.Attrs)
	}
	rec.WaitFor(t, "closed", func(r extest.Record) bool {
		return strings.Contains(r.Attrs["err"].String(), "crash requested")
	})

	extest.Write(t, other, `{"type":"echo","text":"unaffected"}`)
	extest.ExpectJSON(t, other, echo{Type: "echo", Text: "unaffected"})
}

// TestErrorsProtocolViolation: invalid UTF-8 in a text frame reaches the error handler as a protocol
// error (not a panic) and closes the connection with 1007.
func TestErrorsProtocolViolation(t *testing.T) {
	rec, addr := start(t)
	r := wstest.Dial(t, addr, "/robust")
	r.Send(true, frame.OpText, []byte{'h', 'i', 0xff})
	r.ExpectClose(frame.CloseInvalidPayload)
	r.CloseHandshake(frame.CloseInvalidPayload)
	got := rec.WaitFor(t, "connection error", nil)
	if got.Attrs["panic"].Bool() {
		t.Fatalf("error handler saw %v, want a protocol error", got.Attrs)
	}
}
