package engine_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/frame"
)

// e2eWait bounds every wait of the end-to-end tests. It is an upper bound for a hang, never a timing
// assertion.
const e2eWait = 20 * time.Second

// e2eMaxMessage is the server's MaxMessageSize in the end-to-end tests: room for the 16 MiB messages.
const e2eMaxMessage = 32 << 20

// e2eSizes are the round-trip payload sizes: every length encoding and its boundaries (0, 125 | 126,
// 65535 | 65536), the default MaxMessageSize (1 MiB) and a message far past gnet's read buffer.
var e2eSizes = []int{0, 1, 125, 126, 65535, 64 << 10, 1 << 20, 16 << 20}

// e2eJSON is what the /json route sends with ws.Send; e2eJSONWire is its exact encoding.
type e2eJSON struct {
	Type string   `json:"type"`
	N    int      `json:"n"`
	Tags []string `json:"tags"`
}

const e2eJSONWire = `{"type":"hello","n":42,"tags":["a","é"]}`

// e2eServer is an App with the routes the end-to-end tests use:
//
//	/echo           echoes every message (same opcode); reports pings and the CloseInfo
//	/ping           the open handler pings the client with "hi"; reports pongs; echoes
//	/close/:code    the open handler sends "before close", then closes with :code and reason "bye"
//	                (the close must not overtake the message); reports the CloseInfo
//	/json           the open handler sends e2eJSON{...} with ws.Send
//	/goroutine      the open handler sends "open-0", starts a goroutine sending "g-0".."g-99",
//	                then sends "open-1"; messages are echoed
type e2eServer struct {
	app    *engine.App
	addr   string
	closes chan engine.CloseInfo
	pings  chan string
	pongs  chan string
	bg     sync.WaitGroup // goroutines started by /goroutine
}

// newE2EServer starts an e2eServer (engine.StartApp); the test's cleanup shuts it down.
// MaxBackpressure keeps its default (1 MiB): a message over it still goes to a connection whose
// backlog is empty, as every echo here is.
func newE2EServer(t *testing.T) *e2eServer {
	t.Helper()
	return newE2EServerWith(t, engine.Config{Loops: 2, MaxMessageSize: e2eMaxMessage})
}

// newE2EServerWith is newE2EServer with cfg.
func newE2EServerWith(t *testing.T, cfg engine.Config) *e2eServer {
	t.Helper()
	s := &e2eServer{
		closes: make(chan engine.CloseInfo, 1024),
		pings:  make(chan string, 64),
		pongs:  make(chan string, 64),
	}
	t.Cleanup(s.bg.Wait) // after the App's shutdown, registered below
	s.app, s.addr = engine.StartApp(t, cfg, func(a *engine.App) {
		a.WS("/echo", s.openEcho)
		a.WS("/ping", s.openPing)
		a.WS("/close/:code", s.openClose)
		a.WS("/json", s.openJSON)
		a.WS("/goroutine", s.openGoroutine)
	})
	return s
}

// echo makes ws echo its messages; a refused echo closes with 1011 and the error, so the client fails
// at once instead of waiting for a message that will not come.
func (s *e2eServer) echo(ws *engine.Conn) {
	ws.OnMessage(func(m engine.Message) {
		if err := ws.Send(m); err != nil {
			ws.CloseWith(frame.CloseInternalError, "echo: "+err.Error())
		}
	})
	ws.OnClose(func(info engine.CloseInfo) { engine.Report(s.closes, info) })
}

func (s *e2eServer) openEcho(ws *engine.Conn, _ *engine.Context) {
	s.echo(ws)
	ws.OnPing(func(p []byte) { engine.Report(s.pings, string(p)) })
}

func (s *e2eServer) openPing(ws *engine.Conn, _ *engine.Context) {
	s.echo(ws)
	ws.OnPong(func(p []byte) { engine.Report(s.pongs, string(p)) })
	if err := ws.Ping([]byte("hi")); err != nil {
		panic(err)
	}
}

func (s *e2eServer) openClose(ws *engine.Conn, ctx *engine.Context) {
	s.echo(ws)
	code, err := strconv.Atoi(ctx.Param("code"))
	if err != nil {
		panic(err)
	}
	if err := ws.Send("before close"); err != nil {
		panic(err)
	}
	ws.CloseWith(frame.CloseCode(code), "bye")
}

func (s *e2eServer) openJSON(ws *engine.Conn, _ *engine.Context) {
	s.echo(ws)
	if err := ws.Send(e2eJSON{Type: "hello", N: 42, Tags: []string{"a", "é"}}); err != nil {
		panic(err)
	}
}

func (s *e2eServer) openGoroutine(ws *engine.Conn, _ *engine.Context) {
	s.echo(ws)
	_ = ws.Send("open-0")
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		for i := range 100 {
			if err := ws.Send("g-" + strconv.Itoa(i)); err != nil {
				return
			}
		}
	}()
	_ = ws.Send("open-1")
}

// expectCloseInfo waits for the server's OnClose and checks code, reason and that the server did not
// fail the connection.
func expectCloseInfo(t *testing.T, s *e2eServer, code frame.CloseCode, reason string) {
	t.Helper()
	info := engine.Recv(t, s.closes, "server OnClose")
	if info.Code != code || info.Reason != reason || info.Err != nil {
		t.Fatalf("server CloseInfo = {%d %q %v}, want {%d %q <nil>}", info.Code, info.Reason, info.Err, code, reason)
	}
}

// textPayload is n bytes of valid UTF-8 mixing 1- to 4-byte sequences, so that reads split runes.
func textPayload(n int) []byte {
	const pattern = "wsd e2e: héllo wörld € 𝄞 ✓ "
	b := bytes.Repeat([]byte(pattern), n/len(pattern)+1)[:n]
	for j := len(b) - 1; j >= 0 && j >= len(b)-4; j-- {
		if utf8.RuneStart(b[j]) {
			if !utf8.FullRune(b[j:]) {
				for k := j; k < len(b); k++ {
					b[k] = 'x'
				}
			}
			break
		}
	}
	return b
}

// binaryPayload is n deterministic pseudo-random bytes.
func binaryPayload(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16), 7}).Read(b)
	return b
}

// sameBytes fails the test unless got equals want, naming the first difference.
func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Fatalf("%s: got %d bytes, want %d; first difference at byte %d", what, len(got), len(want), i)
}

// gorillaRead is ReadMessage bounded by e2eWait.
func gorillaRead(c *websocket.Conn) (int, []byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(e2eWait))
	return c.ReadMessage()
}

// gorillaWrite is WriteMessage bounded by e2eWait.
func gorillaWrite(c *websocket.Conn, typ int, p []byte) error {
	_ = c.SetWriteDeadline(time.Now().Add(e2eWait))
	return c.WriteMessage(typ, p)
}

// gorillaExpect reads one message and checks its type and payload.
func gorillaExpect(t *testing.T, c *websocket.Conn, typ int, want []byte) {
	t.Helper()
	mt, got, err := gorillaRead(c)
	if err != nil {
		t.Fatalf("read (want %d bytes of type %d): %v", len(want), typ, err)
	}
	if mt != typ {
		t.Fatalf("message type %d, want %d", mt, typ)
	}
	sameBytes(t, "echo", got, want)
}

// gorillaCloseErr reads the next frame, which must be a close, and returns it as a *websocket.CloseError.
func gorillaCloseErr(t *testing.T, c *websocket.Conn) *websocket.CloseError {
	t.Helper()
	mt, p, err := gorillaRead(c)
	if err == nil {
		t.Fatalf("unexpected message (type %d, %q) while waiting for a close", mt, p)
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("read error %v (%T), want *websocket.CloseError", err, err)
	}
	return ce
}

// gorillaExpectEOF checks that the server closes the TCP connection after the closing handshake.
func gorillaExpectEOF(t *testing.T, c *websocket.Conn) {
	t.Helper()
	nc := c.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(e2eWait))
	n, err := nc.Read(make([]byte, 16))
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("after the closing handshake: read %d bytes, %v; want EOF", n, err)
	}
}

func TestGorillaEchoSizes(t *testing.T) {
	s := newE2EServer(t)
	c, _ := engine.DialGorilla(t, s.addr, "/echo", engine.GorillaOpts{})
	for _, n := range e2eSizes {
		for _, typ := range []int{websocket.TextMessage, websocket.BinaryMessage} {
			p := binaryPayload(n)
			if typ == websocket.TextMessage {
				p = textPayload(n)
			}
			t.Run(fmt.Sprintf("type%d/%dB", typ, n), func(t *testing.T) {
				if err := gorillaWrite(c, typ, p); err != nil {
					t.Fatalf("write: %v", err)
				}
				gorillaExpect(t, c, typ, p)
			})
		}
	}
}

// writeFragmented sends one message through NextWriter, one Write per part, pinging in between.
func writeFragmented(t *testing.T, c *websocket.Conn, typ int, parts [][]byte, ping string) []byte {
	t.Helper()
	w, err := c.NextWriter(typ)
	if err != nil {
		t.Fatalf("NextWriter: %v", err)
	}
	var all []byte
	for i, p := range parts {
		if _, err := w.Write(p); err != nil {
			t.Fatalf("write part %d: %v", i, err)
		}
		all = append(all, p...)
		if i == len(parts)/2 && ping != "" {
			// A control frame between two fragments of the message (RFC 6455 section 5.4).
			if err := c.WriteControl(websocket.PingMessage, []byte(ping), time.Now().Add(e2eWait)); err != nil {
				t.Fatalf("ping: %v", err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close writer: %v", err)
	}
	return all
}

func TestGorillaFragmentedSend(t *testing.T) {
	s := newE2EServer(t)
	// A 16-byte write buffer makes gorilla emit a frame every 16 bytes: multi-byte runes are split across
	// frames, and the pings land between fragments.
	c, _ := engine.DialGorilla(t, s.addr, "/echo", engine.GorillaOpts{Dialer: &websocket.Dialer{WriteBufferSize: 16, ReadBufferSize: 512}})
	pongs := make(chan string, 8)
	c.SetPongHandler(func(p string) error { pongs <- p; return nil })

	text := textPayload(20 << 10)
	parts := [][]byte{[]byte("€"), {}, text[:1], text[1:17], text[17:300], text[300:]}
	want := writeFragmented(t, c, websocket.TextMessage, parts, "mid-text")
	gorillaExpect(t, c, websocket.TextMessage, want)

	bin := binaryPayload(100 << 10)
	parts = [][]byte{bin[:3], bin[3:4096], {}, bin[4096:70000], bin[70000:]}
	want = writeFragmented(t, c, websocket.BinaryMessage, parts, "mid-binary")
	gorillaExpect(t, c, websocket.BinaryMessage, want)

	// The pongs were sent before the echoes, so the pong handler has run by now.
	for _, p := range []string{"mid-text", "mid-binary"} {
		if got := engine.Recv(t, pongs, "pong "+p); got != p {
			t.Fatalf("pong %q, want %q", got, p)
		}
		if got := engine.Recv(t, s.pings, "server OnPing "+p); got != p {
			t.Fatalf("server OnPing %q, want %q", got, p)
		}
	}
}

func TestGorillaClientPing(t *testing.T) {
	s := newE2EServer(t)
	c, _ := engine.DialGorilla(t, s.addr, "/echo", engine.GorillaOpts{})
	pongs := make(chan string, 8)
	c.SetPongHandler(func(p string) error { pongs <- p; return nil })
	for _, p := range []string{"", "ping-1", strings.Repeat("p", 125)} {
		if err := c.WriteControl(websocket.PingMessage, []byte(p), time.Now().Add(e2eWait)); err != nil {
			t.Fatalf("ping: %v", err)
		}
		// The echo is queued after the pong, so reading it runs the pong handler first.
		if err := gorillaWrite(c, websocket.TextMessage, []byte("after "+p)); err != nil {
			t.Fatalf("write: %v", err)
		}
		gorillaExpect(t, c, websocket.TextMessage, []byte("after "+p))
		select {
		case got := <-pongs:
			if got != p {
				t.Fatalf("pong payload %q, want %q", got, p)
			}
		default:
			t.Fatalf("no pong for ping %q before the echo that followed it", p)
		}
		if got := engine.Recv(t, s.pings, "server OnPing"); got != p {
			t.Fatalf("server OnPing %q, want %q", got, p)
		}
	}
}

func TestGorillaServerPing(t *testing.T) {
	s := newE2EServer(t)
	c, _ := engine.DialGorilla(t, s.addr, "/ping", engine.GorillaOpts{})
	pings := make(chan string, 4)
	c.SetPingHandler(func(p string) error {
		pings <- p
		return c.WriteControl(websocket.PongMessage, []byte(p), time.Now().Add(e2eWait))
	})
	if err := gorillaWrite(c, websocket.TextMessage, []byte("x")); err != nil {
		t.Fatalf("write: %v", err)
	}
	gorillaExpect(t, c, websocket.TextMessage, []byte("x"))
	select {
	case got := <-pings:
		if got != "hi" {
			t.Fatalf("ping payload %q, want %q", got, "hi")
		}
	default:
		t.Fatal("the ping queued by the open handler did not arrive before the echo")
	}
	if got := engine.Recv(t, s.pongs, "server OnPong"); got != "hi" {
		t.Fatalf("server OnPong %q, want %q", got, "hi")
	}
}

func TestGorillaClientClose(t *testing.T) {
	for _, tc := range []struct {
		code   int
		reason string
	}{{websocket.CloseNormalClosure, "done"}, {4000, "custom reason"}, {websocket.CloseNoStatusReceived, ""}} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			s := newE2EServer(t)
			c, _ := engine.DialGorilla(t, s.addr, "/echo", engine.GorillaOpts{})
			msg := websocket.FormatCloseMessage(tc.code, tc.reason) // 1005: an empty close frame
			if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(e2eWait)); err != nil {
				t.Fatalf("close: %v", err)
			}
			if ce := gorillaCloseErr(t, c); ce.Code != tc.code {
				t.Fatalf("server answered close %d %q, want code %d echoed", ce.Code, ce.Text, tc.code)
			}
			gorillaExpectEOF(t, c)
			expectCloseInfo(t, s, frame.CloseCode(tc.code), tc.reason)
		})
	}
}

func TestGorillaServerClose(t *testing.T) {
	s := newE2EServer(t)
	c, _ := engine.DialGorilla(t, s.addr, "/close/4001", engine.GorillaOpts{})
	gorillaExpect(t, c, websocket.TextMessage, []byte("before close"))
	ce := gorillaCloseErr(t, c)
	if ce.Code != 4001 || ce.Text != "bye" {
		t.Fatalf("close %d %q, want 4001 \"bye\"", ce.Code, ce.Text)
	}
	// gorilla's default close handler echoes the code without the reason.
	gorillaExpectEOF(t, c)
	expectCloseInfo(t, s, 4001, "")
}

func TestGorillaSendJSON(t *testing.T) {
	s := newE2EServer(t)
	c, _ := engine.DialGorilla(t, s.addr, "/json", engine.GorillaOpts{})
	gorillaExpect(t, c, websocket.TextMessage, []byte(e2eJSONWire))
}

// readStrings reads n text messages.
func readStrings(t *testing.T, c *websocket.Conn, n int) []string {
	t.Helper()
	out := make([]string, 0, n)
	for range n {
		mt, p, err := gorillaRead(c)
		if err != nil {
			t.Fatalf("read %d of %d: %v", len(out)+1, n, err)
		}
		if mt != websocket.TextMessage {
			t.Fatalf("message %d: type %d, want text", len(out)+1, mt)
		}
		out = append(out, string(p))
	}
	return out
}

func TestGorillaSendFromGoroutine(t *testing.T) {
	s := newE2EServer(t)
	c, _ := engine.DialGorilla(t, s.addr, "/goroutine", engine.GorillaOpts{})
	const echoes = 100
	werr := make(chan error, 1)
	go func() {
		for i := range echoes {
			if err := gorillaWrite(c, websocket.TextMessage, []byte("c-"+strconv.Itoa(i))); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	got := readStrings(t, c, 2+100+echoes)
	if err := engine.Recv(t, werr, "writer"); err != nil {
		t.Fatalf("write: %v", err)
	}
	checkInterleaving(t, got, echoes)
}

// checkInterleaving checks the /goroutine stream: "open-0" first (queued before the goroutine
// started), "open-1" before every echo (queued by the same callback, before any message was read),
// "g-*" and "c-*" each complete and in order.
func checkInterleaving(t *testing.T, got []string, echoes int) {
	t.Helper()
	if got[0] != "open-0" {
		t.Fatalf("first message %q, want open-0 (sent on the loop before the goroutine started)", got[0])
	}
	next := map[string]int{"g-": 0, "c-": 0}
	open1 := false
	for i, m := range got[1:] {
		if m == "open-1" {
			if open1 || next["c-"] > 0 {
				t.Fatalf("message %d: open-1 after an echo or twice: %q", i+1, got)
			}
			open1 = true
			continue
		}
		prefix := m[:min(2, len(m))]
		n, ok := next[prefix]
		if !ok || m != prefix+strconv.Itoa(n) {
			t.Fatalf("message %d: %q, want %q or the next of the other stream", i+1, m, prefix+strconv.Itoa(n))
		}
		next[prefix] = n + 1
	}
	if !open1 || next["g-"] != 100 || next["c-"] != echoes {
		t.Fatalf("got open-1=%v, %d goroutine messages, %d echoes", open1, next["g-"], next["c-"])
	}
}

// clientMessage is message i of client id: a header and up to 3000 bytes of padding, so that frames of
// many connections end at every offset of the server's reads.
func clientMessage(id, i int) []byte {
	return fmt.Appendf(nil, "client %d message %d %s", id, i, textPayload((id*131+i*97)%3000))
}

// gorillaClient dials /echo, writes msgs messages while a second goroutine reads their echoes, checks
// them in order, then closes cleanly.
func gorillaClient(s *e2eServer, id, msgs int) error {
	c, _, err := engine.GorillaConnect(s.addr, "/echo", engine.GorillaOpts{})
	if err != nil {
		return fmt.Errorf("client %d: %w", id, err)
	}
	defer c.Close()
	werr := make(chan error, 1)
	go func() {
		for i := range msgs {
			if err := gorillaWrite(c, websocket.TextMessage, clientMessage(id, i)); err != nil {
				werr <- fmt.Errorf("client %d: write %d: %w", id, i, err)
				return
			}
		}
		werr <- nil
	}()
	for i := range msgs {
		mt, p, err := gorillaRead(c)
		if want := clientMessage(id, i); err != nil || mt != websocket.TextMessage || !bytes.Equal(p, want) {
			return fmt.Errorf("client %d: read %d: type %d, %d bytes, %v; want %.30q", id, i, mt, len(p), err, want)
		}
	}
	if err := <-werr; err != nil {
		return err
	}
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(e2eWait)); err != nil {
		return fmt.Errorf("client %d: close: %w", id, err)
	}
	if _, _, err := gorillaRead(c); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		return fmt.Errorf("client %d: after close: %v, want the echoed 1000", id, err)
	}
	return nil
}

func TestGorillaManyClients(t *testing.T) {
	s := newE2EServer(t)
	const clients, msgs = 200, 50
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for id := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- gorillaClient(s, id, msgs)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for range clients {
		info := engine.Recv(t, s.closes, "server OnClose")
		if info.Code != frame.CloseNormal || info.Err != nil {
			t.Fatalf("server CloseInfo = {%d %q %v}, want {1000 \"\" <nil>}", info.Code, info.Reason, info.Err)
		}
	}
}
