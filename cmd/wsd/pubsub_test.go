package main

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
)

// psExpect reads the next message and checks it equals want, compared as JSON values.
func psExpect(t *testing.T, c *websocket.Conn, want map[string]any) {
	t.Helper()
	if got := svReadJSON(t, c); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

// psExpectRaw reads the next message and checks its exact bytes.
func psExpectRaw(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(svWait))
	typ, data, err := c.ReadMessage()
	if err != nil || typ != websocket.TextMessage || string(data) != want {
		t.Fatalf("got %d %q %v\nwant text %q", typ, data, err, want)
	}
}

func psAck(id any, data map[string]any) map[string]any {
	return map[string]any{"type": "ack", "id": id, "data": data}
}

func psError(msg string, id ...any) map[string]any {
	m := map[string]any{"type": "error", "error": msg}
	if len(id) > 0 {
		m["id"] = id[0]
	}
	return m
}

// TestPubSubProtocol: join with an ack, publish pushes {"type":"message","room","data"} to every
// member (the publisher too) with the data exactly as sent, leave stops the pushes, and publishing
// to a room one is not in is refused.
func TestPubSubProtocol(t *testing.T) {
	_, addr := svStart(t, svConfig(), nil)
	a := svDial(t, addr, "/ws", nil)
	b := svDial(t, addr, "/ws", nil)

	svWrite(t, a, `{"type":"join","room":"r","id":1}`)
	psExpect(t, a, psAck(1.0, map[string]any{"room": "r"}))
	svWrite(t, b, `{"type":"join","room":"r"}`) // no id: no ack
	svWrite(t, b, `{"type":"join","room":"r","id":"again"}`)
	psExpect(t, b, psAck("again", map[string]any{"room": "r"})) // the first join sent nothing

	svWrite(t, a, `{"type":"publish","room":"r","data":{"x": [1, 2.5, "é"]},"id":"p1"}`)
	const push = `{"type":"message","room":"r","data":{"x": [1, 2.5, "é"]}}`
	psExpectRaw(t, b, push)
	psExpectRaw(t, a, push)
	psExpect(t, a, psAck("p1", map[string]any{"room": "r", "delivered": 2.0}))

	svWrite(t, a, `{"type":"leave","room":"r","id":2}`)
	psExpect(t, a, psAck(2.0, map[string]any{"room": "r"}))
	svWrite(t, b, `{"type":"publish","room":"r","data":"only b","id":3}`)
	psExpectRaw(t, b, `{"type":"message","room":"r","data":"only b"}`)
	psExpect(t, b, psAck(3.0, map[string]any{"room": "r", "delivered": 1.0}))

	svWrite(t, a, `{"type":"publish","room":"r","data":1,"id":4}`)
	psExpect(t, a, psError("forbidden: not a member of room r", 4.0)) // and not b's "only b"
	svWrite(t, a, `{"type":"leave","room":"r","id":5}`)
	psExpect(t, a, psError("not a member of room r", 5.0))
}

// TestPubSubErrors: malformed and unknown requests get an error event, with the request's id when
// it had one; the connection stays usable.
func TestPubSubErrors(t *testing.T) {
	c := svConfig()
	c.PubSub.MaxRooms = 2
	_, addr := svStart(t, c, nil)
	ws := svDial(t, addr, "/ws", nil)
	cases := []struct {
		send string
		want map[string]any
	}{
		{`{"type":"subscribe","room":"r","id":7}`, psError("unknown type subscribe: want join, leave or publish", 7.0)},
		{`hello`, psError(`want a JSON object with a "type": join, leave or publish`)},
		{`{"type":"join","id":8}`, psError(`missing "room"`, 8.0)},
		{`{"type":"join","room":""}`, psError(`missing "room"`)},
		{`{"type":"join","room":"a","id":9}`, psAck(9.0, map[string]any{"room": "a"})},
		{`{"type":"publish","room":"a","id":10}`, psError("publish needs data", 10.0)},
		{`{"type":"join","room":"b"}`, nil},
		{`{"type":"join","room":"c","id":11}`, psError("too many rooms: leave one first", 11.0)},
		{`{"type":"join","room":"a","id":12}`, psAck(12.0, map[string]any{"room": "a"})}, // already in
	}
	for _, tc := range cases {
		svWrite(t, ws, tc.send)
		if tc.want != nil {
			psExpect(t, ws, tc.want)
		}
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	psExpect(t, ws, psError("binary messages are not supported: send JSON text"))
}

// TestPubSubJWTRooms: with JWT authentication, a token's rooms claim limits the rooms /ws may join.
func TestPubSubJWTRooms(t *testing.T) {
	c := svConfig()
	c.Auth.JWTSecret = auSecret
	_, addr := svStart(t, c, nil)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Rooms: []string{"allowed"},
		RegisteredClaims: jwt.RegisteredClaims{
			Subject: "u1", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
		},
	})
	signed, err := tok.SignedString([]byte(c.Auth.JWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("upgrade without a token: %v, want 401", err)
	}
	ws := svDial(t, addr, "/ws", http.Header{"Authorization": {"Bearer " + signed}})
	svWrite(t, ws, `{"type":"join","room":"other","id":1}`)
	psExpect(t, ws, psError("forbidden: the token does not allow room other", 1.0))
	svWrite(t, ws, `{"type":"join","room":"allowed","id":2}`)
	psExpect(t, ws, psAck(2.0, map[string]any{"room": "allowed"}))
}

// TestPubSubHTTPEnvelope: POST /rooms/:room/publish?envelope=1 reaches /ws clients as a message
// envelope with the body as data; a body that is not JSON is refused with 400.
func TestPubSubHTTPEnvelope(t *testing.T) {
	c := svConfig()
	c.API.Key = "k"
	_, addr := svStart(t, c, nil)
	ws := svDial(t, addr, "/ws", nil)
	svWrite(t, ws, `{"type":"join","room":"news","id":1}`)
	svReadJSON(t, ws)
	url := "http://" + addr + "/rooms/news/publish?envelope=1"
	svStatus(t, http.StatusBadRequest, http.MethodPost, url, "not json", "X-API-Key", "k")
	svStatus(t, http.StatusOK, http.MethodPost, url, `{"headline":"hi"}`, "X-API-Key", "k")
	psExpectRaw(t, ws, `{"type":"message","room":"news","data":{"headline":"hi"}}`)
}
