package main

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// offerDeflate is the header line a raw client offers permessage-deflate with (no parameters, as a
// browser minus client_max_window_bits).
const offerDeflate = "Sec-WebSocket-Extensions: permessage-deflate"

// czDial connects a gorilla client that offers permessage-deflate (server_no_context_takeover and
// client_no_context_takeover, gorilla's only offer) and returns it with the server's
// Sec-WebSocket-Extensions answer.
func czDial(t *testing.T, addr, path string) (*websocket.Conn, string) {
	t.Helper()
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: svWait}
	c, resp, err := d.Dial("ws://"+addr+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = c.Close() })
	return c, resp.Header.Get("Sec-WebSocket-Extensions")
}

// czExpectNegotiated dials path with a compression offer and checks whether the server accepted it.
func czExpectNegotiated(t *testing.T, addr, path string, want bool) {
	t.Helper()
	_, ext := czDial(t, addr, path)
	if got := strings.HasPrefix(ext, "permessage-deflate"); got != want {
		t.Errorf("%s: Sec-WebSocket-Extensions %q, want permessage-deflate negotiated: %v", path, ext, want)
	}
}

// czRaw opens a raw client on path offering permessage-deflate and checks it was accepted.
func czRaw(t *testing.T, addr, path string) *wstest.Raw {
	t.Helper()
	r := wstest.DialRaw(t, addr)
	r.Timeout = svWait
	resp := r.Upgrade(path, offerDeflate)
	ext := resp.Header.Get("Sec-WebSocket-Extensions")
	if resp.StatusCode != http.StatusSwitchingProtocols || !strings.HasPrefix(ext, "permessage-deflate") {
		t.Fatalf("upgrade %s: %d, extensions %q", path, resp.StatusCode, ext)
	}
	return r
}

// czExpectCompressed reads the raw client's next data message, checks that it is a text message
// sent compressed (RSV1) at under a quarter of its size, and returns it inflated.
func czExpectCompressed(t *testing.T, r *wstest.Raw) []byte {
	t.Helper()
	op, rsv, payload := r.ReadData()
	if op != frame.OpText || rsv != frame.Rsv1 {
		t.Fatalf("got a %v message with RSV %#x, want a compressed text message", op, rsv)
	}
	msg, err := wstest.NewDeflate(false, false).Inflate(payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(payload)*4 > len(msg) {
		t.Fatalf("%d bytes sent for a %d-byte message: not compressed much", len(payload), len(msg))
	}
	return msg
}

// bigText is n bytes of repetitive ASCII text (no JSON escapes), which compresses well.
func bigText(n int) string {
	return strings.Repeat("the quick brown fox jumps over the lazy dog ", n/44+1)[:n]
}

// TestCompressionDefaults: with wsd's defaults, permessage-deflate is negotiated on /chat/:room and
// /ws, not on /echo or /rooms/:room; a client that does not offer it is served uncompressed.
func TestCompressionDefaults(t *testing.T) {
	_, addr := svStart(t, svConfig(), nil)
	czExpectNegotiated(t, addr, "/chat/lobby", true)
	czExpectNegotiated(t, addr, "/ws", true)
	czExpectNegotiated(t, addr, "/echo", false)
	czExpectNegotiated(t, addr, "/rooms/lobby", false)
	c := svDial(t, addr, "/chat/plain?user=p", nil) // no offer
	q := svDial(t, addr, "/chat/plain?user=q", nil)
	rtExpect(t, c, websocket.TextMessage, "q joined the room")
	big := bigText(4096)
	svWrite(t, c, big)
	rtExpectChat(t, q, "p", big)
}

// TestCompressionConfigured: configuration turns compression on for /echo (with its own threshold),
// off for /chat, and on for every route without an override through the top-level block.
func TestCompressionConfigured(t *testing.T) {
	c, err := loadArgs(t, "", []string{"WSD_ROUTES_CHAT_COMPRESSION_ENABLED=false"},
		"-addr=127.0.0.1:0", "-loops=2", "-routes.echo.compression.enabled", "-routes.echo.compression.threshold=64")
	if err != nil {
		t.Fatal(err)
	}
	_, addr := svStart(t, c, nil)
	czExpectNegotiated(t, addr, "/echo", true)
	czExpectNegotiated(t, addr, "/chat/lobby", false)
	czExpectNegotiated(t, addr, "/ws", true)
	czExpectNegotiated(t, addr, "/rooms/lobby", false)

	r := czRaw(t, addr, "/echo")
	d := wstest.NewDeflate(false, false)
	small, large := []byte(strings.Repeat("s", 63)), []byte(bigText(1000))
	r.Write(d.Frames(frame.OpText, small, 0)) // compressed in, below the threshold out
	r.ExpectDeflated(d, frame.OpText, small, false)
	r.Send(true, frame.OpText, large) // plain in, compressed out
	r.ExpectDeflated(d, frame.OpText, large, true)

	g, _ := czDial(t, addr, "/echo")
	rtWrite(t, g, websocket.TextMessage, string(large))
	rtExpect(t, g, websocket.TextMessage, string(large))

	c, err = loadArgs(t, "", nil, "-addr=127.0.0.1:0", "-loops=1", "-compression.enabled")
	if err != nil {
		t.Fatal(err)
	}
	_, addr = svStart(t, c, nil)
	czExpectNegotiated(t, addr, "/echo", true)
	czExpectNegotiated(t, addr, "/rooms/lobby", true)
}

// TestCompressionLargeChat: a 64 KiB chat line from a compressing client reaches the two other
// members; the server sends it compressed, once for both (no context takeover).
func TestCompressionLargeChat(t *testing.T) {
	_, addr := svStart(t, svConfig(), nil)
	raw := czRaw(t, addr, "/chat/big?user=raw")
	g, _ := czDial(t, addr, "/chat/big?user=g")
	h, _ := czDial(t, addr, "/chat/big?user=h")
	for _, want := range []string{"g joined the room", "h joined the room"} {
		if _, _, p := raw.ReadData(); string(p) != want {
			t.Fatalf("raw got %q, want the notice %q", p, want)
		}
	}
	rtExpect(t, g, websocket.TextMessage, "h joined the room")
	big := bigText(64 << 10)
	rtWrite(t, g, websocket.TextMessage, big)
	rtExpectChat(t, h, "g", big)
	var line chatLine
	if err := json.Unmarshal(czExpectCompressed(t, raw), &line); err != nil || line.User != "g" || line.Message != big {
		t.Fatalf("raw got a chat line of %d bytes from %q (%v), want the %d-byte message", len(line.Message), line.User, err, len(big))
	}
}

// TestCompressionPubSub: on /ws a large publication goes out compressed to a member that negotiated
// permessage-deflate and arrives intact at the compressing publisher.
func TestCompressionPubSub(t *testing.T) {
	_, addr := svStart(t, svConfig(), nil)
	raw := czRaw(t, addr, "/ws")
	raw.Send(true, frame.OpText, []byte(`{"type":"join","room":"z","id":1}`))
	if op, rsv, p := raw.ReadData(); op != frame.OpText || rsv != 0 || !strings.Contains(string(p), `"ack"`) {
		t.Fatalf("raw join: %v %#x %q, want an uncompressed ack", op, rsv, p)
	}
	g, _ := czDial(t, addr, "/ws")
	svWrite(t, g, `{"type":"join","room":"z","id":1}`)
	psExpect(t, g, psAck(1.0, psPos("z", 0)))
	data := `"` + bigText(8192) + `"`
	svWrite(t, g, `{"type":"publish","room":"z","data":`+data+`}`)
	want := `{"type":"message","room":"z","offset":1,"data":` + data + `}`
	psExpectRaw(t, g, want)
	if got := czExpectCompressed(t, raw); string(got) != want {
		t.Fatalf("raw got %d bytes, want the %d-byte push", len(got), len(want))
	}
}

// TestConfigCompression: the compression keys reach engine.Config.Compression and each route's
// RouteOptions.Compression, key by key; 0 as threshold compresses everything (engine: 1).
func TestConfigCompression(t *testing.T) {
	file := writeFile(t, "wsd.yaml", `
compression: {threshold: 0, client_context_takeover: true}
routes:
  echo: {compression: {enabled: true}}
  chat: {compression: {threshold: 1KiB, server_context_takeover: true}}
  ws: {compression: {enabled: false}}
`)
	c, err := loadArgs(t, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what string
		got  any
		want any
	}{
		{"engine config", c.engineConfig(nil, nil).Compression,
			engine.Compression{Threshold: 1, ClientContextTakeover: true}},
		{"echo", c.routeOptions(&c.Routes.Echo).Compression,
			&engine.Compression{Enabled: true, Threshold: 1, ClientContextTakeover: true}},
		{"chat (enabled by default, other keys from the file)", c.routeOptions(&c.Routes.Chat).Compression,
			&engine.Compression{Enabled: true, Threshold: 1024, ServerContextTakeover: true, ClientContextTakeover: true}},
		{"ws", c.routeOptions(&c.Routes.WS).Compression,
			&engine.Compression{Threshold: 1, ClientContextTakeover: true}},
		{"rooms (inherits)", c.routeOptions(&c.Routes.Rooms).Compression, (*engine.Compression)(nil)},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s: got %+v, want %+v", ch.what, ch.got, ch.want)
		}
	}
	d := defaults()
	if *d.Routes.Chat.Compression.Enabled != true || d.Routes.Chat.Compression.Enabled == d.Routes.WS.Compression.Enabled {
		t.Fatal("defaults: chat and ws must have compression on, through distinct pointers")
	}
}
