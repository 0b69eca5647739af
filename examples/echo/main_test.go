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

// TestEcho: text and binary messages come back unchanged, with their opcode, in order; a client close
// is answered with the same code.
func TestEcho(t *testing.T) {
	addr := extest.Start(t, newApp(engine.Config{Loops: 2}))
	c := extest.Dial(t, addr, "/echo")
	for _, s := range []string{"hello", "", "héllo wörld", "third"} {
		extest.Write(t, c, s)
	}
	for _, s := range []string{"hello", "", "héllo wörld", "third"} {
		extest.Expect(t, c, s)
	}
	bin := []byte{0, 1, 2, 0xff, 0xfe}
	if err := c.WriteMessage(websocket.BinaryMessage, bin); err != nil {
		t.Fatal(err)
	}
	if typ, got := extest.Read(t, c); typ != websocket.BinaryMessage || !bytes.Equal(got, bin) {
		t.Fatalf("got type %d %x, want binary %x", typ, got, bin)
	}
	extest.CloseNormally(t, c)
}

// TestEchoIsPerConnection: each client gets only its own messages back.
func TestEchoIsPerConnection(t *testing.T) {
	addr := extest.Start(t, newApp(engine.Config{Loops: 2}))
	a, b := extest.Dial(t, addr, "/echo"), extest.Dial(t, addr, "/echo")
	extest.Write(t, a, "from a")
	extest.Write(t, b, "from b")
	extest.Expect(t, b, "from b")
	extest.Expect(t, a, "from a")
}
