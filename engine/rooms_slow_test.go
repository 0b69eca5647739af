package engine_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// Rooms under load: a member that stops reading (the slow-consumer policies) and connection churn.
//
// The slow-consumer tests publish rmSlowTotal binary messages of rmSlowSize bytes to a room of three
// reading members and one member that never reads. The publisher waits for the readers every
// rmSlowBatch messages, so a reader's backlog stays far below MaxBackpressure (rmSlowLimit) and only the
// stalled member can exceed it.
const (
	rmSlowTotal = 3000
	rmSlowSize  = 4 << 10
	rmSlowBatch = 16
	rmSlowLimit = 256 << 10
)

// rmSlow is an App whose route /slow?id=NAME joins room "slow" on open. It reports drop events
// ("stalled" for the connection of that name, "route Drop of <id>" for the others) and close infos,
// and keeps the server side of "stalled".
type rmSlow struct {
	app     *engine.App
	addr    string
	drops   chan string
	closes  chan rmClosed
	stalled atomic.Pointer[engine.Conn]
}

type rmClosed struct {
	id   string
	info engine.CloseInfo
}

// newRmSlow starts an rmSlow (engine.StartApp) whose slow consumers get policy.
func newRmSlow(t *testing.T, policy engine.SlowConsumerPolicy) *rmSlow {
	t.Helper()
	return newRmSlowCloseTimeout(t, policy, 500*time.Millisecond)
}

// newRmSlowCloseTimeout is newRmSlow with the given Config.CloseTimeout.
func newRmSlowCloseTimeout(t *testing.T, policy engine.SlowConsumerPolicy, closeTimeout time.Duration) *rmSlow {
	t.Helper()
	s := &rmSlow{drops: make(chan string, 1<<14), closes: make(chan rmClosed, 16)}
	cfg := engine.Config{MaxBackpressure: rmSlowLimit, SlowConsumer: policy, CloseTimeout: closeTimeout}
	s.app, s.addr = engine.StartApp(t, cfg, func(a *engine.App) { a.Route("/slow", s.handlers()) })
	return s
}

// handlers are the handlers of /slow.
func (s *rmSlow) handlers() engine.Handlers {
	return engine.Handlers{
		Open: func(ws *engine.Conn, ctx *engine.Context) {
			id := ctx.Query("id")
			ws.SetData(id)
			if id == "stalled" {
				s.stalled.Store(ws)
			}
			if err := ws.Join("slow"); err != nil {
				panic(err)
			}
		},
		Drop: func(ws *engine.Conn) {
			if id := ws.Data().(string); id == "stalled" {
				engine.Report(s.drops, "stalled")
			} else {
				engine.Report(s.drops, "route Drop of "+id)
			}
		},
		Close: func(ws *engine.Conn, info engine.CloseInfo) {
			engine.Report(s.closes, rmClosed{ws.Data().(string), info})
		},
	}
}

// rmStallRcvBuf is the stalled client's socket receive buffer. Not smaller: on loopback a receive
// window under the MSS (64 KiB) makes TCP crawl (4 MiB took 100 s at 4 KiB, 5 ms at 64 KiB) once the
// client reads again, and the stall comes from the server's autotuned send buffer (a few MiB) anyway.
const rmStallRcvBuf = 64 << 10

// rmStall connects a raw client with a small socket receive buffer that joins the room and then does
// not read, so the server's writes to it stall after the kernel buffers fill.
func rmStall(t *testing.T, s *rmSlow) *wstest.Raw {
	t.Helper()
	r := wstest.DialRaw(t, s.addr)
	if err := r.Conn.(*net.TCPConn).SetReadBuffer(rmStallRcvBuf); err != nil {
		t.Fatal(err)
	}
	if resp := r.Upgrade("/slow?id=stalled"); resp.StatusCode != 101 {
		t.Fatalf("upgrade: %d", resp.StatusCode)
	}
	if s.stalled.Load() == nil {
		t.Fatal("the stalled connection's open handler did not run")
	}
	return r
}

// rmReader is a gorilla client reading the room's messages and checking their sequence.
type rmReader struct {
	c   *gorilla.Conn
	got atomic.Int64 // messages received in order
	err atomic.Pointer[error]
}

// rmReaders connects n readers; each reads rmSlowTotal messages in a goroutine.
func rmReaders(t *testing.T, s *rmSlow, n int) []*rmReader {
	t.Helper()
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // after DialGorilla's cleanups below close the clients (last in, first out)
	out := make([]*rmReader, n)
	for i := range out {
		c, _ := engine.DialGorilla(t, s.addr, fmt.Sprintf("/slow?id=r%d", i), engine.GorillaOpts{})
		r := &rmReader{c: c}
		out[i] = r
		wg.Go(r.run)
	}
	return out
}

func (r *rmReader) run() {
	for i := range rmSlowTotal {
		_ = r.c.SetReadDeadline(time.Now().Add(rmWait))
		typ, p, err := r.c.ReadMessage()
		if err == nil {
			err = rmCheckSeq(typ == gorilla.BinaryMessage, p, i)
		}
		if err != nil {
			err = fmt.Errorf("reader, message %d: %w", i, err)
			r.err.Store(&err)
			return
		}
		r.got.Add(1)
	}
}

// rmCheckSeq checks that p is the binary message number want.
func rmCheckSeq(binaryMsg bool, p []byte, want int) error {
	if !binaryMsg || len(p) != rmSlowSize {
		return fmt.Errorf("got binary=%v, %d bytes; want a %d-byte binary message", binaryMsg, len(p), rmSlowSize)
	}
	if got := int(binary.BigEndian.Uint32(p)); got != want || p[len(p)-1] != byte(want) {
		return fmt.Errorf("got message %d (last byte %d), want %d", got, p[len(p)-1], want)
	}
	return nil
}

// rmPublishPaced publishes the rmSlowTotal messages with App.Publish, pausing every rmSlowBatch until
// every reader has them. It fails if a reader is ever skipped. (Whether the stalled member counts in
// Publish's result is not checked: the policy may drop its messages when they are written.)
func rmPublishPaced(t *testing.T, s *rmSlow, readers []*rmReader) {
	t.Helper()
	payload := make([]byte, rmSlowSize)
	for i := range rmSlowTotal {
		binary.BigEndian.PutUint32(payload, uint32(i))
		payload[len(payload)-1] = byte(i)
		n, err := rmPublish(s.app, "slow", payload)
		if err != nil || n < len(readers) {
			t.Fatalf("publish %d: queued for %d members (err %v); the %d readers must never be skipped",
				i, n, err, len(readers))
		}
		if (i+1)%rmSlowBatch == 0 || i == rmSlowTotal-1 {
			rmWaitReaders(t, s, readers, int64(i+1))
		}
	}
}

// rmWaitReaders waits until every reader has received n messages, failing at once on a reader error.
func rmWaitReaders(t *testing.T, s *rmSlow, readers []*rmReader, n int64) {
	t.Helper()
	engine.Poll(t, fmt.Sprintf("readers at %d messages", n), func() bool {
		done := true
		for _, r := range readers {
			if p := r.err.Load(); p != nil {
				t.Fatalf("%v; server close events: %s", *p, s.closeEvents())
			}
			done = done && r.got.Load() >= n
		}
		return done
	})
}

// closeEvents describes the close events reported so far (for failure messages).
func (s *rmSlow) closeEvents() string {
	var b strings.Builder
	for {
		select {
		case c := <-s.closes:
			fmt.Fprintf(&b, "[%s: code %d %q err %v] ", c.id, c.info.Code, c.info.Reason, c.info.Err)
		default:
			return b.String()
		}
	}
}

// rmNoReaderEvents fails on a close event or on a drop event other than the stalled member's.
func rmNoReaderEvents(t *testing.T, s *rmSlow) {
	t.Helper()
	for {
		select {
		case id := <-s.drops:
			if id != "stalled" {
				t.Fatalf("unexpected drop event: %s", id)
			}
		case c := <-s.closes:
			t.Fatalf("connection %s closed: %+v", c.id, c.info)
		default:
			return
		}
	}
}

// TestRoomsSlowConsumerDrop: with SlowDrop, a member that stops reading loses messages (its drop
// handler runs) while the readers get every message in order and the publisher is never held up;
// once it reads again, its stream is whole frames in order with gaps, and sends reach it again.
func TestRoomsSlowConsumerDrop(t *testing.T) {
	s := newRmSlow(t, engine.SlowDrop)
	stalled := rmStall(t, s)
	readers := rmReaders(t, s, 3)
	rmPublishPaced(t, s, readers)
	select {
	case id := <-s.drops:
		if id != "stalled" {
			t.Fatalf("first drop event: %s, want the stalled member's", id)
		}
	case <-time.After(rmWait):
		t.Fatal("the stalled member's drop handler never ran")
	}
	rmNoReaderEvents(t, s)
	ws := s.stalled.Load()
	if st := ws.ReadyState(); st != engine.StateOpen {
		t.Fatalf("stalled member is %v; SlowDrop must keep it open", st)
	}
	rmExpectRecovery(t, ws, stalled)
}

// rmExpectRecovery lets the stalled client read again and sends it "end" every few milliseconds
// (a send may itself be dropped while the backlog drains) until the client has read its backlog and
// one "end".
func rmExpectRecovery(t *testing.T, ws *engine.Conn, stalled *wstest.Raw) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- rmDrainUntilEnd(stalled) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(rmWait)
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			return
		case <-tick.C:
			if err := ws.Send("end"); err != nil && !errors.Is(err, engine.ErrBackpressure) {
				t.Fatalf("send to the stalled member: %v", err)
			}
		case <-timeout:
			t.Fatal("the stalled member never got a send after reading its backlog")
		}
	}
}

// rmDrainUntilEnd reads the stalled client's backlog: binary messages with increasing numbers, then
// the text "end".
func rmDrainUntilEnd(r *wstest.Raw) error {
	last := -1
	for {
		h, p, err := r.ReadFrame()
		switch {
		case err != nil:
			return fmt.Errorf("stalled client after message %d: %w", last, err)
		case h.Op == frame.OpText && h.Fin && string(p) == "end":
			return nil
		}
		if last, err = rmNextSeq(h, p, last); err != nil {
			return err
		}
	}
}

// rmNextSeq checks that a frame is a complete message numbered after last and returns its number.
func rmNextSeq(h frame.Header, p []byte, last int) (int, error) {
	if h.Op != frame.OpBinary || !h.Fin || len(p) != rmSlowSize {
		return last, fmt.Errorf("after message %d: frame %v fin=%v of %d bytes", last, h.Op, h.Fin, len(p))
	}
	seq := int(binary.BigEndian.Uint32(p))
	if seq <= last || p[len(p)-1] != byte(seq) {
		return last, fmt.Errorf("message %d (last byte %d) after %d", seq, p[len(p)-1], last)
	}
	return seq, nil
}

// TestRoomsSlowConsumerClose: with SlowClose, the member that stops reading is closed (1008 queued, the
// TCP connection dropped after CloseTimeout since it never answers; its close handler sees 1006 and
// ErrBackpressure) and leaves the room, while the readers get every message in order.
func TestRoomsSlowConsumerClose(t *testing.T) {
	s := newRmSlow(t, engine.SlowClose)
	stalled := rmStall(t, s)
	readers := rmReaders(t, s, 3)
	rmPublishPaced(t, s, readers)
	var got rmClosed
	select {
	case got = <-s.closes:
	case <-time.After(rmWait):
		t.Fatal("the stalled member was never closed")
	}
	if got.id != "stalled" {
		t.Fatalf("reader %s closed: %+v", got.id, got.info)
	}
	if got.info.Code != engine.CloseAbnormal || !errors.Is(got.info.Err, engine.ErrBackpressure) {
		t.Fatalf("stalled member's CloseInfo %+v, want code 1006 and ErrBackpressure", got.info)
	}
	engine.Poll(t, "the closed member to leave", func() bool { return s.app.Count("slow") == len(readers) })
	rmNoReaderEvents(t, s)
	if err := rmDrainUntilClosed(stalled, false); err != nil {
		t.Fatal(err)
	}
}

// TestSlowCloseDoesNotWaitForPeerClose: a connection closed by the SlowClose policy has failed (RFC
// 6455 7.1.7), so once its 1008 is written the server closes TCP without waiting for the peer's close
// frame. The stalled client reads again after the close but never answers it: it must see the 1008
// and then EOF, with CloseTimeout far longer than the test may run (it used to hold the socket that long).
func TestSlowCloseDoesNotWaitForPeerClose(t *testing.T) {
	s := newRmSlowCloseTimeout(t, engine.SlowClose, time.Hour)
	stalled := rmStall(t, s)
	ws := s.stalled.Load()
	payload := make([]byte, rmSlowSize)
	for i := 0; ws.ReadyState() == engine.StateOpen; i++ {
		if i == 1<<16 { // 256 MiB: far past any socket buffer plus MaxBackpressure
			t.Fatal("the stalled member was never closed by the slow-consumer policy")
		}
		binary.BigEndian.PutUint32(payload, uint32(i))
		payload[len(payload)-1] = byte(i)
		if _, err := rmPublish(s.app, "slow", payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := rmDrainUntilClosed(stalled, true); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-s.closes:
		if got.id != "stalled" || !errors.Is(got.info.Err, engine.ErrBackpressure) {
			t.Fatalf("close event %s %+v, want the stalled member's with ErrBackpressure", got.id, got.info)
		}
	case <-time.After(rmWait):
		t.Fatal("the stalled member's close handler never ran")
	}
}

// rmDrainUntilClosed reads what reached the stalled client before the server dropped it: binary
// messages with increasing numbers, possibly the close frame (which must be 1008 "slow consumer"),
// then EOF. The server may drop the connection with part of its backlog unsent, so a frame cut short
// is accepted as the end (unless wantClose: then the close frame must have come).
func rmDrainUntilClosed(r *wstest.Raw, wantClose bool) error {
	last, closed := -1, false
	for {
		h, p, err := r.ReadFrame()
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
			err != nil && strings.Contains(err.Error(), "connection reset"):
			if wantClose && !closed {
				return fmt.Errorf("EOF after message %d without the close frame", last)
			}
			return nil
		case err != nil:
			return fmt.Errorf("stalled client after message %d (close frame read: %v): %w", last, closed, err)
		case closed:
			return fmt.Errorf("frame %v after the close frame", h.Op)
		case h.Op == frame.OpClose:
			closed = true
			code, reason, _ := frame.ParseClose(p)
			if code != frame.ClosePolicyViolation || string(reason) != "slow consumer" {
				return fmt.Errorf("close %d %q, want 1008 \"slow consumer\"", code, reason)
			}
			continue
		}
		if last, err = rmNextSeq(h, p, last); err != nil {
			return err
		}
	}
}

// TestRoomsConcurrentChurn: 50 goroutines connect clients and, on their server connections and the App,
// Join, Leave, Broadcast, Publish and inspect rooms at random, while clients write, read or not, and
// vanish abruptly (some after a server close), with room calls racing the close. Nothing panics or races;
// once every client is gone no room is left.
func TestRoomsConcurrentChurn(t *testing.T) {
	s := newRmServer(t, engine.Config{History: engine.HistoryOptions{Size: 4}}, nil)
	stop := time.Now().Add(1500 * time.Millisecond) // how long to churn, not a timing assertion
	var wg sync.WaitGroup
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := 0; time.Now().Before(stop); i++ {
				if !rmChurnOnce(t, s, rng, fmt.Sprintf("w%d-%d", g, i)) {
					return
				}
			}
		}()
	}
	wg.Wait()
	engine.Poll(t, "every close handler", func() bool { return s.live() == 0 })
	if !rmEventually(func() bool { return len(s.app.Rooms()) == 0 }) {
		t.Fatalf("rooms left after every connection closed: %v", s.app.Rooms())
	}
	for _, r := range rmChurnRooms {
		if n := s.app.Count(r); n != 0 {
			t.Fatalf("Count(%s) = %d after every client left", r, n)
		}
	}
}

var rmChurnRooms = []string{"c0", "c1", "c2", "c3", "c4"}

// rmChurnOnce runs one client's life; false stops the worker after a reported failure.
func rmChurnOnce(t *testing.T, s *rmServer, rng *rand.Rand, id string) bool {
	c, _, err := engine.GorillaConnect(s.addr, "/r?id="+id, engine.GorillaOpts{})
	if err != nil {
		t.Errorf("dial %s: %v", id, err)
		return false
	}
	ws := s.lookup(id)
	if ws == nil {
		_ = c.Close()
		t.Errorf("no server connection for %s after the handshake", id)
		return false
	}
	var reader sync.WaitGroup
	if rng.IntN(2) == 0 {
		reader.Go(func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		})
	}
	ok := true
	for range 1 + rng.IntN(8) {
		ok = ok && rmChurnOp(t, s, ws, c, rng)
	}
	if rng.IntN(4) == 0 {
		ws.CloseWith(engine.CloseNormal, "bye")
	}
	_ = c.Close() // abrupt: no close frame
	for range rng.IntN(3) {
		ok = ok && rmChurnOp(t, s, ws, c, rng) // racing the server's close
	}
	reader.Wait()
	return ok
}

// rmChurnOp does one random room operation; false after a reported failure.
func rmChurnOp(t *testing.T, s *rmServer, ws *engine.Conn, c *gorilla.Conn, rng *rand.Rand) bool {
	room := rmChurnRooms[rng.IntN(len(rmChurnRooms))]
	var err error
	switch rng.IntN(10) {
	case 0, 1:
		if err = ws.Join(room); errors.Is(err, engine.ErrClosed) {
			err = nil
		}
	case 2:
		ws.Leave(room)
	case 3:
		err = ws.Broadcast(room, "x")
	case 4:
		err = ws.BroadcastAll(room, []byte("y"))
	case 5:
		err = s.app.Publish(room, map[string]int{"k": 1}, nil)
	case 6:
		_ = s.app.Publish(room, engine.NewMessage(frame.OpText, []byte("z")), nil)
	case 7:
		_, _, _ = s.app.Count(room), s.app.Rooms(), ws.Rooms()
		_ = ws.Room()
		if _, err = s.app.RoomInfo(room, 0, 0); errors.Is(err, engine.ErrNoRoom) {
			err = nil
		}
	case 8:
		_ = c.WriteMessage(gorilla.TextMessage, []byte("relay")) // fails once the client is closed
	case 9:
		_ = ws.Send("direct")
	}
	if err != nil {
		t.Errorf("room op on %s: %v", room, err)
		return false
	}
	return true
}
