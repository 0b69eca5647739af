package main

import (
	"bytes"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/examples/internal/extest"
	"github.com/openspeed/wsd/internal/wstest"
)

func TestMain(m *testing.M) { wstest.VerifyTestMain(m) }

func start(t *testing.T) (*extest.Recorder, string) {
	t.Helper()
	rec := extest.NewRecorder()
	return rec, extest.Start(t, newApp(engine.Config{Loops: 2, Logger: rec.Logger()}))
}

// TestEcho: every text message comes back as "Echo: <data>", in order; a binary message comes back
// binary with the same prefix; the close is logged as "Connection closed".
func TestEcho(t *testing.T) {
	rec, addr := start(t)
	c := extest.Dial(t, addr, "/echo")
	msgs := []string{"hello", "", "héllo wörld", `{"type":"message"}`, "third"}
	for _, s := range msgs {
		extest.Write(t, c, s)
	}
	for _, s := range msgs {
		extest.Expect(t, c, "Echo: "+s)
	}
	bin := []byte{0, 1, 2, 0xff, 0xfe}
	if err := c.WriteMessage(websocket.BinaryMessage, bin); err != nil {
		t.Fatal(err)
	}
	want := append([]byte("Echo: "), bin...)
	if typ, got := extest.Read(t, c); typ != websocket.BinaryMessage || !bytes.Equal(got, want) {
		t.Fatalf("got type %d %q, want binary %q", typ, got, want)
	}
	if n := len(rec.Records("Connection closed")); n != 0 {
		t.Fatalf("%d closes logged while open", n)
	}
	extest.CloseNormally(t, c)
	got := rec.WaitFor(t, "Connection closed", nil)
	if got.Attrs["code"].Int64() != websocket.CloseNormalClosure {
		t.Fatalf("logged %v, want code 1000", got.Attrs)
	}
}

// TestEchoIsPerConnection: each client gets only its own messages back; a client that vanishes
// without a close frame is logged too, and the other keeps working.
func TestEchoIsPerConnection(t *testing.T) {
	rec, addr := start(t)
	a, b := extest.Dial(t, addr, "/echo"), extest.Dial(t, addr, "/echo")
	extest.Write(t, a, "from a")
	extest.Write(t, b, "from b")
	extest.Expect(t, b, "Echo: from b")
	extest.Expect(t, a, "Echo: from a")
	_ = a.Close() // abrupt: no close frame
	got := rec.WaitFor(t, "Connection closed", nil)
	if got.Attrs["code"].Int64() != websocket.CloseAbnormalClosure {
		t.Fatalf("logged %v, want code 1006", got.Attrs)
	}
	extest.Write(t, b, "still here")
	extest.Expect(t, b, "Echo: still here")
}
