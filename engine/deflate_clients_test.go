package engine_test

// permessage-deflate with real clients: gorilla/websocket, coder/websocket (both compression modes)
// and python3-websockets (compression on by default) echo messages up to 1 MiB and take part in rooms
// whose members mix compressed and uncompressed connections; raw members (wstest.Deflate, on the
// standard library's compress/flate) check the RSV1 bit of every frame.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// Exact Sec-WebSocket-Extensions answers.
const (
	dcAnsNone   = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	dcAnsServer = "permessage-deflate; client_no_context_takeover"
	dcAnsBoth   = "permessage-deflate"
)

// dcThreshold is the default compression threshold.
const dcThreshold = 256

var dcSizes = []int{0, 16, 64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}

// dcRoom is the room of the /room* routes.
const dcRoom = "r"

// dcServer serves, with MaxMessageSize 4 MiB and MaxBackpressure 64 MiB (members read a whole series
// of broadcasts one after the other):
//
//	/echo        echo, compression with the default policy (no context takeover)
//	/echo-ct     echo, both directions may keep their context
//	/room        joins dcRoom, default policy
//	/room-ct     joins dcRoom, the server keeps its context (client_no_context_takeover)
//	/room-plain  joins dcRoom, no compression
type dcServer struct {
	app  *engine.App
	addr string
}

// newDcServer starts a dcServer (engine.StartApp).
func newDcServer(t *testing.T) *dcServer {
	t.Helper()
	on := &engine.Compression{Enabled: true}
	both := &engine.Compression{Enabled: true, ServerContextTakeover: true, ClientContextTakeover: true}
	server := &engine.Compression{Enabled: true, ServerContextTakeover: true}
	s := &dcServer{}
	s.app, s.addr = engine.StartApp(t, engine.Config{MaxMessageSize: 4 << 20, MaxBackpressure: 64 << 20}, func(a *engine.App) {
		a.Route("/echo", engine.Handlers{Open: engine.EchoOpen, Options: engine.RouteOptions{Compression: on}})
		a.Route("/echo-ct", engine.Handlers{Open: engine.EchoOpen, Options: engine.RouteOptions{Compression: both}})
		a.Route("/room", engine.Handlers{Open: dcJoin, Options: engine.RouteOptions{Compression: on}})
		a.Route("/room-ct", engine.Handlers{Open: dcJoin, Options: engine.RouteOptions{Compression: server}})
		a.WS("/room-plain", dcJoin)
	})
	return s
}

func dcJoin(ws *engine.Conn, _ *engine.Context) {
	if err := ws.Join(dcRoom); err != nil {
		ws.CloseWith(frame.CloseInternalError, err.Error())
	}
}

// dcPayload is n bytes for a message of op.
func dcPayload(op frame.Opcode, n int) []byte {
	if op == frame.OpText {
		return textPayload(n)
	}
	return binaryPayload(n)
}

// dcRaw is a raw member (engine.DialDeflate): its codec (nil when deflate was not negotiated).
type dcRaw struct {
	r *wstest.Raw
	d *wstest.Deflate
}

// dcRawOf is the dcRaw of engine.DialDeflate's results.
func dcRawOf(r *wstest.Raw, d *wstest.Deflate) dcRaw { return dcRaw{r, d} }

// expect checks the next message: compressed (RSV1) exactly when deflate was negotiated and the
// message reaches threshold.
func (m dcRaw) expect(t *testing.T, op frame.Opcode, want []byte, threshold int) {
	t.Helper()
	m.r.ExpectDeflated(m.d, op, want, m.d != nil && len(want) >= threshold)
}

// dcCountConn counts the bytes read from the server (wire bytes, compressed or not).
type dcCountConn struct {
	net.Conn
	n *atomic.Int64
}

func (c dcCountConn) Read(p []byte) (int, error) {
	k, err := c.Conn.Read(p)
	c.n.Add(int64(k))
	return k, err
}

// dcGorilla connects a gorilla client to path (engine.DialGorilla), compression on or off, counting
// wire bytes read into read. It returns the client and the server's extension answer.
func dcGorilla(t *testing.T, s *dcServer, path string, compress bool, read *atomic.Int64) (*websocket.Conn, string) {
	t.Helper()
	d := &websocket.Dialer{EnableCompression: compress,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return dcCountConn{c, read}, nil
		}}
	c, resp := engine.DialGorilla(t, s.addr, path, engine.GorillaOpts{Dialer: d})
	c.EnableWriteCompression(compress)
	return c, resp.Header.Get("Sec-WebSocket-Extensions")
}

func TestDeflateGorillaEcho(t *testing.T) {
	s := newDcServer(t)
	for _, path := range []string{"/echo", "/echo-ct"} {
		t.Run(path, func(t *testing.T) {
			var read atomic.Int64
			c, ans := dcGorilla(t, s, path, true, &read)
			if ans != dcAnsNone { // gorilla offers, and accepts, no context takeover only
				t.Fatalf("answer %q, want %q", ans, dcAnsNone)
			}
			for _, n := range dcSizes {
				for _, typ := range []int{websocket.TextMessage, websocket.BinaryMessage} {
					p := dcPayload(frame.OpBinary, n)
					if typ == websocket.TextMessage {
						p = dcPayload(frame.OpText, n)
					}
					if err := gorillaWrite(c, typ, p); err != nil {
						t.Fatal(err)
					}
					before := read.Load()
					gorillaExpect(t, c, typ, p)
					if wire := read.Load() - before; typ == websocket.TextMessage && n >= 4<<10 && wire > int64(n/2) {
						t.Errorf("text echo of %d bytes took %d wire bytes: not compressed", n, wire)
					}
				}
			}
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(e2eWait))
			if ce := gorillaCloseErr(t, c); ce.Code != 1000 {
				t.Fatalf("close %d, want 1000", ce.Code)
			}
		})
	}
}

func TestDeflateCoderEcho(t *testing.T) {
	s := newDcServer(t)
	for _, tc := range []struct {
		mode       coder.CompressionMode
		name, path string
		want       string
	}{
		{coder.CompressionContextTakeover, "context-takeover", "/echo", dcAnsNone},
		{coder.CompressionContextTakeover, "context-takeover", "/echo-ct", dcAnsBoth},
		{coder.CompressionNoContextTakeover, "no-context-takeover", "/echo", dcAnsNone},
		{coder.CompressionNoContextTakeover, "no-context-takeover", "/echo-ct", dcAnsNone},
	} {
		t.Run(tc.name+tc.path, func(t *testing.T) {
			c := dcCoder(t, s, tc.path, tc.mode, tc.want)
			for _, n := range dcSizes {
				for _, typ := range []coder.MessageType{coder.MessageText, coder.MessageBinary} {
					p := dcPayload(frame.OpBinary, n)
					if typ == coder.MessageText {
						p = dcPayload(frame.OpText, n)
					}
					if err := c.Write(opCtx(t), typ, p); err != nil {
						t.Fatalf("write %d bytes: %v", n, err)
					}
					coderExpect(t, c, typ, p)
				}
			}
			if err := c.Close(coder.StatusNormalClosure, ""); err != nil {
				t.Fatalf("close: %v", err)
			}
		})
	}
}

// dcCoder connects a coder/websocket client to path in mode (engine.DialCoder) and checks the answer.
func dcCoder(t *testing.T, s *dcServer, path string, mode coder.CompressionMode, want string) *coder.Conn {
	t.Helper()
	c, resp := engine.DialCoder(t, s.addr, path, engine.CoderOpts{Dial: &coder.DialOptions{CompressionMode: mode}, ReadLimit: 4 << 20})
	if ans := resp.Header.Get("Sec-WebSocket-Extensions"); ans != want {
		t.Fatalf("answer %q, want %q", ans, want)
	}
	return c
}

// dcPub is one broadcast: what is published and the message every member must receive.
type dcPub struct {
	op   frame.Opcode
	data []byte
	v    any // passed to App.Publish; nil: a Message of op and data
}

type dcChat struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// dcPubs are broadcasts below, at and above the threshold, through every publishing path (string,
// []byte, a JSON value, a Message).
func dcPubs() []dcPub {
	chat := dcChat{Type: "chat", Text: strings.Repeat("compress me once ", 40)}
	js, _ := json.Marshal(chat)
	t255, t4k, t1m := textPayload(255), textPayload(4<<10), textPayload(1<<20)
	return []dcPub{
		{frame.OpText, []byte("short"), "short"},
		{frame.OpText, t255, string(t255)},
		{frame.OpBinary, binaryPayload(256), binaryPayload(256)},
		{frame.OpText, t4k, string(t4k)},
		{frame.OpText, js, chat},
		{frame.OpBinary, binaryPayload(64 << 10), binaryPayload(64 << 10)},
		{frame.OpText, textPayload(2 << 10), nil},
		{frame.OpText, t1m, string(t1m)},
		{frame.OpText, t4k, string(t4k)}, // again: context takeover members refer back to it
	}
}

// dcPublish publishes every pub and checks each was queued for members connections.
func dcPublish(t *testing.T, app *engine.App, pubs []dcPub, members int) {
	t.Helper()
	for i, p := range pubs {
		var n int
		var err error
		if p.v == nil {
			n, err = rmPublish(app, dcRoom, engine.NewMessage(p.op, p.data))
		} else {
			n, err = rmPublish(app, dcRoom, p.v)
		}
		if err != nil || n != members {
			t.Fatalf("publish %d: queued for %d (err %v), want %d members", i, n, err, members)
		}
	}
}

// dcWaitMembers waits until the room has n members.
func dcWaitMembers(t *testing.T, app *engine.App, n int) {
	t.Helper()
	deadline := time.Now().Add(e2eWait)
	for app.LocalCount(dcRoom) != n {
		if time.Now().After(deadline) {
			t.Fatalf("room has %d members, want %d", app.LocalCount(dcRoom), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestDeflateBroadcastMixed publishes to a room whose members negotiated deflate without context
// takeover, with server context takeover, or not at all: each receives the exact bytes, and the raw
// members see RSV1 exactly on the messages that reach the threshold when they negotiated deflate.
func TestDeflateBroadcastMixed(t *testing.T) {
	s := newDcServer(t)
	raws := []dcRaw{
		dcRawOf(engine.DialDeflate(t, s.addr, "/room", "permessage-deflate", dcAnsNone)),
		dcRawOf(engine.DialDeflate(t, s.addr, "/room-ct", "permessage-deflate", dcAnsServer)),
		dcRawOf(engine.DialDeflate(t, s.addr, "/room", "", "")),
		dcRawOf(engine.DialDeflate(t, s.addr, "/room-plain", "permessage-deflate", "")),
	}
	var read atomic.Int64
	gz, _ := dcGorilla(t, s, "/room", true, &read)
	gp, gpAns := dcGorilla(t, s, "/room-ct", false, &read)
	if gpAns != "" {
		t.Fatalf("gorilla without compression got answer %q", gpAns)
	}
	cct := dcCoder(t, s, "/room-ct", coder.CompressionContextTakeover, dcAnsServer)
	cno := dcCoder(t, s, "/room", coder.CompressionNoContextTakeover, dcAnsNone)
	const members = 8
	dcWaitMembers(t, s.app, members)
	pubs := dcPubs()
	dcPublish(t, s.app, pubs, members)
	for _, m := range raws {
		for _, p := range pubs {
			m.expect(t, p.op, p.data, dcThreshold)
		}
	}
	for _, c := range []*websocket.Conn{gz, gp} {
		for _, p := range pubs {
			gorillaExpect(t, c, int(p.op), p.data)
		}
	}
	for _, c := range []*coder.Conn{cct, cno} {
		for _, p := range pubs {
			coderExpect(t, c, coder.MessageType(p.op), p.data)
		}
	}
}

// TestDeflateBroadcastRouteThreshold checks that a broadcast honours each member's route Threshold, as
// Send does: the same message goes compressed to a member whose route compresses from 32 bytes and
// plain to one whose route compresses from 4 KiB.
func TestDeflateBroadcastRouteThreshold(t *testing.T) {
	app, addr := engine.StartApp(t, engine.Config{}, func(a *engine.App) {
		for _, r := range []struct {
			path string
			c    engine.Compression
		}{
			{"/lo", engine.Compression{Enabled: true, Threshold: 32}},
			{"/hi", engine.Compression{Enabled: true, Threshold: 4096}},
			{"/hi-ct", engine.Compression{Enabled: true, Threshold: 4096, ServerContextTakeover: true}},
		} {
			a.Route(r.path, engine.Handlers{Open: dcJoin, Options: engine.RouteOptions{Compression: &r.c}})
		}
	})
	lo := dcRawOf(engine.DialDeflate(t, addr, "/lo", "permessage-deflate", dcAnsNone))
	hi := dcRawOf(engine.DialDeflate(t, addr, "/hi", "permessage-deflate", dcAnsNone))
	hiCT := dcRawOf(engine.DialDeflate(t, addr, "/hi-ct", "permessage-deflate", dcAnsServer))
	dcWaitMembers(t, app, 3)
	pubs := []dcPub{
		{frame.OpText, textPayload(100), string(textPayload(100))},
		{frame.OpText, textPayload(1000), string(textPayload(1000))},
		{frame.OpBinary, textPayload(8000), textPayload(8000)},
	}
	dcPublish(t, app, pubs, 3)
	for _, m := range []struct {
		name      string
		r         dcRaw
		threshold int
	}{{"/lo", lo, 32}, {"/hi", hi, 4096}, {"/hi-ct", hiCT, 4096}} {
		for _, p := range pubs {
			if err := m.r.check(p.op, p.data, m.threshold); err != nil {
				t.Errorf("member on %s (Threshold %d): %v", m.name, m.threshold, err)
				break
			}
		}
	}
}

// check is expect for a message sent as one frame, returning what is wrong instead of failing the
// test, so that every member is checked.
func (m dcRaw) check(op frame.Opcode, want []byte, threshold int) error {
	h, p, err := m.r.ReadFrame()
	if err != nil {
		return err
	}
	compressed := m.d != nil && len(want) >= threshold
	if wantRsv := map[bool]uint8{true: frame.Rsv1}[compressed]; h.Op != op || !h.Fin || h.Rsv != wantRsv {
		return fmt.Errorf("%d-byte message: %v frame fin=%v rsv=%#x, want %v fin=true rsv=%#x", len(want), h.Op, h.Fin, h.Rsv, op, wantRsv)
	}
	if compressed {
		if p, err = m.d.Inflate(p); err != nil {
			return err
		}
	}
	if !bytes.Equal(p, want) {
		return fmt.Errorf("%d-byte message: got %d different bytes", len(want), len(p))
	}
	return nil
}

// dcPython is what deflate_client.py prints.
type dcPython struct {
	Version string `json:"websockets_version"`
	Echo    map[string]struct {
		dcNegotiated
		RoundTrips map[string]int `json:"round_trips"`
	} `json:"echo"`
	Room struct {
		dcNegotiated
		Messages []struct {
			Type   string `json:"type"`
			Bytes  int    `json:"bytes"`
			SHA256 string `json:"sha256"`
		} `json:"messages"`
	} `json:"room"`
}

type dcNegotiated struct {
	Answer     string   `json:"answer"`
	Extensions []string `json:"extensions"`
}

// TestDeflatePython runs deflate_client.py: echoes on /echo and /echo-ct, then membership of a room
// with a raw compressed member and a raw plain member.
func TestDeflatePython(t *testing.T) {
	py := pythonWithWebsockets(t)
	s := newDcServer(t)
	raws := []dcRaw{
		dcRawOf(engine.DialDeflate(t, s.addr, "/room", "permessage-deflate", dcAnsNone)),
		dcRawOf(engine.DialDeflate(t, s.addr, "/room", "", "")),
	}
	pubs := dcPubs()
	out := runPythonRoom(t, py, "deflate_client.py", s, len(pubs), len(raws)+1, func() {
		dcPublish(t, s.app, pubs, len(raws)+1)
		for _, m := range raws {
			for _, p := range pubs {
				m.expect(t, p.op, p.data, dcThreshold)
			}
		}
	})
	var res dcPython
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("deflate_client.py output is not JSON: %v\n%s", err, out)
	}
	t.Logf("python websockets %s", res.Version)
	dcCheckPython(t, &res, pubs)
}

func dcCheckPython(t *testing.T, res *dcPython, pubs []dcPub) {
	t.Helper()
	want := map[string]string{"/echo": dcAnsNone, "/echo-ct": dcAnsBoth}
	for path, ans := range want {
		e := res.Echo[path]
		if e.Answer != ans || len(e.Extensions) != 1 || e.Extensions[0] != "PerMessageDeflate" {
			t.Errorf("%s: answer %q, extensions %q; want %q and [PerMessageDeflate]", path, e.Answer, e.Extensions, ans)
		}
		for _, n := range dcSizes {
			for _, kind := range []string{"text", "binary"} {
				if got, ok := e.RoundTrips[kind+"-"+strconv.Itoa(n)]; !ok || got != n {
					t.Errorf("%s: round trip %s-%d missing", path, kind, n)
				}
			}
		}
	}
	if res.Room.Answer != dcAnsNone || len(res.Room.Messages) != len(pubs) {
		t.Fatalf("room: answer %q, %d messages; want %q and %d", res.Room.Answer, len(res.Room.Messages), dcAnsNone, len(pubs))
	}
	for i, p := range pubs {
		m := res.Room.Messages[i]
		sum := sha256.Sum256(p.data)
		kind := map[frame.Opcode]string{frame.OpText: "text", frame.OpBinary: "binary"}[p.op]
		if m.Type != kind || m.Bytes != len(p.data) || m.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("room message %d: %s of %d bytes (sha256 %.12s), want %s of %d bytes (%.12s)",
				i, m.Type, m.Bytes, m.SHA256, kind, len(p.data), hex.EncodeToString(sum[:]))
		}
	}
}
