package engine

import (
	"fmt"
	"strings"
	"testing"
)

// TestOnBuiltinNamesPanic: a built-in event name cannot be registered as a custom event (any client
// could fire it with {"type":"close"}): Conn.On and Handlers.Events panic, naming the method to use.
func TestOnBuiltinNamesPanic(t *testing.T) {
	app := New(Config{Logger: discardLogger()})
	for name, method := range map[string]string{"message": "OnMessage", "close": "OnClose", "error": "OnError",
		"ping": "OnPing", "pong": "OnPong", "drop": "Handlers.Drop", "drain": "Handlers.Drain", "open": "the WS open handler"} {
		msg := panicOf(func() {
			app.Route("/"+name, Handlers{Events: map[string]func(*Conn, Event){name: func(*Conn, Event) {}}})
		})
		if !strings.Contains(msg, method) || !strings.Contains(msg, `"`+name+`"`) {
			t.Errorf("Handlers.Events[%q]: panic %q, want one naming %s", name, msg, method)
		}
		var c Conn
		if msg := panicOf(func() { c.On(name, func(Event) {}) }); !strings.Contains(msg, `On("`+name+`")`) ||
			!strings.Contains(msg, method) {
			t.Errorf("On(%q): panic %q, want one naming %s", name, msg, method)
		}
	}
	var c Conn
	if msg := panicOf(func() { c.On("join-room", func(Event) {}) }); msg != "<nil>" {
		t.Fatalf("On of a custom event panicked: %s", msg)
	}
}

func panicOf(fn func()) (msg string) {
	defer func() { msg = fmt.Sprint(recover()) }()
	fn()
	return "<nil>"
}
