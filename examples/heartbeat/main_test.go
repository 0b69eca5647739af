package main

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/examples/internal/extest"
	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

func TestMain(m *testing.M) { wstest.VerifyTestMain(m) }

// testInterval stands for the 30 s of the plugin, so that the tests see several pings quickly.
const testInterval = 100 * time.Millisecond

func start(t *testing.T) (*extest.Recorder, string) {
	t.Helper()
	rec := extest.NewRecorder()
	return rec, extest.Start(t, newApp(engine.Config{Loops: 2, Logger: rec.Logger()}, testInterval))
}

// TestHeartbeatPingPong: the server pings a client that sends nothing, again and again; the client
// answers each ping with a pong (gorilla does), the server logs "Received pong" for each, and the
// pongs keep the client open past the idle timeout (three intervals).
func TestHeartbeatPingPong(t *testing.T) {
	rec, addr := start(t)
	c := extest.Dial(t, addr, "/heartbeat")
	const rounds = 5
	pings := 0
	c.SetPingHandler(func(data string) error {
		if data != "" {
			t.Errorf("ping payload %q, want none", data)
		}
		if err := c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(extest.Wait)); err != nil {
			return err
		}
		if pings++; pings == rounds { // done: the server answers the close after the pongs before it
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			return c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(extest.Wait))
		}
		return nil
	})
	extest.ExpectClose(t, c, websocket.CloseNormalClosure, "") // 1001 "idle timeout" if pongs did not count
	if pings != rounds {
		t.Fatalf("%d pings, want %d", pings, rounds)
	}
	extest.Eventually(t, "a pong logged for each ping", func() bool { return len(rec.Records("Received pong")) == rounds })
}

// TestHeartbeatSilentClientClosed: a client that never answers the pings (a raw client) is closed with
// 1001 "idle timeout" after the pings, and nothing is logged for it.
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
	if n := len(rec.Records("Received pong")); n != 0 {
		t.Fatalf("%d pongs logged, want none", n)
	}
}
