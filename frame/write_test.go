package frame

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

var finishLengths = []int{0, 1, 125, 126, 65535, 65536, 70000}

// checkFrame parses frame and checks it is exactly one frame with header
// want and the given payload.
func checkFrame(t *testing.T, frame []byte, want Header, payload []byte) {
	t.Helper()
	h, size, need, err := ParseHeader(frame)
	if err != nil || size == 0 || need != 0 {
		t.Fatalf("ParseHeader: size %d need %d err %v", size, need, err)
	}
	if h != want {
		t.Fatalf("header %+v, want %+v", h, want)
	}
	if int64(len(frame)-size) != h.Length || !bytes.Equal(frame[size:], payload) {
		t.Fatalf("payload of %d bytes after a %d-byte header, want %d bytes", len(frame)-size, size, len(payload))
	}
}

func TestBeginFinish(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range finishLengths {
		payload := randomBytes(r, n)
		for _, op := range []Opcode{OpText, OpBinary, OpContinuation} {
			t.Run(fmt.Sprintf("%v-%d", op, n), func(t *testing.T) {
				b := Begin([]byte("junk in front"))
				room := len(b) - MaxServerHeaderSize
				b = append(b, payload...)
				frame := Finish(b[room:], op, op != OpContinuation, Rsv1)
				if &frame[len(frame)-1] != &b[len(b)-1] {
					t.Fatal("frame is not a suffix of the buffer")
				}
				want := Header{Fin: op != OpContinuation, Rsv: Rsv1, Op: op, Length: int64(n)}
				checkFrame(t, frame, want, payload)
				if string(b[:room]) != "junk in front" {
					t.Fatalf("Finish wrote before the reserved room: %q", b[:room])
				}
			})
		}
	}
}

func TestFinishControl(t *testing.T) {
	t.Parallel()
	b := Begin(nil)
	b = AppendClose(b, CloseGoingAway, "shutting down")
	frame := Finish(b, OpClose, true, 0)
	checkFrame(t, frame, Header{Fin: true, Op: OpClose, Length: 15}, b[MaxServerHeaderSize:])
	code, reason, err := ParseClose(frame[2:])
	if code != CloseGoingAway || string(reason) != "shutting down" || err != nil {
		t.Fatalf("ParseClose = %v, %q, %v", code, reason, err)
	}
}

func TestPool(t *testing.T) {
	t.Parallel()
	var p Pool
	for _, n := range finishLengths {
		bb := p.Get()
		if len(bb.B) != MaxServerHeaderSize {
			t.Fatalf("Get: len(B) = %d, want %d", len(bb.B), MaxServerHeaderSize)
		}
		payload := bytes.Repeat([]byte{'x'}, n)
		bb.B = append(bb.B, payload...)
		checkFrame(t, Finish(bb.B, OpBinary, true, 0), Header{Fin: true, Op: OpBinary, Length: int64(n)}, payload)
		p.Put(bb)
	}
}

func TestAppendFrame(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range finishLengths {
		payload := randomBytes(r, n)
		orig := slices.Clone(payload)
		h := Header{Fin: true, Op: OpBinary, Masked: true, Mask: randomKey(r), Length: -5} // Length is ignored
		frame := AppendFrame([]byte("pre"), h, payload)
		if !bytes.Equal(payload, orig) {
			t.Fatal("AppendFrame modified the payload")
		}
		got, size, _, err := ParseHeader(frame[3:])
		if err != nil || got.Length != int64(n) || got.Mask != h.Mask || !got.Masked {
			t.Fatalf("n=%d: ParseHeader = %+v, %v", n, got, err)
		}
		body := frame[3+size:]
		Mask(got.Mask, 0, body)
		if !bytes.Equal(body, payload) {
			t.Fatalf("n=%d: unmasked payload differs", n)
		}
	}
	frame := AppendFrame(nil, Header{Fin: true, Op: OpText}, []byte("hi"))
	if !bytes.Equal(frame, []byte{0x81, 0x02, 'h', 'i'}) {
		t.Fatalf("unmasked frame % x", frame)
	}
}

func TestFinishAllocs(t *testing.T) {
	b := make([]byte, MaxServerHeaderSize+70000)
	allocs := testing.AllocsPerRun(1000, func() {
		Finish(b, OpBinary, true, 0)
		Finish(b[:MaxServerHeaderSize+300], OpText, false, Rsv1)
		Finish(b[:MaxServerHeaderSize+5], OpPing, true, 0)
	})
	if allocs != 0 {
		t.Fatalf("Finish allocates %v times per run", allocs)
	}
}

func TestPoolAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	var p Pool
	p.Put(p.Get())
	allocs := testing.AllocsPerRun(1000, func() {
		bb := p.Get()
		bb.B = append(bb.B, "hello"...)
		Finish(bb.B, OpText, true, 0)
		p.Put(bb)
	})
	// A GC during the run may empty the sync.Pool underneath.
	if allocs > 0.01 {
		t.Fatalf("Pool Get/Put allocates %v times per run", allocs)
	}
}

func BenchmarkFinish(b *testing.B) {
	buf := Begin(nil)
	buf = append(buf, make([]byte, 1024)...)
	b.ReportAllocs()
	for b.Loop() {
		Finish(buf, OpText, true, 0)
	}
}
