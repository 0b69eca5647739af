package frame

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// basicMask is the one-line reference: RFC 6455 section 5.3 verbatim.
func basicMask(key [4]byte, pos int, b []byte) {
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
}

func randomKey(r *rand.Rand) [4]byte {
	return [4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestMask(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		key := randomKey(r)
		pos := r.IntN(16) - 8 // negative and >3 offsets reduce mod 4
		orig := randomBytes(r, r.IntN(1001))
		want := slices.Clone(orig)
		basicMask(key, pos, want)
		got := slices.Clone(orig)
		next := Mask(key, pos, got)
		if !bytes.Equal(got, want) {
			t.Fatalf("Mask(%x, %d, %d bytes) differs from reference", key, pos, len(orig))
		}
		if wantNext := (pos + len(orig)) & 3; next != wantNext {
			t.Fatalf("Mask(%x, %d, %d bytes) returned %d, want %d", key, pos, len(orig), next, wantNext)
		}
		Mask(key, pos, got)
		if !bytes.Equal(got, orig) {
			t.Fatalf("masking twice did not restore the input (pos %d, %d bytes)", pos, len(orig))
		}
	}
}

func TestMaskChunked(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		key := randomKey(r)
		orig := randomBytes(r, r.IntN(1001))
		want := slices.Clone(orig)
		Mask(key, 0, want)

		got := slices.Clone(orig)
		pos := 0
		for rest := got; len(rest) > 0; {
			n := r.IntN(min(len(rest), 80) + 1) // empty chunks too
			pos = Mask(key, pos, rest[:n])
			rest = rest[n:]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("chunked masking of %d bytes differs from one-shot", len(orig))
		}
		if pos != len(orig)&3 {
			t.Fatalf("chunked masking ended at offset %d, want %d", pos, len(orig)&3)
		}
	}
}

func TestMaskAllocs(t *testing.T) {
	b := make([]byte, 1500)
	pos := 0
	allocs := testing.AllocsPerRun(1000, func() { pos = Mask(testKey, pos, b[pos:]) })
	if allocs != 0 {
		t.Fatalf("Mask allocates %v times per run", allocs)
	}
}

func BenchmarkMask(b *testing.B) {
	for _, size := range []int{16, 128, 1024, 16384, 1 << 20} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				Mask(testKey, 1, buf)
			}
			b.ReportMetric(float64(b.N)*float64(size)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
