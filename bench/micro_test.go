package bench

import (
	"fmt"
	"testing"

	"github.com/openspeed/wsd/dispatch"
	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/rooms"
)

// Micro-benchmarks of wsd's hot paths: go test -run '^$' -bench 'Parse|Mask|Dispatch|Fanout' .
//
// The peers have no comparable exported functions: gorilla's maskBytes, gws's internal.MaskXOR and
// nbio's masking are unexported, their frame parsers live inside their Conn readers, and none has a
// room table; so these benchmarks cover wsd only, and the peers are compared end to end (Compare).

var maskKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// headerInputs are complete client (masked) and server (unmasked) frame headers.
var headerInputs = []struct {
	name string
	in   []byte
}{
	{"7bit-masked", append([]byte{0x81, 0x80 | 64}, maskKey[:]...)},               // 64 B text from a client
	{"16bit-masked", append([]byte{0x82, 0x80 | 126, 0x04, 0x00}, maskKey[:]...)}, // 1 KiB binary from a client
	{"64bit-unmasked", []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},                 // 64 KiB server frame
	{"partial", []byte{0x82, 0x80 | 126, 0x04}},                                   // 3 of 8 bytes: "need 5"
}

func BenchmarkParseHeader(b *testing.B) {
	for _, in := range headerInputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, size, need, err := frame.ParseHeader(in.in); err != nil || size == 0 && need == 0 {
					b.Fatal(size, need, err)
				}
			}
		})
	}
}

func BenchmarkHeaderParse(b *testing.B) {
	for _, in := range headerInputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			var h frame.Header
			for b.Loop() {
				if size, need, err := h.Parse(in.in); err != nil || size == 0 && need == 0 {
					b.Fatal(size, need, err)
				}
			}
		})
	}
}

func BenchmarkMask(b *testing.B) {
	for _, size := range []int{64, 1 << 10, 64 << 10} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			pos := 0
			for b.Loop() {
				pos = frame.Mask(maskKey, pos, buf)
			}
		})
	}
}

// BenchmarkDispatchType finds the event type of the seed event, the first step of every custom event.
func BenchmarkDispatchType(b *testing.B) {
	seed := []byte(`{"type":"join-room","room":"general"}`)
	b.SetBytes(int64(len(seed)))
	b.ReportAllocs()
	for b.Loop() {
		if typ, ok := (dispatch.JSON{}).Type(seed); !ok || string(typ) != "join-room" {
			b.Fatalf("Type = %q, %v", typ, ok)
		}
	}
}

// fanMember is a room member for the fan-out benchmark.
type fanMember struct {
	loop int
	ms   rooms.Membership[*fanMember]
	got  int
}

func (m *fanMember) LoopIndex() int                            { return m.loop }
func (m *fanMember) Membership() *rooms.Membership[*fanMember] { return &m.ms }
func (m *fanMember) Variant() uint8                            { return 0 }
func (m *fanMember) Presence() (rooms.Client, bool)            { return rooms.Client{}, false }

// countingFan stands in for the engine's loop queues: it counts each recipient and takes (and drops)
// one frame reference per recipient in one atomic step per loop, as the engine's batch does.
type countingFan struct{ delivered int }

func (f *countingFan) Prepare(p *rooms.Pub, variants []uint8) {
	for _, v := range variants {
		if p.Frames[v] == nil {
			p.Main.Retain(1)
			p.Frames[v] = p.Main
		}
	}
}

func (f *countingFan) Deliver(_ int, members []*fanMember, skip *fanMember, hasSkip bool, p *rooms.Pub) int {
	n := 0
	for _, m := range members {
		if hasSkip && m == skip {
			continue
		}
		m.got++
		n++
	}
	p.Frames[0].Retain(n)
	p.Frames[0].Release(n)
	f.delivered += n
	return n
}

func (f *countingFan) Replay(*fanMember, *rooms.Pub) {}

// BenchmarkRoomFanout broadcasts a 64-byte text frame, encoded once into a pooled frame, to a room of
// 1k and 10k members spread over 2 loops, skipping the sender (the raw relay).
func BenchmarkRoomFanout(b *testing.B) {
	payload := make([]byte, 64)
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			fan := &countingFan{}
			fp := rooms.NewFramePool(&frame.Pool{})
			table := rooms.New(rooms.Options[*fanMember]{Loops: 2, Fanout: fan, Frames: fp})
			members := make([]*fanMember, n)
			for i := range members {
				members[i] = &fanMember{loop: i % 2}
				if _, err := table.Join("r", members[i], rooms.RoomOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				buf := fp.Buffer()
				buf.B = append(buf.B, payload...)
				p := table.NewPub("r")
				p.Main = fp.Finish(buf, frame.OpText)
				table.Skip(p, members[0])
				before := fan.delivered
				table.Publish(p)
				if got := fan.delivered - before; got != n-1 {
					b.Fatalf("delivered to %d, want %d", got, n-1)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n-1), "ns/recipient")
		})
	}
}
