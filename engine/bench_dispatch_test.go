package engine

import (
	"testing"

	"github.com/openspeed/wsd/frame"
)

// dispatchBench is a Conn of a route with event handlers registered, built without a socket or a
// running event loop (its loop state is built but never started): deliver reads the route's handlers,
// the connection's codec and counts into the loop's statistics, so the benchmark measures the dispatch
// itself (scan for "type", look the type up, call the handler) without any I/O.
type dispatchBench struct {
	c        *Conn
	messages int
	events   int
	sink     int64
}

func newDispatchBench() *dispatchBench {
	d := &dispatchBench{}
	app := New(Config{Loops: 1, Logger: discardLogger()})
	rt := app.newWSRoute("/bench", Handlers{
		Message: func(*Conn, Message) { d.messages++ },
		Events: map[string]func(*Conn, Event){
			"join-room":  func(_ *Conn, e Event) { d.events++; d.sink += e.Int("n") },
			"leave-room": func(*Conn, Event) {},
		},
	})
	d.c = &Conn{loop: newLoop(app, nil, 0), route: rt, tidx: -1}
	return d
}

// The messages of the two paths: same size and shape, only the type differs.
var (
	dispatchPlain = []byte(`{"type":"chat-line","room":"general","n":42,"text":"hello, world"}`)
	dispatchEvent = []byte(`{"type":"join-room","room":"general","n":42,"text":"hello, world"}`)
)

// BenchmarkDispatch measures Conn.deliver: "plain" is a text message on a route with event handlers
// whose type has no handler (scanned, then handed to the message handler), "event" a matching custom
// event (scanned, looked up, an Event built and one field read).
func BenchmarkDispatch(b *testing.B) {
	for _, bc := range []struct {
		name string
		msg  []byte
	}{{"plain", dispatchPlain}, {"event", dispatchEvent}} {
		b.Run(bc.name, func(b *testing.B) {
			d := newDispatchBench()
			b.SetBytes(int64(len(bc.msg)))
			b.ReportAllocs()
			for b.Loop() {
				d.c.deliver(frame.OpText, bc.msg)
			}
			if d.messages+d.events == 0 {
				b.Fatal("no handler ran")
			}
		})
	}
}

// TestDispatchPaths checks that the benchmark's messages take the paths it names, and that the plain
// path allocates nothing.
func TestDispatchPaths(t *testing.T) {
	d := newDispatchBench()
	d.c.deliver(frame.OpText, dispatchPlain)
	if d.messages != 1 || d.events != 0 {
		t.Fatalf("plain: %d messages, %d events; want 1, 0", d.messages, d.events)
	}
	d.c.deliver(frame.OpText, dispatchEvent)
	if d.messages != 1 || d.events != 1 || d.sink != 42 {
		t.Fatalf("event: %d messages, %d events, n %d; want 1, 1, 42", d.messages, d.events, d.sink)
	}
	if n := testing.AllocsPerRun(100, func() { d.c.deliver(frame.OpText, dispatchPlain) }); n != 0 {
		t.Errorf("plain dispatch: %v allocations per message, want 0", n)
	}
}
