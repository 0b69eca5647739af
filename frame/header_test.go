package frame

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// hdr concatenates byte groups into one input.
func hdr(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

type parseHeaderCase struct {
	name string
	in   []byte
	want Header
	size int
	need int
	err  error
}

// parseHeaderCases covers every length encoding, masked and unmasked, the
// incomplete prefixes and each error.
func parseHeaderCases() []parseHeaderCase {
	mask := testKey[:]
	return []parseHeaderCase{
		{"empty", nil, Header{}, 0, 2, nil},
		{"one byte", []byte{0x81}, Header{}, 0, 1, nil},
		{"7-bit unmasked", []byte{0x81, 0x05}, Header{Fin: true, Op: OpText, Length: 5}, 2, 0, nil},
		{"7-bit zero", []byte{0x82, 0x00}, Header{Fin: true, Op: OpBinary}, 2, 0, nil},
		{"7-bit masked", hdr([]byte{0x81, 0x85}, mask), Header{Fin: true, Op: OpText, Masked: true, Mask: testKey, Length: 5}, 6, 0, nil},
		{"7-bit masked, mask missing", []byte{0x81, 0x85, 0x37}, Header{}, 0, 3, nil},
		{"7-bit 125", []byte{0x82, 0x7D}, Header{Fin: true, Op: OpBinary, Length: 125}, 2, 0, nil},
		{"trailing payload ignored", []byte{0x81, 0x02, 'h', 'i'}, Header{Fin: true, Op: OpText, Length: 2}, 2, 0, nil},
		{"16-bit 126", []byte{0x82, 0x7E, 0x00, 0x7E}, Header{Fin: true, Op: OpBinary, Length: 126}, 4, 0, nil},
		{"16-bit 65535 masked", hdr([]byte{0x02, 0xFE, 0xFF, 0xFF}, mask), Header{Op: OpBinary, Masked: true, Mask: testKey, Length: 65535}, 8, 0, nil},
		{"16-bit non-minimal", []byte{0x82, 0x7E, 0x00, 0x05}, Header{Fin: true, Op: OpBinary, Length: 5}, 4, 0, nil},
		{"16-bit missing length", []byte{0x82, 0x7E, 0x01}, Header{}, 0, 1, nil},
		{"16-bit masked missing all", []byte{0x82, 0xFE}, Header{}, 0, 6, nil},
		{"64-bit 65536", []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}, Header{Fin: true, Op: OpBinary, Length: 65536}, 10, 0, nil},
		{"64-bit max masked", hdr([]byte{0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, mask), Header{Fin: true, Op: OpBinary, Masked: true, Mask: testKey, Length: math.MaxInt64}, 14, 0, nil},
		{"64-bit non-minimal", []byte{0x81, 0x7F, 0, 0, 0, 0, 0, 0, 0, 7}, Header{Fin: true, Op: OpText, Length: 7}, 10, 0, nil},
		{"64-bit masked missing", []byte{0x81, 0xFF, 0}, Header{}, 0, 11, nil},
		{"continuation not final", []byte{0x00, 0x03}, Header{Op: OpContinuation, Length: 3}, 2, 0, nil},
		{"rsv passed through", []byte{0xF1, 0x00}, Header{Fin: true, Rsv: Rsv1 | Rsv2 | Rsv3, Op: OpText}, 2, 0, nil},
		{"rsv1 only", []byte{0xC2, 0x00}, Header{Fin: true, Rsv: Rsv1, Op: OpBinary}, 2, 0, nil},
		{"close 125", []byte{0x88, 0x7D}, Header{Fin: true, Op: OpClose, Length: 125}, 2, 0, nil},
		{"ping masked empty", hdr([]byte{0x89, 0x80}, mask), Header{Fin: true, Op: OpPing, Masked: true, Mask: testKey}, 6, 0, nil},
		{"pong", []byte{0x8A, 0x01}, Header{Fin: true, Op: OpPong, Length: 1}, 2, 0, nil},

		{"reserved 0x3", []byte{0x83, 0x00}, Header{}, 0, 0, ErrReservedOpcode},
		{"reserved 0x7", []byte{0x87, 0x00}, Header{}, 0, 0, ErrReservedOpcode},
		{"reserved 0xB", []byte{0x8B, 0x00}, Header{}, 0, 0, ErrReservedOpcode},
		{"reserved 0xF", []byte{0x8F, 0x00}, Header{}, 0, 0, ErrReservedOpcode},
		{"reserved, first byte only", []byte{0x84}, Header{}, 0, 0, ErrReservedOpcode},
		{"reserved control not final", []byte{0x0C, 0x00}, Header{}, 0, 0, ErrReservedOpcode},
		{"fragmented ping", []byte{0x09, 0x00}, Header{}, 0, 0, ErrFragmentedControl},
		{"fragmented close", []byte{0x08}, Header{}, 0, 0, ErrFragmentedControl},
		{"fragmented pong", []byte{0x0A, 0x80}, Header{}, 0, 0, ErrFragmentedControl},
		{"close 16-bit", []byte{0x88, 0x7E, 0x00, 0x7E}, Header{}, 0, 0, ErrControlTooLong},
		{"ping 16-bit non-minimal", []byte{0x89, 0x7E, 0x00, 0x01}, Header{}, 0, 0, ErrControlTooLong},
		{"pong 64-bit, length missing", []byte{0x8A, 0xFF}, Header{}, 0, 0, ErrControlTooLong},
		{"64-bit MSB", []byte{0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, Header{}, 0, 0, ErrLengthOverflow},
		{"64-bit MSB, rest missing", []byte{0x82, 0xFF, 0xFF}, Header{}, 0, 0, ErrLengthOverflow},
	}
}

func TestParseHeaderTable(t *testing.T) {
	t.Parallel()
	for _, tt := range parseHeaderCases() {
		h, size, need, err := ParseHeader(tt.in)
		if !errors.Is(err, tt.err) || h != tt.want || size != tt.size || need != tt.need {
			t.Errorf("%s: ParseHeader(% x) = %+v, %d, %d, %v; want %+v, %d, %d, %v",
				tt.name, tt.in, h, size, need, err, tt.want, tt.size, tt.need, tt.err)
		}
		sentinel := Header{Op: 0xF, Length: -1}
		h2 := sentinel
		size2, need2, err2 := h2.Parse(tt.in)
		if size == 0 {
			h = sentinel // Parse leaves h alone unless the header is complete
		}
		if size2 != size || need2 != need || err2 != err || h2 != h {
			t.Errorf("%s: Header.Parse = %+v, %d, %d, %v; ParseHeader %+v, %d, %d, %v",
				tt.name, h2, size2, need2, err2, h, size, need, err)
		}
		if err != nil && CloseCodeOf(err) != CloseProtocolError {
			t.Errorf("%s: close code %v, want 1002", tt.name, CloseCodeOf(err))
		}
	}
}

// randomHeader returns a random header that ParseHeader accepts.
func randomHeader(r *rand.Rand) Header {
	ops := []Opcode{OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong}
	h := Header{Op: ops[r.IntN(len(ops))], Rsv: uint8(r.IntN(8)) << 4, Fin: r.IntN(2) == 0}
	if h.Masked = r.IntN(2) == 0; h.Masked {
		h.Mask = [4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}
	}
	switch {
	case h.Op.IsControl():
		h.Fin = true
		h.Length = r.Int64N(MaxControlPayload + 1)
	case r.IntN(3) == 0:
		h.Length = r.Int64N(MaxControlPayload + 1)
	case r.IntN(2) == 0:
		h.Length = MaxControlPayload + 1 + r.Int64N(0xFFFF-MaxControlPayload)
	default:
		h.Length = 0x10000 + r.Int64N(math.MaxInt64-0x10000)
	}
	return h
}

func TestParseHeaderPrefixes(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		h := randomHeader(r)
		enc := AppendHeader(nil, h)
		if len(enc) != HeaderSize(h) {
			t.Fatalf("%+v: encoded %d bytes, HeaderSize %d", h, len(enc), HeaderSize(h))
		}
		for i := range enc {
			_, size, need, err := ParseHeader(enc[:i])
			if err != nil || size != 0 || need <= 0 || i+need > len(enc) {
				t.Fatalf("%+v: prefix % x: size %d need %d err %v (full %d)", h, enc[:i], size, need, err, len(enc))
			}
		}
		got, size, need, err := ParseHeader(append(enc, 0xAA, 0xBB))
		if err != nil || got != h || size != len(enc) || need != 0 {
			t.Fatalf("ParseHeader(% x) = %+v, %d, %d, %v; want %+v, %d", enc, got, size, need, err, h, len(enc))
		}
	}
}

func TestPutHeaderRoundTrip(t *testing.T) {
	t.Parallel()
	lengths := []struct {
		n    int64
		size int
	}{
		{0, 2}, {1, 2}, {125, 2}, {126, 4}, {127, 4}, {0xFFFF, 4},
		{0x10000, 10}, {1 << 32, 10}, {math.MaxInt64, 10},
	}
	for _, l := range lengths {
		for _, masked := range []bool{false, true} {
			h := Header{Fin: true, Op: OpBinary, Rsv: Rsv1, Masked: masked, Length: l.n}
			want := l.size
			if masked {
				h.Mask = testKey
				want += 4
			}
			var buf [MaxHeaderSize]byte
			n := PutHeader(buf[:], h)
			if n != want || HeaderSize(h) != want {
				t.Errorf("%+v: PutHeader wrote %d, HeaderSize %d, want %d", h, n, HeaderSize(h), want)
			}
			got, size, _, err := ParseHeader(buf[:n])
			if err != nil || got != h || size != n {
				t.Errorf("round trip %+v: got %+v, %d, %v", h, got, size, err)
			}
		}
	}
}

func TestPutHeaderIgnoresExtraBits(t *testing.T) {
	t.Parallel()
	var buf [2]byte
	PutHeader(buf[:], Header{Op: 0xF1, Rsv: 0xFF, Length: 3})
	if buf[0] != 0x71 || buf[1] != 0x03 {
		t.Fatalf("got % x, want 71 03", buf)
	}
}

func TestOpcode(t *testing.T) {
	t.Parallel()
	for o := Opcode(0); o <= 0xF; o++ {
		known := o <= 2 || (o >= 8 && o <= 0xA)
		if o.IsReserved() == known {
			t.Errorf("%#x: IsReserved = %v", uint8(o), o.IsReserved())
		}
		if o.IsControl() != (o >= 8) {
			t.Errorf("%#x: IsControl = %v", uint8(o), o.IsControl())
		}
		if o.IsData() != (o <= 2) {
			t.Errorf("%#x: IsData = %v", uint8(o), o.IsData())
		}
	}
	names := map[Opcode]string{
		OpContinuation: "continuation", OpText: "text", OpBinary: "binary",
		OpClose: "close", OpPing: "ping", OpPong: "pong", 0x3: "reserved(0x3)", 0xF: "reserved(0xf)",
	}
	for o, want := range names {
		if o.String() != want {
			t.Errorf("%#x: String = %q, want %q", uint8(o), o.String(), want)
		}
	}
}

func TestParseHeaderAllocs(t *testing.T) {
	in := hdr([]byte{0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0}, testKey[:])
	var sink int64
	allocs := testing.AllocsPerRun(1000, func() {
		h, _, _, _ := ParseHeader(in)
		_, _, _, err := ParseHeader(in[:1])
		_, _, _, err2 := ParseHeader([]byte{0x83, 0})
		if err != nil || err2 == nil {
			panic("unexpected")
		}
		sink += h.Length
	})
	if allocs != 0 {
		t.Fatalf("ParseHeader allocates %v times per run", allocs)
	}
	var h Header
	if allocs := testing.AllocsPerRun(1000, func() { h.Parse(in); h.Parse(in[:3]) }); allocs != 0 {
		t.Fatalf("Header.Parse allocates %v times per run", allocs)
	}
	var buf [MaxHeaderSize]byte
	if allocs := testing.AllocsPerRun(1000, func() { PutHeader(buf[:], Header{Masked: true, Length: sink}) }); allocs != 0 {
		t.Fatalf("PutHeader allocates %v times per run", allocs)
	}
}

func BenchmarkParseHeader(b *testing.B) {
	inputs := []struct {
		name string
		in   []byte
	}{
		{"7bit-masked", hdr([]byte{0x81, 0x85}, testKey[:])},
		{"16bit-masked", hdr([]byte{0x82, 0xFE, 0x01, 0x00}, testKey[:])},
		{"64bit-unmasked", []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}},
		{"partial", []byte{0x82, 0xFE, 0x01}},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ParseHeader(in.in)
			}
		})
		b.Run(in.name+"-method", func(b *testing.B) {
			b.ReportAllocs()
			var h Header
			for b.Loop() {
				h.Parse(in.in)
			}
		})
	}
}
