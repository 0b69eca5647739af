package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/examples/internal/extest"
	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

func TestMain(m *testing.M) { wstest.VerifyTestMain(m) }

func start(t *testing.T) (*extest.Recorder, string) {
	t.Helper()
	rec := extest.NewRecorder()
	return rec, extest.Start(t, newApp(engine.Config{Loops: 2, Logger: rec.Logger()}))
}

func expectPong(t *testing.T, c *websocket.Conn) {
	t.Helper()
	var p pong
	if s := extest.Text(t, c); json.Unmarshal([]byte(s), &p) != nil || p.Type != "pong" || p.Time <= 0 {
		t.Fatalf("got %q, want {\"type\":\"pong\",\"time\":<ms>}", s)
	}
}

// TestHeartbeatAppPing: the application-level ping is answered with a pong carrying the time.
func TestHeartbeatAppPing(t *testing.T) {
	_, addr := start(t)
	c := extest.Dial(t, addr, "/heartbeat")
	extest.Write(t, c, `{"type":"ping"}`)
	expectPong(t, c)
	extest.Write(t, c, `{"type":"ping","id":1}`)
	expectPong(t, c)
}

// TestHeartbeatAnsweringClientStays: a client that sends nothing but answers the engine's pings (gorilla
// does while it reads) survives several ping rounds, longer than the idle timeout, and still works.
func TestHeartbeatAnsweringClientStays(t *testing.T) {
	_, addr := start(t)
	c := extest.Dial(t, addr, "/heartbeat")
	pings := 0
	c.SetPingHandler(func(data string) error {
		if err := c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(extest.Wait)); err != nil {
			return err
		}
		if pings++; pings == 3 {
			return c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`))
		}
		return nil
	})
	expectPong(t, c) // a close 1001 would come here instead if the pongs did not count
	if pings < 3 {
		t.Fatalf("pong before the third ping (%d pings)", pings)
	}
}

// TestHeartbeatSilentClientClosed: a client that never answers is closed with 1001 "idle timeout", and
// the close handler sees engine.ErrIdleTimeout.
func TestHeartbeatSilentClientClosed(t *testing.T) {
	rec, addr := start(t)
	r := wstest.Dial(t, addr, "/heartbeat")
	r.Timeout = extest.Wait
	pings := 0
	for {
		h, p, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if h.Op == frame.OpPing {
			pings++
			continue
		}
		code, reason, err := frame.ParseClose(p)
		if h.Op != frame.OpClose || err != nil || code != frame.CloseGoingAway || string(reason) != "idle timeout" {
			t.Fatalf("got %v %q, want close 1001 \"idle timeout\"", h.Op, p)
		}
		break
	}
	if pings == 0 {
		t.Fatal("closed without a ping first")
	}
	r.CloseHandshake(frame.CloseGoingAway)
	got := rec.WaitFor(t, "closed", nil)
	if !got.Attrs["idle"].Bool() || got.Attrs["code"].Int64() != int64(frame.CloseGoingAway) {
		t.Fatalf("close handler saw %v, want idle true, code 1001", got.Attrs)
	}
}
