package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/examples/internal/extest"
	"github.com/openspeed/wsd/internal/wstest"
)

func TestMain(m *testing.M) { wstest.VerifyTestMain(m) }

// info GETs /rooms/:room/info.
func info(t *testing.T, addr, room string) engine.RoomInfo {
	t.Helper()
	status, body := extest.HTTP(t, http.MethodGet, "http://"+addr+"/rooms/"+room+"/info", "")
	var ri engine.RoomInfo
	if status != http.StatusOK || json.Unmarshal([]byte(body), &ri) != nil {
		t.Fatalf("info: %d %q", status, body)
	}
	return ri
}

func texts(ri engine.RoomInfo) []string {
	var out []string
	for _, m := range ri.Messages {
		out = append(out, m.Text)
	}
	return out
}

// TestHTTPRoomInfo: two clients relay messages to each other; /info shows 2 connections and the
// messages in order; after one leaves it shows 1.
func TestHTTPRoomInfo(t *testing.T) {
	addr := extest.Start(t, newApp(engine.Config{Loops: 2}))
	a := extest.Dial(t, addr, "/rooms/lobby")
	b := extest.Dial(t, addr, "/rooms/lobby")

	extest.Write(t, a, "hello")
	extest.Expect(t, b, "hello")
	// The relay records a message just after queuing it: wait for the record before the next one, so
	// the two are recorded in the order they were sent.
	extest.Eventually(t, "hello recorded", func() bool { return len(info(t, addr, "lobby").Messages) == 1 })
	extest.Write(t, b, "world")
	extest.Expect(t, a, "world")

	var ri engine.RoomInfo
	extest.Eventually(t, "two messages recorded", func() bool {
		ri = info(t, addr, "lobby")
		return len(ri.Messages) == 2
	})
	if ri.Room != "lobby" || ri.Connections != 2 || texts(ri)[0] != "hello" || texts(ri)[1] != "world" {
		t.Fatalf("info %+v, want lobby, 2 connections, [hello world]", ri)
	}

	extest.CloseNormally(t, b)
	extest.Eventually(t, "one connection left", func() bool { return info(t, addr, "lobby").Connections == 1 })
	if got := texts(info(t, addr, "lobby")); len(got) != 2 {
		t.Fatalf("history %q after a leave, want the two messages", got)
	}
}

// TestHTTPRoomInfoHistoryBound: only the last 10 messages are kept; an empty room has none.
func TestHTTPRoomInfoHistoryBound(t *testing.T) {
	addr := extest.Start(t, newApp(engine.Config{Loops: 2}))
	status, body := extest.HTTP(t, http.MethodGet, "http://"+addr+"/rooms/nobody/info", "")
	if want := `{"room":"nobody","connections":0,"offset":0,"messages":[]}`; status != http.StatusOK || body != want {
		t.Fatalf("empty room: %d %s, want 200 %s", status, body, want)
	}
	a := extest.Dial(t, addr, "/rooms/r")
	b := extest.Dial(t, addr, "/rooms/r")
	for i := range 15 {
		s := string(rune('a' + i))
		extest.Write(t, a, s)
		extest.Expect(t, b, s)
	}
	var got []string
	extest.Eventually(t, "15 messages recorded", func() bool {
		got = texts(info(t, addr, "r"))
		return len(got) == history && got[history-1] == "o"
	})
	if got[0] != "f" {
		t.Fatalf("history %q, want f..o", got)
	}
}

// TestHTTPPublish: a POST reaches every WebSocket member of the room and reports how many.
func TestHTTPPublish(t *testing.T) {
	addr := extest.Start(t, newApp(engine.Config{Loops: 2}))
	a := extest.Dial(t, addr, "/rooms/news")
	b := extest.Dial(t, addr, "/rooms/news")
	status, body := extest.HTTP(t, http.MethodPost, "http://"+addr+"/rooms/news/publish", "extra!")
	if status != http.StatusOK || !extest.SameJSON(body, published{Room: "news", Offset: 1, Delivered: 2}) {
		t.Fatalf("publish: %d %s", status, body)
	}
	extest.Expect(t, a, "extra!")
	extest.Expect(t, b, "extra!")
}

// TestHTTPInfoLeavesMembersAlone: serving /info (a "Connection: close" request, answered on the same
// event loop as the room's members) must not disturb the members: they keep relaying, and the room
// keeps both.
func TestHTTPInfoLeavesMembersAlone(t *testing.T) {
	addr := extest.Start(t, newApp(engine.Config{Loops: 1}))
	a := extest.Dial(t, addr, "/rooms/calm")
	b := extest.Dial(t, addr, "/rooms/calm")
	for i := range 3 {
		if ri := info(t, addr, "calm"); ri.Connections != 2 {
			t.Fatalf("round %d: info %+v, want 2 connections", i, ri)
		}
		extest.Write(t, a, "ping")
		extest.Expect(t, b, "ping")
		extest.Write(t, b, "pong")
		extest.Expect(t, a, "pong")
	}
}
