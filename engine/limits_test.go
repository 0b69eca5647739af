package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// Size limits (message, frame, fragments) and connection limits (total, per IP).

// ltHeader is a masked client frame header announcing length bytes of payload, without the payload.
func ltHeader(fin bool, op frame.Opcode, length uint64) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0, 0x80 | 127}
	b = binary.BigEndian.AppendUint64(b, length)
	return append(b, 0x11, 0x22, 0x33, 0x44) // mask key
}

// ltExpectClose reads the next frame, which must be a close frame with code and reason.
func ltExpectClose(t *testing.T, r *wstest.Raw, code frame.CloseCode, reason string) {
	t.Helper()
	h, p, err := r.ReadFrame()
	if err != nil || h.Op != frame.OpClose {
		t.Fatalf("want close %d, got %v %q %v", code, h.Op, p, err)
	}
	got, why, err := frame.ParseClose(p)
	if err != nil || got != code || string(why) != reason {
		t.Fatalf("close %d %q (%v), want %d %q", got, why, err, code, reason)
	}
}

// A frame header announcing 1 MiB over MaxMessageSize 1 KiB is answered with 1009 at once: the client
// has sent no payload byte, and the server does not wait for one.
func TestLimitMessageAnnounced(t *testing.T) {
	closed := make(chan CloseInfo, 4)
	cfg := Config{MaxMessageSize: 1 << 10, CloseTimeout: 300 * time.Millisecond}
	_, addr := startApp(t, cfg, func(a *App) {
		echoRoute(a)
		a.Route("/big", Handlers{
			Message: func(ws *Conn, m Message) { _ = ws.Send(m) },
			Close:   func(ws *Conn, info CloseInfo) { closed <- info },
		})
	})
	k := ptKeep(t, addr, "/echo", nil)
	r := wstest.Dial(t, addr, "/big")
	r.Send(true, frame.OpBinary, make([]byte, 1<<10)) // exactly the limit: served
	r.ExpectMessage(frame.OpBinary, make([]byte, 1<<10))
	r.Write(ltHeader(true, frame.OpBinary, 1<<20))
	ltExpectClose(t, r, frame.CloseMessageTooBig, "message too big")
	k.progress(t, "after the oversized announcement")
	// The announced payload never comes; the server drops the socket after CloseTimeout.
	r.ExpectEOF()
	info := recv(t, closed, "close handler")
	if !errors.Is(info.Err, frame.ErrMessageTooBig) {
		t.Fatalf("close handler: %+v, want Err ErrMessageTooBig", info)
	}
	// A continuation whose header takes the message past the limit is refused the same way.
	r = wstest.Dial(t, addr, "/big")
	r.Write(append(wstest.Frame(false, frame.OpText, make([]byte, 800)), ltHeader(true, frame.OpContinuation, 800)...))
	ltExpectClose(t, r, frame.CloseMessageTooBig, "message too big")
	r.ExpectEOF()
	k.progress(t, "after the oversized continuation")
	k.finish(t)
}

// MaxFrameSize caps each frame even when the message would fit MaxMessageSize.
func TestLimitFrameSize(t *testing.T) {
	_, addr := startApp(t, Config{MaxFrameSize: 512, MaxMessageSize: 4 << 10}, echoRoute)
	k := ptKeep(t, addr, "/echo", nil)
	r := wstest.Dial(t, addr, "/echo")
	part := bytes.Repeat([]byte("x"), 500)
	r.Write(bytes.Join([][]byte{
		wstest.Frame(false, frame.OpText, part),
		wstest.Frame(false, frame.OpContinuation, part),
		wstest.Frame(true, frame.OpContinuation, part),
	}, nil))
	r.ExpectMessage(frame.OpText, bytes.Repeat(part, 3)) // 1500 bytes in 500-byte frames: fine
	r.Send(true, frame.OpBinary, make([]byte, 600))
	ltExpectClose(t, r, frame.CloseMessageTooBig, "message too big")
	k.progress(t, "after the oversized frame")
	r.CloseHandshake(frame.CloseMessageTooBig)
	k.finish(t)
}

// MaxFragments (here a route override) allows three frames per message and fails the fourth with
// 1008 "too many fragments".
func TestLimitFragments(t *testing.T) {
	_, addr := startApp(t, Config{}, func(a *App) {
		echoRoute(a)
		a.Route("/frag", Handlers{Open: echoOpen, Options: RouteOptions{MaxFragments: 3}})
	})
	k := ptKeep(t, addr, "/echo", nil)
	r := wstest.Dial(t, addr, "/frag")
	r.Write(bytes.Join([][]byte{
		wstest.Frame(false, frame.OpText, []byte("a")),
		wstest.Frame(false, frame.OpContinuation, []byte("b")),
		wstest.Frame(true, frame.OpContinuation, []byte("c")),
	}, nil))
	r.ExpectMessage(frame.OpText, []byte("abc"))
	r.Write(bytes.Join([][]byte{
		wstest.Frame(false, frame.OpText, []byte("1")),
		wstest.Frame(false, frame.OpContinuation, []byte("2")),
		wstest.Frame(false, frame.OpContinuation, []byte("3")),
		wstest.Frame(true, frame.OpContinuation, []byte("4")),
	}, nil))
	ltExpectClose(t, r, frame.ClosePolicyViolation, "too many fragments")
	k.progress(t, "after the fragment flood")
	r.CloseHandshake(frame.ClosePolicyViolation)
	k.finish(t)
}

// response reads the HTTP answer with its body.
func (w *leanWS) response(t *testing.T) (*http.Response, string) {
	t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// expect101 reads a 101 answer.
func (w *leanWS) expect101(t *testing.T, i int) {
	t.Helper()
	if resp, body := w.response(t); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("connection %d: status %d %q, want 101", i, resp.StatusCode, body)
	}
}

// expect503 reads a 503 answer with Retry-After and expects the server to close.
func (w *leanWS) expect503(t *testing.T, i int, retryAfter string) {
	t.Helper()
	resp, body := w.response(t)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != retryAfter || !resp.Close {
		t.Fatalf("connection %d: status %d, Retry-After %q, Connection: close %v (%q); want 503, %q, close",
			i, resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close, body, retryAfter)
	}
	_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if rest, err := io.ReadAll(w.br); len(rest) > 0 || (err != nil && !isConnReset(err)) {
		t.Fatalf("connection %d after 503: %q %v, want EOF", i, rest, err)
	}
}

// expectRefused expects a socket refused at accept (over MaxConnections or MaxConnectionsPerIP): closed
// without a byte when its request had not arrived yet when the server accepted it, else a 503 with
// Retry-After and Connection: close (which of the two depends on timing; both count as rejected).
func (w *leanWS) expectRefused(t *testing.T, i int, retryAfter string) {
	t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := w.br.Peek(1); err == io.EOF || isConnReset(err) {
		return
	}
	w.expect503(t, i, retryAfter)
}

// echo sends one masked text frame and expects it back.
func (w *leanWS) echo(t *testing.T, msg string) {
	t.Helper()
	_ = w.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := w.c.Write(wstest.Frame(true, frame.OpText, []byte(msg))); err != nil {
		t.Fatal(err)
	}
	if h, p, err := w.readFrame(); err != nil || h.Op != frame.OpText || string(p) != msg {
		t.Fatalf("echo of %q: %v %q %v", msg, h.Op, p, err)
	}
}

// 1,000 connections from 127.0.0.1 against MaxConnectionsPerIP 100: the first 100 upgrade, the other
// 900 are refused (closed at once, or 503 with Retry-After from Config.RetryAfter when their request
// was already there); a client from 127.0.0.2 connects and echoes throughout, and a slot freed on
// 127.0.0.1 is usable again.
func TestLimitConnectionsPerIP(t *testing.T) {
	const limit, total = 100, 1000
	app, addr := startApp(t, Config{MaxConnectionsPerIP: limit, RetryAfter: 7 * time.Second}, echoRoute)
	other := net.IPv4(127, 0, 0, 2)
	k := ptKeep(t, addr, "/echo", other)
	open := make([]*leanWS, 0, limit)
	for i := range limit { // one at a time: exactly the first 100 fit
		l := leanDial(t, addr, "/echo", nil)
		l.expect101(t, i)
		open = append(open, l)
	}
	open[0].echo(t, "first")
	open[limit-1].echo(t, "last")
	for start := limit; start < total; start += 100 { // the rest in concurrent batches
		batch := make([]*leanWS, 100)
		for i := range batch {
			batch[i] = leanDial(t, addr, "/echo", nil)
		}
		for i, l := range batch {
			l.expectRefused(t, start+i, "7")
		}
		k.progress(t, fmt.Sprintf("after connection %d", start+len(batch)))
	}
	late := newPTClient(t, addr, "/echo", other) // a new client from another address still gets in
	if err := late.roundTrip("from 127.0.0.2"); err != nil {
		t.Fatal(err)
	}
	st := ptStats(app)
	if st.Rejected[RejectTooMany] != total-limit || st.Upgrades != limit+2 {
		t.Fatalf("Stats: rejected too_many %d, upgrades %d; want %d and %d", st.Rejected[RejectTooMany],
			st.Upgrades, total-limit, limit+2)
	}
	_ = open[0].c.Close()
	waitConnections(t, app, limit+1) // 99 from 127.0.0.1 and the two from 127.0.0.2
	again := leanDial(t, addr, "/echo", nil)
	again.expect101(t, total)
	again.echo(t, "a freed slot")
	k.finish(t)
}

// MaxConnections caps all sockets: with the keeper and 49 WebSockets open at a cap of 50, further
// sockets are refused (closed, or 503 when their request was there) until one closes.
func TestLimitConnectionsTotal(t *testing.T) {
	const limit = 50
	app, addr := startApp(t, Config{MaxConnections: limit, RetryAfter: time.Second}, echoRoute)
	k := ptKeep(t, addr, "/echo", nil)
	open := make([]*leanWS, 0, limit-1)
	for i := range limit - 1 {
		l := leanDial(t, addr, "/echo", nil)
		l.expect101(t, i)
		open = append(open, l)
	}
	over := make([]*leanWS, 10)
	for i := range over {
		over[i] = leanDial(t, addr, "/echo", nil)
	}
	for i, l := range over {
		l.expectRefused(t, limit+i, "1")
	}
	k.progress(t, "after the refused connections")
	waitConnections(t, app, limit)
	_ = open[0].c.Close()
	waitConnections(t, app, limit-1)
	again := leanDial(t, addr, "/echo", nil)
	again.expect101(t, limit+len(over))
	again.echo(t, "a freed slot")
	open[1].echo(t, "still open")
	k.finish(t)
}
