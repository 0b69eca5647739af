package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/openspeed/wsd/engine"
)

// TestAPIPublishKey: POST /rooms/:room/publish with the key (Bearer or X-API-Key) delivers; without
// it 401 with WWW-Authenticate; a wrong key 401; nothing is delivered for a refused request.
func TestAPIPublishKey(t *testing.T) {
	c := svConfig()
	c.API.Key = "k3y"
	_, addr := svStart(t, c, nil)
	member := svDial(t, addr, "/rooms/news", nil)
	url := "http://" + addr + "/rooms/news/publish"

	resp, body := svHTTP(t, http.MethodPost, url, "no key")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("without key: %d %q (WWW-Authenticate %q), want 401 with a challenge",
			resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
	}
	svStatus(t, http.StatusUnauthorized, http.MethodPost, url, "wrong", "Authorization", "Bearer nope")
	svStatus(t, http.StatusUnauthorized, http.MethodPost, url, "wrong", "X-API-Key", "k3y-")
	got := svStatus(t, http.StatusOK, http.MethodPost, url, "one", "Authorization", "Bearer k3y")
	if !strings.HasPrefix(got, `{"room":"news","offset":1,"epoch":"`) || !strings.HasSuffix(got, `","delivered":1}`) {
		t.Fatalf("publish answer %s", got)
	}
	svStatus(t, http.StatusOK, http.MethodPost, url, "two", "X-API-Key", "k3y")
	for _, want := range []string{"one", "two"} { // the refused bodies never arrived
		_ = member.SetReadDeadline(time.Now().Add(svWait))
		if _, data, err := member.ReadMessage(); err != nil || string(data) != want {
			t.Fatalf("member got %q %v, want %q", data, err, want)
		}
	}
}

// TestAPIPublishWithoutKey: with no key configured, publishing is refused with 403 unless
// api.publish_without_key is set; the GET routes stay open unless api.protect_reads asks for the key.
func TestAPIPublishWithoutKey(t *testing.T) {
	_, closed := svStart(t, svConfig(), nil)
	svStatus(t, http.StatusForbidden, http.MethodPost, "http://"+closed+"/rooms/r/publish", "x")
	svStatus(t, http.StatusOK, http.MethodGet, "http://"+closed+"/rooms", "")

	c := svConfig()
	c.API.PublishWithoutKey = true
	_, open := svStart(t, c, nil)
	if got := svStatus(t, http.StatusOK, http.MethodPost, "http://"+open+"/rooms/r/publish", "x"); !strings.HasPrefix(got, `{"room":"r","offset":1,`) || !strings.HasSuffix(got, `"delivered":0}`) {
		t.Fatalf("open publish: %s", got)
	}

	c = svConfig()
	c.API.Key, c.API.ProtectReads = "k", true
	_, guarded := svStart(t, c, nil)
	svStatus(t, http.StatusUnauthorized, http.MethodGet, "http://"+guarded+"/rooms", "")
	svStatus(t, http.StatusUnauthorized, http.MethodGet, "http://"+guarded+"/rooms/r/info", "")
	svStatus(t, http.StatusOK, http.MethodGet, "http://"+guarded+"/rooms/r/info", "", "X-API-Key", "k")
}

// TestAPIRoomsAndInfo: GET /rooms lists rooms of every route (relay, chat, /ws) with their counts;
// GET /rooms/:room/info has the count and the room's last messages.
func TestAPIRoomsAndInfo(t *testing.T) {
	c := svConfig()
	c.History.Size = 2
	_, addr := svStart(t, c, nil)
	a := svDial(t, addr, "/rooms/r1", nil)
	b := svDial(t, addr, "/rooms/r1", nil)
	svDial(t, addr, "/chat/lobby?user=x", nil)
	ws := svDial(t, addr, "/ws", nil)
	svWrite(t, ws, `{"type":"join","room":"pub","id":1}`)
	svReadJSON(t, ws) // the ack: joined

	var list []engine.RoomCount
	if err := json.Unmarshal([]byte(svStatus(t, http.StatusOK, http.MethodGet, "http://"+addr+"/rooms", "")), &list); err != nil {
		t.Fatal(err)
	}
	want := []engine.RoomCount{{Name: "lobby", Members: 1}, {Name: "pub", Members: 1}, {Name: "r1", Members: 2}}
	if len(list) != len(want) {
		t.Fatalf("rooms %+v, want %+v", list, want)
	}
	for i := range want {
		if list[i] != want[i] {
			t.Fatalf("rooms %+v, want %+v", list, want)
		}
	}
	for _, m := range []string{"m1", "m2", "m3"} {
		if err := a.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		_ = b.SetReadDeadline(time.Now().Add(svWait))
		if _, _, err := b.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	var info engine.RoomInfo
	if err := json.Unmarshal([]byte(svStatus(t, http.StatusOK, http.MethodGet, "http://"+addr+"/rooms/r1/info", "")), &info); err != nil {
		t.Fatal(err)
	}
	if info.Room != "r1" || info.Connections != 2 || len(info.Messages) != 2 ||
		info.Messages[0].Text != "m2" || info.Messages[1].Text != "m3" {
		t.Fatalf("info %+v, want r1 with 2 connections and messages m2, m3", info)
	}
}

// TestHealthAndReadiness: /healthz and /readyz answer 200; once a drain begins /readyz answers 503
// during drain_delay while /healthz and the WebSocket routes keep working; then the drain closes
// the WebSockets with 1001.
func TestHealthAndReadiness(t *testing.T) {
	c := svConfig()
	c.DrainDelay = Duration(time.Hour) // cut short below by cancelling the drain's context
	s, addr := svStart(t, c, nil)
	svStatus(t, http.StatusOK, http.MethodGet, "http://"+addr+"/healthz", "")
	if got := svStatus(t, http.StatusOK, http.MethodGet, "http://"+addr+"/readyz", ""); got != "ready\n" {
		t.Fatalf("readyz %q", got)
	}
	early := svDial(t, addr, "/echo", nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	drained := make(chan error, 1)
	go func() {
		_, err := s.Drain(ctx, engine.CloseGoingAway, "bye")
		drained <- err
	}()
	deadline := time.Now().Add(svWait)
	for {
		resp, body := svHTTP(t, http.MethodGet, "http://"+addr+"/readyz", "")
		if resp.StatusCode == http.StatusServiceUnavailable && body == "draining\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz still %d %q after the drain began", resp.StatusCode, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	svStatus(t, http.StatusOK, http.MethodGet, "http://"+addr+"/healthz", "")
	late := svDial(t, addr, "/echo", nil) // still accepting during drain_delay
	svWrite(t, late, "still here")
	_ = late.SetReadDeadline(time.Now().Add(svWait))
	if _, data, err := late.ReadMessage(); err != nil || string(data) != "still here" {
		t.Fatalf("echo during drain_delay: %q %v", data, err)
	}
	cancel() // end drain_delay: the drain proceeds (and, with ctx done, drops what is left)
	_ = early.SetReadDeadline(time.Now().Add(svWait))
	if _, _, err := early.ReadMessage(); err == nil {
		t.Fatal("the WebSocket survived the drain")
	}
	select {
	case <-drained:
	case <-time.After(svWait):
		t.Fatal("drain did not return")
	}
}
