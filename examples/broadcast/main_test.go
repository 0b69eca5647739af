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
	Data delivered `json:"data"`
}

func from(user, msg string) announcement {
	return announcement{Type: "announcement", From: user, Message: msg}
}

// room starts the example and connects three clients to room "a" and one to room "b".
func room(t *testing.T) (*engine.App, []*websocket.Conn, *websocket.Conn) {
	t.Helper()
	app := newApp(engine.Config{Loops: 2})
	addr := extest.Start(t, app)
	var a []*websocket.Conn
	for _, u := range []string{"ann", "ben", "cid"} {
		a = append(a, extest.Dial(t, addr, "/broadcast/a?user="+u))
	}
	return app, a, extest.Dial(t, addr, "/broadcast/b?user=dee")
}

// TestBroadcastOthers: Broadcast reaches every other member of the room, not the sender and not
// another room; the ack counts the recipients.
func TestBroadcastOthers(t *testing.T) {
	app, a, b := room(t)
	extest.Write(t, a[0], `{"type":"announce","message":"hello","id":1}`)
	extest.ExpectJSON(t, a[0], ack{Type: "ack", ID: 1, Data: delivered{2}}) // not the announcement
	extest.ExpectJSON(t, a[1], from("ann", "hello"))
	extest.ExpectJSON(t, a[2], from("ann", "hello"))
	// Room b got nothing: its next message is one published after the announcement was queued.
	if n, err := app.Publish("b", "marker"); n != 1 || err != nil {
		t.Fatalf("publish: %d %v", n, err)
	}
	extest.Expect(t, b, "marker")
}

// TestBroadcastAll: with "all" the sender gets the announcement too, before its ack; without "id" no
// ack is sent.
func TestBroadcastAll(t *testing.T) {
	_, a, _ := room(t)
	extest.Write(t, a[1], `{"type":"announce","message":"to all","all":true,"id":7}`)
	for _, c := range a {
		extest.ExpectJSON(t, c, from("ben", "to all"))
	}
	extest.ExpectJSON(t, a[1], ack{Type: "ack", ID: 7, Data: delivered{3}})

	extest.Write(t, a[2], `{"type":"announce","message":"no id","all":true}`)
	for _, c := range a {
		extest.ExpectJSON(t, c, from("cid", "no id"))
	}
	extest.Write(t, a[2], `{"type":"announce","message":"next","all":true}`)
	extest.ExpectJSON(t, a[2], from("cid", "next")) // no ack came between
}
