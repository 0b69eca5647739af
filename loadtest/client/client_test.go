package client

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// serverFrame encodes an unmasked server frame.
func serverFrame(op Opcode, fin bool, payload []byte) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	n := len(payload)
	out := []byte{b0}
	switch {
	case n < 126:
		out = append(out, byte(n))
	case n <= 0xFFFF:
		out = append(out, 126, byte(n>>8), byte(n))
	default:
		out = append(out, 127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	return append(out, payload...)
}

// unmask decodes one masked client frame.
func unmask(t *testing.T, b []byte) (Opcode, []byte) {
	t.Helper()
	if b[1]&0x80 == 0 {
		t.Fatal("client frame not masked")
	}
	n, off := int(b[1]&0x7F), 2
	switch n {
	case 126:
		n, off = int(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		n, off = int(binary.BigEndian.Uint64(b[2:])), 10
	}
	key := b[off : off+4]
	p := append([]byte(nil), b[off+4:off+4+n]...)
	for i := range p {
		p[i] ^= key[i%4]
	}
	return Opcode(b[0] & 0x0F), p
}

func TestFrameLengths(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000} {
		p := bytes.Repeat([]byte{'x'}, n)
		op, got := unmask(t, AppendFrame(nil, OpBinary, p, NewKey()))
		if op != OpBinary || !bytes.Equal(got, p) {
			t.Fatalf("client frame of %d bytes did not round-trip", n)
		}
		h, ok, err := parseHeader(serverFrame(OpText, true, p))
		if !ok || err != nil || h.n != n || h.op != OpText || !h.fin || h.size != clientHeaderLen(n)-4 {
			t.Fatalf("server header of %d bytes: %+v %v %v", n, h, ok, err)
		}
	}
	if _, _, err := parseHeader([]byte{0x81, 0x80}); err != ErrMaskedServerFrame {
		t.Fatalf("masked server frame: %v", err)
	}
	if _, _, err := parseHeader([]byte{0xC1, 0x00}); err != ErrReservedBits {
		t.Fatalf("RSV1 frame: %v", err)
	}
	if _, ok, _ := parseHeader([]byte{0x81, 126, 0}); ok {
		t.Fatal("a truncated 16-bit length parsed")
	}
}

func TestHotPathsDoNotAllocate(t *testing.T) {
	m := NewMessage(OpText, 64, NewKey())
	r := NewRecorder()
	hdr := serverFrame(OpBinary, true, make([]byte, 300))
	allocs := testing.AllocsPerRun(1000, func() {
		m.Stamp(time.Now().UnixNano(), 42)
		r.RecordSince(time.Now().UnixNano() - 1000)
		if _, ok, _ := parseHeader(hdr); !ok {
			t.Fatal("header")
		}
		_, _, _ = ReadStamp(OpBinary, hdr[4:])
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per stamp+record+parse", allocs)
	}
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if server, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}

// TestIdlePoolSweep feeds an idle connection pings, data and a split frame, and checks the answers.
func TestIdlePoolSweep(t *testing.T) {
	c, s := tcpPair(t)
	p := NewIdlePool()
	ping := serverFrame(OpPing, true, []byte("hb"))
	if err := p.Add(c, ping[:1]); err != nil { // leftover after the 101: half a ping
		t.Fatal(err)
	}
	data := serverFrame(OpText, true, bytes.Repeat([]byte{'d'}, 300))
	write(t, s, append(append(ping[1:], data...), serverFrame(OpPing, true, nil)[:1]...))
	buf := make([]byte, 64)
	if st := waitSweep(t, p, buf, func(st SweepStats) bool { return st.Pings == 1 }); st.Messages != 1 || st.Alive != 1 {
		t.Fatalf("first sweep: %+v", st)
	}
	write(t, s, serverFrame(OpPing, true, nil)[1:])
	waitSweep(t, p, buf, func(st SweepStats) bool { return st.Pings == 1 })
	for _, want := range []string{"hb", ""} {
		op, got := readClientFrame(t, s)
		if op != OpPong || string(got) != want {
			t.Fatalf("answer %v %q, want pong %q", op, got, want)
		}
	}
	write(t, s, serverFrame(OpClose, true, []byte{0x03, 0xE9}))
	if st := waitSweep(t, p, buf, func(st SweepStats) bool { return st.Closed == 1 }); st.Alive != 0 {
		t.Fatalf("after close: %+v", st)
	}
	if op, _ := readClientFrame(t, s); op != OpClose {
		t.Fatalf("close answered with %v", op)
	}
}

func write(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// waitSweep sweeps until ok holds for a sweep's stats (bytes may take a moment over loopback).
func waitSweep(t *testing.T, p *IdlePool, buf []byte, ok func(SweepStats) bool) SweepStats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := p.Sweep(buf)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("sweep never satisfied: last %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readClientFrame(t *testing.T, c net.Conn) (Opcode, []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 6)
	if _, err := io.ReadFull(c, hdr); err != nil {
		t.Fatal(err)
	}
	rest := make([]byte, hdr[1]&0x7F)
	if _, err := io.ReadFull(c, rest); err != nil {
		t.Fatal(err)
	}
	return unmask(t, append(hdr, rest...))
}
