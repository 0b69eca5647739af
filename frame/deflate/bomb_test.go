package deflate

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	kflate "github.com/klauspost/compress/flate"
)

// bomb returns one compressed message that inflates to pieces MiB of
// zeros, built piece by piece: each MiB is compressed on its own and ends
// with a sync flush, so the pieces concatenate into one valid stream
// without the whole output ever existing.
func bomb(t testing.TB, pools *Pools, pieces int) []byte {
	t.Helper()
	piece := append(pools.Compress(nil, make([]byte, 1<<20)), syncTail...)
	out := make([]byte, 0, pieces*len(piece))
	for i := 0; i < pieces; i++ {
		out = append(out, piece...)
	}
	return out[:len(out)-len(syncTail)]
}

// TestBombIsValid: the bomb construction inflates to exactly its size
// (checked on a small one with the standard library).
func TestBombIsValid(t *testing.T) {
	var pools Pools
	in := append(withTail(bomb(t, &pools, 8)), 0x01, 0x00, 0x00, 0xff, 0xff)
	n, err := io.Copy(io.Discard, stdflate.NewReader(bytes.NewReader(in)))
	if err != nil || n != 8<<20 {
		t.Fatalf("8 MiB bomb inflates to %d bytes, %v", n, err)
	}
}

// TestDecompressionBomb: 1 GiB of zeros (about 1 MiB compressed) with a
// 1 MiB limit: ErrTooLarge, having allocated about the limit, not the GiB.
func TestDecompressionBomb(t *testing.T) {
	var pools Pools
	b := bomb(t, &pools, 1024)
	t.Logf("1 GiB of zeros compresses to %d bytes", len(b))
	const limit = 1 << 20
	for _, tc := range []struct {
		name string
		run  func() ([]byte, error)
	}{
		{"Pools", func() ([]byte, error) { return pools.Decompress(nil, b, limit) }},
		{"Reader", func() ([]byte, error) {
			r := pools.NewReader()
			defer r.Release()
			return r.Decompress(nil, b, limit)
		}},
	} {
		_, _ = pools.Decompress(nil, []byte{0x00}, 0) // warm the pool
		allocated := allocatedBy(func() {
			out, err := tc.run()
			if !errors.Is(err, ErrTooLarge) || len(out) != 0 {
				t.Errorf("%s: %d bytes, %v; want ErrTooLarge", tc.name, len(out), err)
			}
		})
		t.Logf("%s: %d bytes allocated for a %d-byte limit", tc.name, allocated, limit)
		if allocated > 4*limit {
			t.Errorf("%s: allocated %d bytes for a %d-byte limit", tc.name, allocated, limit)
		}
	}
}

// allocatedBy returns the bytes allocated while f runs.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestBombStopsEarly: over the limit, inflating stops: most of the
// compressed input is never read.
func TestBombStopsEarly(t *testing.T) {
	var pools Pools
	b := bomb(t, &pools, 64)
	in := pools.getInflater()
	in.src.reset(b, finalTail)
	in.src.stopAtBoundary = false
	_ = in.rs.Reset(&in.src, nil)
	_, err := readMessage(nil, 1<<20, len(b), (*oneShot)(in))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if read := len(b) - len(in.src.msg); read > len(b)/8 {
		t.Fatalf("read %d of %d compressed bytes to inflate 1 MiB of 64", read, len(b))
	}
}

// dictRef compresses data that refers back into a preset dictionary: valid
// for an inflater with the dictionary, corrupt (distance too far back)
// without it.
func dictRef(t testing.TB) []byte {
	var buf bytes.Buffer
	dict := textData(2048, 3)
	fw, err := kflate.NewWriterDict(&buf, kflate.BestSpeed, dict)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(dict[:1024])
	_ = fw.Flush()
	return bytes.TrimSuffix(buf.Bytes(), syncTail)
}

// TestCorrupt: malformed messages return ErrCorrupt (never a panic) from
// Pools.Decompress and from a Reader; the standard library agrees they are
// malformed.
func TestCorrupt(t *testing.T) {
	var pools Pools
	hello := pools.Compress(nil, textData(300, 4))
	cases := map[string][]byte{
		"reserved block type":       {0x06},
		"reserved final block type": {0x07, 0x00},
		"stored bad NLEN":           {0x00, 0x05, 0x00, 0x00, 0x00, 'H', 'e', 'l', 'l', 'o'},
		"stored truncated":          {0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e'},
		"distance too far":          dictRef(t),
		"truncated huffman":         hello[:len(hello)/2],
		"dynamic block garbage":     {0x05, 0xc0, 0x21, 0x0d, 0x00, 0x00, 0x00, 0x80, 0xa0, 0xb6},
		"all ones":                  bytes.Repeat([]byte{0xff}, 64),
	}
	for name, src := range cases {
		in := append(withTail(src), 0x01, 0x00, 0x00, 0xff, 0xff)
		if _, err := io.Copy(io.Discard, stdflate.NewReader(bytes.NewReader(in))); err == nil {
			t.Errorf("%s: compress/flate accepts it; fix the case", name)
		}
		if out, err := pools.Decompress(nil, src, 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Decompress = %d bytes, %v; want ErrCorrupt", name, len(out), err)
		}
		r := pools.NewReader()
		if out, err := r.Decompress(nil, src, 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Reader = %d bytes, %v; want ErrCorrupt", name, len(out), err)
		}
		r.Release()
	}
}

// TestRandomGarbage: random inputs never panic and never exceed the limit.
func TestRandomGarbage(t *testing.T) {
	var pools Pools
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		src := randomData(rng.IntN(300), uint64(i))
		checkNoPanic(t, &pools, src, int64(rng.IntN(2000)))
	}
}

// checkNoPanic runs src through Pools.Decompress and a Reader (twice, as
// two messages) and checks the limit and the error values.
func checkNoPanic(t testing.TB, pools *Pools, src []byte, limit int64) {
	t.Helper()
	check := func(who string, out []byte, err error) {
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s: unexpected error %v", who, err)
		}
		if int64(len(out)) > limit || (err != nil && len(out) != 0) {
			t.Fatalf("%s: %d bytes, %v with limit %d", who, len(out), err, limit)
		}
	}
	out, err := pools.Decompress(nil, src, limit)
	check("Decompress", out, err)
	r := pools.NewReader()
	defer r.Release()
	out, err = r.Decompress(nil, src, limit)
	check("Reader", out, err)
	out, err = r.Decompress(nil, src, limit)
	check("Reader, second message", out, err)
}
