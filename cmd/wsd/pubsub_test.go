package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
)

// psExpect reads the next message and checks it equals want, compared as JSON values; a non-empty
// "epoch" in the message's data compares equal to "E".
func psExpect(t *testing.T, c *websocket.Conn, want map[string]any) map[string]any {
	t.Helper()
	got := svReadJSON(t, c)
	norm := psEpochless(got)
	if !reflect.DeepEqual(norm, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	return got
}

// psEpochless replaces a non-empty data.epoch by "E" (epochs are random per server).
func psEpochless(m map[string]any) map[string]any {
	data, ok := m["data"].(map[string]any)
	if !ok {
		return m
	}
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	d := map[string]any{}
	for k, v := range data {
		d[k] = v
	}
	if e, ok := d["epoch"].(string); ok && e != "" {
		d["epoch"] = "E"
	}
	out["data"] = d
	return out
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

// psPos is the data of a join acknowledgement: the room and its position.
func psPos(room string, offset float64) map[string]any {
	return map[string]any{"room": room, "offset": offset, "epoch": "E"}
}

func psError(msg string, id ...any) map[string]any {
	m := map[string]any{"type": "error", "error": msg}
	if len(id) > 0 {
		m["id"] = id[0]
	}
	return m
}

// TestPubSubProtocol: join with an ack carrying the room's position, publish pushes
// {"type":"message","room","offset","data"} to every member (the publisher too) with the data exactly
// as sent and contiguous offsets, the publish ack carries the offset, leave stops the pushes, and
// publishing to a room one is not in is refused.
func TestPubSubProtocol(t *testing.T) {
	_, addr := svStart(t, svConfig(), nil)
	a := svDial(t, addr, "/ws", nil)
	b := svDial(t, addr, "/ws", nil)

	svWrite(t, a, `{"type":"join","room":"r","id":1}`)
	psExpect(t, a, psAck(1.0, psPos("r", 0)))
	svWrite(t, b, `{"type":"join","room":"r"}`) // no id: no ack
	svWrite(t, b, `{"type":"join","room":"r","id":"again"}`)
	psExpect(t, b, psAck("again", psPos("r", 0))) // the first join sent nothing

	svWrite(t, a, `{"type":"publish","room":"r","data":{"x": [1, 2.5, "é"]},"id":"p1"}`)
	const push = `{"type":"message","room":"r","offset":1,"data":{"x": [1, 2.5, "é"]}}`
	psExpectRaw(t, b, push)
	psExpectRaw(t, a, push)
	psExpect(t, a, psAck("p1", map[string]any{"room": "r", "offset": 1.0, "epoch": "E", "delivered": 2.0}))

	svWrite(t, a, `{"type":"leave","room":"r","id":2}`)
	psExpect(t, a, psAck(2.0, map[string]any{"room": "r"}))
	svWrite(t, b, `{"type":"publish","room":"r","data":"only b","id":3}`)
	psExpectRaw(t, b, `{"type":"message","room":"r","offset":2,"data":"only b"}`)
	psExpect(t, b, psAck(3.0, map[string]any{"room": "r", "offset": 2.0, "epoch": "E", "delivered": 1.0}))

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
		{`{"type":"subscribe","room":"r","id":7}`, psError("unknown type subscribe: want "+knownTypes, 7.0)},
		{`hello`, psError(`want a JSON object with a "type": ` + knownTypes)},
		{`{"type":"join","id":8}`, psError(`missing "room"`, 8.0)},
		{`{"type":"join","room":""}`, psError(`missing "room"`)},
		{`{"type":"join","room":"` + strings.Repeat("x", 201) + `","id":"long"}`, psError("room name too long", "long")},
		{`{"type":"join","room":"a","since":5,"id":"s"}`, psError(`"since" must be {"offset":<number>,"epoch":<string>}`, "s")},
		{`{"type":"join","room":"a","id":9}`, psAck(9.0, psPos("a", 0))},
		{`{"type":"publish","room":"a","id":10}`, psError("publish needs data", 10.0)},
		{`{"type":"presence","room":"zz","id":13}`, psError("forbidden: not a member of room zz", 13.0)},
		{`{"type":"join","room":"b"}`, nil},
		{`{"type":"join","room":"c","id":11}`, psError("too many rooms: leave one first", 11.0)},
		{`{"type":"join","room":"a","id":12}`, psAck(12.0, psPos("a", 0))}, // already in
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

// TestPubSubJWTRooms: with JWT authentication, a token's rooms claim limits the rooms /ws may join,
// and its subject is the user in presence.
func TestPubSubJWTRooms(t *testing.T) {
	c := svConfig()
	c.Auth.JWTSecret = auSecret
	_, addr := svStart(t, c, nil)
	signed := psToken(t, c.Auth.JWTSecret, "u1", "allowed")
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("upgrade without a token: %v, want 401", err)
	}
	ws := svDial(t, addr, "/ws?user=spoofed", http.Header{"Authorization": {"Bearer " + signed}})
	svWrite(t, ws, `{"type":"join","room":"other","id":1}`)
	psExpect(t, ws, psError("forbidden: the token does not allow room other", 1.0))
	svWrite(t, ws, `{"type":"join","room":"allowed","id":2}`)
	psExpect(t, ws, psAck(2.0, psPos("allowed", 0)))
	svWrite(t, ws, `{"type":"presence","room":"allowed","id":3}`)
	got := svReadJSON(t, ws)
	clients := got["data"].(map[string]any)["clients"].([]any)
	if len(clients) != 1 || clients[0].(map[string]any)["user"] != "u1" {
		t.Fatalf("presence %v: want the token's subject u1", got)
	}
}

// psToken signs an HS256 token for sub, limited to rooms.
func psToken(t *testing.T, secret, sub string, rooms ...string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Rooms: rooms,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject: sub, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
		},
	})
	signed, err := tok.SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// TestPubSubEnvelope: whatever publishes to a room — the HTTP API, the raw relay, the chat route —
// reaches /ws members in the message envelope with its offset: JSON text as data, other text as a
// JSON string, binary as base64; the HTTP publish answers with the offset.
func TestPubSubEnvelope(t *testing.T) {
	c := svConfig()
	c.API.Key = "k"
	_, addr := svStart(t, c, nil)
	ws := svDial(t, addr, "/ws", nil)
	svWrite(t, ws, `{"type":"join","room":"news","id":1}`)
	svReadJSON(t, ws)
	url := "http://" + addr + "/rooms/news/publish"
	got := svStatus(t, http.StatusOK, http.MethodPost, url, `{"headline":"hi"}`, "X-API-Key", "k")
	var ans publishAnswer
	if err := json.Unmarshal([]byte(got), &ans); err != nil || ans.Offset != 1 || ans.Epoch == "" || ans.Delivered != 1 {
		t.Fatalf("publish answer %s", got)
	}
	psExpectRaw(t, ws, `{"type":"message","room":"news","offset":1,"data":{"headline":"hi"}}`)
	svStatus(t, http.StatusOK, http.MethodPost, url, "plain text", "X-API-Key", "k")
	psExpectRaw(t, ws, `{"type":"message","room":"news","offset":2,"data":"plain text"}`)
	svStatus(t, http.StatusOK, http.MethodPost, url, "\xff\x00", "X-API-Key", "k")
	psExpectRaw(t, ws, `{"type":"message","room":"news","offset":3,"binary":"/wA="}`)
	relay := svDial(t, addr, "/rooms/news", nil)
	svWrite(t, relay, "relayed")
	psExpectRaw(t, ws, `{"type":"message","room":"news","offset":4,"data":"relayed"}`)
	_ = relay.Close()
	chat := svDial(t, addr, "/chat/news?user=ada", nil)
	psExpectRaw(t, ws, `{"type":"message","room":"news","offset":5,"data":"ada joined the room"}`)
	svWrite(t, chat, "hello")
	_ = ws.SetReadDeadline(time.Now().Add(svWait))
	_, line, err := ws.ReadMessage()
	if err != nil || !strings.HasPrefix(string(line), `{"type":"message","room":"news","offset":6,"data":{"user":"ada","message":"hello","timestamp":"`) {
		t.Fatalf("chat line %q %v", line, err)
	}
}

// psJoinSince joins room from pos and returns the messages received before the ack, and the ack.
func psJoinSince(t *testing.T, ws *websocket.Conn, room string, offset uint64, epoch string) ([]map[string]any, map[string]any) {
	t.Helper()
	svWrite(t, ws, fmt.Sprintf(`{"type":"join","room":%q,"since":{"offset":%d,"epoch":%q},"id":"j"}`, room, offset, epoch))
	var msgs []map[string]any
	for {
		m := svReadJSON(t, ws)
		if m["type"] == "ack" {
			return msgs, m["data"].(map[string]any)
		}
		if m["type"] != "message" {
			t.Fatalf("during the join: %v", m)
		}
		msgs = append(msgs, m)
	}
}

// TestPubSubRecovery: a client that disconnects, misses 1,000 publications and rejoins with the
// position of the last message it received gets all of them, in order, before the ack that says
// recovered; from another epoch, or past what the history holds, the ack says why not and nothing is
// replayed.
func TestPubSubRecovery(t *testing.T) {
	c := svConfig()
	c.API.Key = "k"
	c.RateLimit.Messages = 0
	c.History.Size = 1500
	_, addr := svStart(t, c, nil)
	a := svDial(t, addr, "/ws", nil)
	svWrite(t, a, `{"type":"join","room":"r","id":1}`)
	epoch := svReadJSON(t, a)["data"].(map[string]any)["epoch"].(string)
	url := "http://" + addr + "/rooms/r/publish"
	svStatus(t, http.StatusOK, http.MethodPost, url, `"before"`, "X-API-Key", "k")
	psExpectRaw(t, a, `{"type":"message","room":"r","offset":1,"data":"before"}`)
	_ = a.Close() // gone: it received offset 1

	pub := svDial(t, addr, "/ws", nil)
	svWrite(t, pub, `{"type":"join","room":"r","id":1}`)
	svReadJSON(t, pub)
	for i := range 1000 {
		svWrite(t, pub, fmt.Sprintf(`{"type":"publish","room":"r","data":%d}`, i))
	}
	for range 1000 {
		svReadJSON(t, pub) // its own copies: all 1,000 are in the room's history now
	}
	b := svDial(t, addr, "/ws", nil)
	start := time.Now()
	msgs, ack := psJoinSince(t, b, "r", 1, epoch)
	t.Logf("recovered %d missed publications in %v", len(msgs), time.Since(start))
	if ack["recovered"] != true || ack["missed"] != 1000.0 || ack["offset"] != 1001.0 || len(msgs) != 1000 {
		t.Fatalf("ack %v after %d messages", ack, len(msgs))
	}
	for i, m := range msgs {
		if m["offset"] != float64(i+2) || m["data"] != float64(i) {
			t.Fatalf("message %d: %v", i, m)
		}
	}
	cases := []struct {
		offset uint64
		epoch  string
		reason string
	}{{1, "other", "epoch"}, {5000, epoch, "ahead"}}
	for _, tc := range cases {
		x := svDial(t, addr, "/ws", nil)
		if msgs, ack := psJoinSince(t, x, "r", tc.offset, tc.epoch); len(msgs) != 0 || ack["recovered"] != false || ack["reason"] != tc.reason {
			t.Fatalf("since %d/%s: %d messages, ack %v; want reason %s", tc.offset, tc.epoch, len(msgs), ack, tc.reason)
		}
	}
	eventuallyMetrics(t, addr, eq("wsd_recoveries_total", 1, "result", "recovered"),
		eq("wsd_recoveries_total", 2, "result", "failed"), eq("wsd_recovered_publications_total", 1000),
		eq("wsd_history_entries", 1001), atLeast("wsd_history_bytes", 1001*96), eq("wsd_history_not_kept_total", 0))
}

// TestPubSubRecoveryExpired: past history.size the oldest publications are gone: recovery from before
// them fails with "expired".
func TestPubSubRecoveryExpired(t *testing.T) {
	c := svConfig()
	c.API.Key = "k"
	c.History.Size = 3
	_, addr := svStart(t, c, nil)
	a := svDial(t, addr, "/ws", nil)
	svWrite(t, a, `{"type":"join","room":"r","id":1}`)
	epoch := svReadJSON(t, a)["data"].(map[string]any)["epoch"].(string)
	for i := range 5 {
		svStatus(t, http.StatusOK, http.MethodPost, "http://"+addr+"/rooms/r/publish", fmt.Sprint(i), "X-API-Key", "k")
	}
	b := svDial(t, addr, "/ws", nil)
	if msgs, ack := psJoinSince(t, b, "r", 1, epoch); len(msgs) != 0 || ack["reason"] != "expired" || ack["offset"] != 5.0 {
		t.Fatalf("%d messages, ack %v", len(msgs), ack)
	}
	c2 := svDial(t, addr, "/ws", nil)
	if msgs, ack := psJoinSince(t, c2, "r", 2, epoch); len(msgs) != 3 || ack["recovered"] != true {
		t.Fatalf("from 2 with 3..5 kept: %d messages, ack %v", len(msgs), ack)
	}
}

// TestPubSubRecoveryUnderLoad: while two publishers publish as fast as they can, a client keeps
// dropping its connection and rejoining from the last offset it received: it must see every offset
// exactly once, in order (the join racing concurrent publications).
func TestPubSubRecoveryUnderLoad(t *testing.T) {
	c := svConfig()
	c.RateLimit.Messages, c.RateLimit.Bytes = 0, 0
	c.History.Size, c.History.Bytes, c.History.Budget = 200000, 0, 0
	_, addr := svStart(t, c, nil)
	stop := make(chan struct{})
	sent := make(chan int, 2)
	for i := range 2 {
		p := svDial(t, addr, "/ws", nil)
		svWrite(t, p, `{"type":"join","room":"load","id":1}`)
		svReadJSON(t, p)
		go func() { // its own copies: drained so that it is not a slow consumer
			for {
				if _, _, err := p.ReadMessage(); err != nil {
					return
				}
			}
		}()
		go func() {
			n := 0
			defer func() { sent <- n }()
			for ; n < 150000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if n%10 == 9 {
					time.Sleep(time.Millisecond) // keep publishing while the watcher rejoins
				}
				if p.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"publish","room":"load","data":"%d-%d"}`, i, n)) != nil {
					return
				}
			}
		}()
	}
	watch := svDial(t, addr, "/ws", nil)
	svWrite(t, watch, `{"type":"join","room":"load","id":1}`)
	m := svReadJSON(t, watch)
	for m["type"] != "ack" { // live publications may come before the ack (docs/protocol.md)
		m = svReadJSON(t, watch)
	}
	epoch := m["data"].(map[string]any)["epoch"].(string)
	_ = watch.Close()
	var last uint64
	follow := func(ws *websocket.Conn, live int, until uint64) {
		msgs, ack := psJoinSince(t, ws, "load", last, epoch)
		if ack["recovered"] != true {
			t.Fatalf("rejoin from %d: %v", last, ack)
		}
		for _, m := range msgs {
			if off := uint64(m["offset"].(float64)); off != last+1 {
				t.Fatalf("recovered offset %d follows %d", off, last)
			}
			last++
		}
		for i := 0; i < live || last < until; i++ {
			m := svReadJSON(t, ws)
			if off := uint64(m["offset"].(float64)); off != last+1 {
				t.Fatalf("live offset %d follows %d", off, last)
			}
			last++
		}
		_ = ws.Close()
	}
	const rejoins = 60
	for range rejoins {
		follow(svDial(t, addr, "/ws", nil), 5, 0)
	}
	close(stop)
	total := uint64(<-sent + <-sent)
	follow(svDial(t, addr, "/ws", nil), 0, total) // the rest, recovered and live
	if last != total {
		t.Fatalf("saw %d publications of %d", last, total)
	}
	t.Logf("%d publications seen exactly once across %d rejoins under load", total, rejoins+1)
}

// TestPubSubPresence: presence lists the /ws members of a room (user from ?user=), over /ws and
// GET /rooms/:room/presence; with pubsub.presence_events, members see joins and leaves.
func TestPubSubPresence(t *testing.T) {
	c := svConfig()
	c.PubSub.PresenceEvents = true
	_, addr := svStart(t, c, nil)
	a := svDial(t, addr, "/ws?user=ada", nil)
	svWrite(t, a, `{"type":"join","room":"p","id":1}`)
	svReadJSON(t, a)
	b := svDial(t, addr, "/ws?user=bob", nil)
	svWrite(t, b, `{"type":"join","room":"p","id":1}`)
	svReadJSON(t, b)
	ev := svReadJSON(t, a)
	client := ev["client"].(map[string]any)
	if ev["type"] != "presence" || ev["event"] != "join" || client["user"] != "bob" || client["conn"] == "" {
		t.Fatalf("join event %v", ev)
	}
	svWrite(t, a, `{"type":"presence","room":"p","id":2}`)
	list := svReadJSON(t, a)["data"].(map[string]any)["clients"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["user"] != "ada" || list[1].(map[string]any)["user"] != "bob" {
		t.Fatalf("presence %v", list)
	}
	body := svStatus(t, http.StatusOK, http.MethodGet, "http://"+addr+"/rooms/p/presence", "")
	if !strings.Contains(body, `"user":"ada"`) || !strings.Contains(body, `"user":"bob"`) {
		t.Fatalf("GET presence: %s", body)
	}
	_ = b.Close()
	ev = svReadJSON(t, a)
	if ev["event"] != "leave" || ev["client"].(map[string]any)["user"] != "bob" {
		t.Fatalf("leave event %v", ev)
	}
}

// TestPubSubRecoveryLargerThanBackpressure: a recovery larger than max_backpressure is replayed whole
// (recovered publications are never dropped for a slow consumer) and its acknowledgement arrives after
// it (replies to requests are never dropped either).
func TestPubSubRecoveryLargerThanBackpressure(t *testing.T) {
	c := svConfig()
	c.API.Key = "k"
	c.MaxBackpressure = 64 << 10
	_, addr := svStart(t, c, nil)
	a := svDial(t, addr, "/ws", nil)
	svWrite(t, a, `{"type":"join","room":"big","id":1}`)
	epoch := svReadJSON(t, a)["data"].(map[string]any)["epoch"].(string)
	_ = a.Close()
	body := `"` + strings.Repeat("x", 8<<10) + `"`
	for range 20 {
		svStatus(t, http.StatusOK, http.MethodPost, "http://"+addr+"/rooms/big/publish", body, "X-API-Key", "k")
	}
	b := svDial(t, addr, "/ws", nil)
	msgs, ack := psJoinSince(t, b, "big", 0, epoch)
	if len(msgs) != 20 || ack["recovered"] != true || ack["missed"] != 20.0 {
		t.Fatalf("%d messages, ack %v", len(msgs), ack)
	}
}
