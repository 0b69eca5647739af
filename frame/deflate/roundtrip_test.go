package deflate

import (
	"bytes"
	"errors"
	"testing"
)

// TestRoundTrip: every size and kind through Compress and Decompress, with
// the standard library as the reference decoder, and the limit enforced at
// exactly the message size.
func TestRoundTrip(t *testing.T) {
	var pools Pools
	for _, k := range kinds {
		for _, n := range sizes {
			t.Run(k.name+"/"+sizeName(n), func(t *testing.T) {
				data := k.gen(n, uint64(n))
				c := pools.Compress(nil, data)
				if got := stdInflate(t, c); !bytes.Equal(got, data) {
					t.Fatalf("compress/flate inflates %d bytes, want %d", len(got), n)
				}
				checkDecompress(t, &pools, c, data)
			})
		}
	}
}

// checkDecompress inflates c with no limit, the exact limit, a limit one
// short, and into a non-empty dst.
func checkDecompress(t *testing.T, pools *Pools, c, data []byte) {
	t.Helper()
	got, err := pools.Decompress(nil, c, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Decompress: %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
	if got, err = pools.Decompress(nil, c, int64(len(data))); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Decompress(limit=len): %d bytes, %v", len(got), err)
	}
	if len(data) > 0 {
		got, err = pools.Decompress(nil, c, int64(len(data)-1))
		if !errors.Is(err, ErrTooLarge) || len(got) != 0 {
			t.Fatalf("Decompress(limit=len-1): %d bytes, %v; want ErrTooLarge", len(got), err)
		}
	}
	prefix := []byte("prefix")
	got, err = pools.Decompress(prefix, c, -1)
	if err != nil || !bytes.Equal(got[:6], prefix) || !bytes.Equal(got[6:], data) {
		t.Fatalf("Decompress after a prefix: %d bytes, %v", len(got), err)
	}
}

// TestCompressEmpty: the empty message is the single byte 0x00 (RFC 7692
// §7.2.3.6), and an empty payload also reads as the empty message.
func TestCompressEmpty(t *testing.T) {
	var pools Pools
	if c := pools.Compress(nil, nil); !bytes.Equal(c, []byte{0x00}) {
		t.Fatalf("Compress(empty) = % x, want 00", c)
	}
	for _, src := range [][]byte{nil, {0x00}} {
		got, err := pools.Decompress(nil, src, 0)
		if err != nil || len(got) != 0 {
			t.Fatalf("Decompress(% x) = %q, %v", src, got, err)
		}
	}
}

// TestRFCExamples: the compressed forms given in RFC 7692 §7.2.3.
func TestRFCExamples(t *testing.T) {
	var pools Pools
	for _, tc := range []struct {
		name string
		wire []byte
	}{
		{"7.2.3.1 Hello", []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}},
		{"7.2.3.3 BFINAL", []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}},
		{"7.2.3.4 stored", []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}},
	} {
		got, err := pools.Decompress(nil, tc.wire, 5)
		if err != nil || string(got) != "Hello" {
			t.Errorf("%s: %q, %v", tc.name, got, err)
		}
	}
	// §7.2.3.2: "Hello" twice with context takeover; the second refers to the first.
	r := pools.NewReader()
	defer r.Release()
	for _, wire := range [][]byte{{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, {0xf2, 0x00, 0x11, 0x00, 0x00}} {
		got, err := r.Decompress(nil, wire, 5)
		if err != nil || string(got) != "Hello" {
			t.Fatalf("7.2.3.2 shared window: %q, %v", got, err)
		}
	}
}

// TestCompressIndependent: Compress output depends on the input alone, so
// one encoding can go to every member of a room.
func TestCompressIndependent(t *testing.T) {
	var pools Pools
	data := textData(4096, 1)
	first := pools.Compress(nil, data)
	pools.Compress(nil, textData(8192, 2)) // leave other context in the pool
	if again := pools.Compress(nil, data); !bytes.Equal(first, again) {
		t.Fatal("Compress output depends on earlier messages")
	}
	if c := pools.Compress([]byte("hdr"), data); !bytes.Equal(c[3:], first) || string(c[:3]) != "hdr" {
		t.Fatal("Compress does not append to dst")
	}
}

// TestWriterContext: messages in sequence through a Writer, inflated by
// our Reader and by both reference libraries reading one continuous stream.
func TestWriterContext(t *testing.T) {
	var pools Pools
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			w := pools.NewWriter()
			defer w.Release()
			r := pools.NewReader()
			defer r.Release()
			std, kp := newStdStreamReader(), newKlauspostStreamReader()
			for i, n := range append(sizes, sizes...) {
				data := k.gen(n, uint64(n))
				c := w.Compress(nil, data)
				for name, got := range map[string][]byte{
					"compress/flate": std.next(t, c, n),
					"klauspost":      kp.next(t, c, n),
				} {
					if !bytes.Equal(got, data) {
						t.Fatalf("message %d (%d B): %s inflates other bytes", i, n, name)
					}
				}
				got, err := r.Decompress(nil, c, int64(n))
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("message %d (%d B): Reader: %d bytes, %v", i, n, len(got), err)
				}
			}
		})
	}
}

// TestWriterContextShrinks: a repeated message compresses to far less the
// second time, proving the context is kept.
func TestWriterContextShrinks(t *testing.T) {
	var pools Pools
	w := pools.NewWriter()
	defer w.Release()
	data := randomData(1024, 9)
	first, second := len(w.Compress(nil, data)), len(w.Compress(nil, data))
	if second*10 > first {
		t.Fatalf("repeat message: %d then %d bytes; context not kept", first, second)
	}
	if n := len(pools.Compress(nil, data)); n*10 < first*9 {
		t.Fatalf("Compress without context: %d bytes, want about %d", n, first)
	}
}

// TestReaderContext: a reference compressor with context takeover, with
// sync flushes inside messages and empty messages, inflated by our Reader.
func TestReaderContext(t *testing.T) {
	var pools Pools
	for _, flushes := range []int{1, 2, 3} {
		for _, k := range kinds {
			r := pools.NewReader()
			ref := newStdStreamWriter(t)
			// Repeated sizes repeat the data: later messages refer to earlier ones.
			for i, n := range append(sizes, 16, 0, 0, 64, 1<<20, 16) {
				data := k.gen(n, uint64(n))
				got, err := r.Decompress(nil, ref.next(t, data, flushes), -1)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%s, %d flushes, message %d (%d B): %d bytes, %v", k.name, flushes, i, n, len(got), err)
				}
			}
			r.Release()
		}
	}
}

// TestReaderBFINAL: a message that ends the peer's DEFLATE stream with a
// final block (RFC 7692 §7.2.3.3) restarts the context.
func TestReaderBFINAL(t *testing.T) {
	var pools Pools
	r := pools.NewReader()
	defer r.Release()
	hello := []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}
	for i := 0; i < 3; i++ {
		got, err := r.Decompress(nil, hello, -1)
		if err != nil || string(got) != "Hello" {
			t.Fatalf("message %d: %q, %v", i, got, err)
		}
	}
	c := pools.Compress(nil, []byte("after the final block"))
	if got, err := r.Decompress(nil, c, -1); err != nil || string(got) != "after the final block" {
		t.Fatalf("after BFINAL: %q, %v", got, err)
	}
}

// TestReaderLimitLosesContext: over the limit the Reader gives up its
// inflater and fails every later message.
func TestReaderLimitLosesContext(t *testing.T) {
	var pools Pools
	r := pools.NewReader()
	defer r.Release()
	c := pools.Compress(nil, textData(1000, 1))
	if _, err := r.Decompress(nil, c, 999); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v, want ErrTooLarge", err)
	}
	if _, err := r.Decompress(nil, c, -1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("after an error: %v, want ErrCorrupt", err)
	}
}

// TestWriterAfterRelease: a released Writer panics instead of starting a
// context its peer does not share.
func TestWriterAfterRelease(t *testing.T) {
	var pools Pools
	w := pools.NewWriter()
	w.Compress(nil, []byte("x"))
	w.Release()
	w.Release()
	defer func() {
		if recover() == nil {
			t.Fatal("Compress after Release did not panic")
		}
	}()
	w.Compress(nil, []byte("x"))
}
