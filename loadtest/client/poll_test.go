package client

import (
	"sync"
	"testing"
	"time"
)

// TestPoller feeds two polled connections messages (one fragmented, one split across writes), a ping
// and a close, and checks what the handlers saw and what the poller answered.
func TestPoller(t *testing.T) {
	var mu sync.Mutex
	got := map[int][]string{}
	ended := make(chan int, 2)
	p, err := NewPoller(func(tag int, op Opcode, payload []byte) {
		mu.Lock()
		got[tag] = append(got[tag], op.String()+":"+string(payload))
		mu.Unlock()
	}, func(tag int, err error) {
		if err != nil {
			t.Errorf("conn %d ended with %v", tag, err)
		}
		ended <- tag
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c0, s0 := tcpPair(t)
	c1, s1 := tcpPair(t)
	hello := serverFrame(OpText, true, []byte("hello"))
	if err := p.Add(c0, hello[:3], 0); err != nil { // part of a frame came with the 101
		t.Fatal(err)
	}
	if err := p.Add(c1, nil, 1); err != nil {
		t.Fatal(err)
	}
	write(t, s0, hello[3:])
	write(t, s0, serverFrame(OpPing, true, []byte("p")))
	write(t, s0, append(serverFrame(OpBinary, false, []byte("ab")), serverFrame(OpPing, true, nil)...))
	write(t, s0, serverFrame(OpContinuation, true, []byte("cd")))
	for _, want := range []string{"p", ""} {
		if op, b := readClientFrame(t, s0); op != OpPong || string(b) != want {
			t.Fatalf("got %v %q, want pong %q", op, b, want)
		}
	}
	write(t, s0, serverFrame(OpClose, true, []byte{0x03, 0xE8}))
	if op, _ := readClientFrame(t, s0); op != OpClose {
		t.Fatalf("close answered with %v", op)
	}
	if err := p.SendClose(1); err != nil {
		t.Fatal(err)
	}
	if op, _ := readClientFrame(t, s1); op != OpClose {
		t.Fatalf("SendClose wrote %v", op)
	}
	write(t, s1, serverFrame(OpClose, true, []byte{0x03, 0xE8}))
	for range 2 {
		select {
		case <-ended:
		case <-time.After(5 * time.Second):
			t.Fatal("connections did not end")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got[0]) != 2 || got[0][0] != "text:hello" || got[0][1] != "binary:abcd" || len(got[1]) != 0 {
		t.Fatalf("messages: %v", got)
	}
}
