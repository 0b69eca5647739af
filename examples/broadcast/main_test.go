package main

import (
	"testing"

	"github.com/gorilla/websocket"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/examples/internal/extest"
	"github.com/openspeed/wsd/internal/wstest"
)

func TestMain(m *testing.M) { wstest.VerifyTestMain(m) }

type ack struct {
	Type string    `json:"type"`
	ID   int       `json:"id"`
	Data announced `json:"data"`
}

// room starts the example and connects three clients to the default room and one to room "b".
func room(t *testing.T) (*engine.App, []*websocket.Conn, *websocket.Conn) {
	t.Helper()
	app := newApp(engine.Config{Loops: 2})
	addr := extest.Start(t, app)
	var a []*websocket.Conn
	for range 3 {
		a = append(a, extest.Dial(t, addr, "/broadcast"))
	}
	return app, a, extest.Dial(t, addr, "/broadcast?room=b")
}

// TestBroadcastAnnounce: an announce reaches every other member of the sender's room twice (broadcast,
// then broadcastAll) and the sender once (broadcastAll); the ack names the room; another
// room gets nothing.
func TestBroadcastAnnounce(t *testing.T) {
	app, a, b := room(t)
	extest.Write(t, a[0], `{"type":"announce","message":"hello","id":1}`)
	extest.Expect(t, a[0], "hello")
	extest.ExpectJSON(t, a[0], ack{Type: "ack", ID: 1, Data: announced{Room: "general"}})
	for _, c := range a[1:] {
		extest.Expect(t, c, "hello")
		extest.Expect(t, c, "hello")
	}
	// Room b got nothing: its next message is one published after the announcement was queued.
	n := 0
	if err := app.Publish("b", "marker", func(r engine.PublishResult) { n = r.Delivered }); n != 1 || err != nil {
		t.Fatalf("publish: %d %v", n, err)
	}
	extest.Expect(t, b, "marker")
}

// TestBroadcastNoID: without "id" no ack follows; a bad announce is answered with the error and the
// connection carries on.
func TestBroadcastNoID(t *testing.T) {
	_, a, _ := room(t)
	extest.Write(t, a[1], `{"type":"announce","message":"no id"}`)
	extest.Expect(t, a[1], "no id")
	for _, bad := range []string{`{"type":"announce"}`, `{"type":"announce","message":5}`} {
		extest.Write(t, a[1], bad)
		extest.ExpectJSON(t, a[1], failure{Error: `announce needs a "message" string`})
	}
	extest.Write(t, a[1], `{"type":"announce","message":""}`)
	extest.Expect(t, a[1], "") // an empty message is a message
	for _, c := range []*websocket.Conn{a[0], a[2]} {
		for _, want := range []string{"no id", "no id", "", ""} {
			extest.Expect(t, c, want)
		}
	}
}
