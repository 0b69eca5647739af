package deflate

import (
	"bytes"
	"testing"

	"github.com/openspeed/wsd/internal/wstest"
)

// TestCompressHuffmanFitsAnyWindow: every size and kind through
// CompressHuffman decodes, with an independent RFC 1951 decoder that refuses
// any back-reference beyond the smallest window RFC 7692 allows (8 bits,
// 256 bytes), to the original bytes, using no back-reference at all; the
// standard library and Decompress agree.
func TestCompressHuffmanFitsAnyWindow(t *testing.T) {
	var pools Pools
	for _, k := range kinds {
		for _, n := range sizes {
			t.Run(k.name+"/"+sizeName(n), func(t *testing.T) {
				data := k.gen(n, uint64(n))
				c := pools.CompressHuffman(nil, data)
				got, st, err := wstest.InflateWindow(c, 8)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("8-bit window decoder: %d bytes (want %d), stats %+v, err %v", len(got), n, st, err)
				}
				if st.Matches != 0 {
					t.Fatalf("stats %+v: want no back-reference", st)
				}
				if got := stdInflate(t, c); !bytes.Equal(got, data) {
					t.Fatalf("compress/flate inflates %d bytes, want %d", len(got), n)
				}
				checkDecompress(t, &pools, c, data)
				if k.name == "text" && n >= 1<<10 && len(c) >= n {
					t.Errorf("%d bytes of text: %d compressed, want less", n, len(c))
				}
			})
		}
	}
}

// TestCompressNeedsFullWindow shows why small windows need their own
// encoding: Compress refers back farther than 256 bytes on text, so its
// frame must never reach a connection that agreed a smaller window.
func TestCompressNeedsFullWindow(t *testing.T) {
	var pools Pools
	data := textData(16<<10, 3)
	c := pools.Compress(nil, data)
	got, st, err := wstest.InflateWindow(c, 15)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("15-bit window decoder: %d bytes, err %v", len(got), err)
	}
	if st.MaxDistance <= 256 {
		t.Fatalf("stats %+v: want back-references beyond 256 bytes", st)
	}
	if _, _, err := wstest.InflateWindow(c, 8); err == nil {
		t.Fatal("8-bit window decoder accepted a 32 KiB-window encoding")
	}
}

// TestCompressHuffmanEmpty: the empty message is the single byte 0x00, as
// for Compress.
func TestCompressHuffmanEmpty(t *testing.T) {
	var pools Pools
	if c := pools.CompressHuffman(nil, nil); !bytes.Equal(c, []byte{0x00}) {
		t.Fatalf("CompressHuffman(empty) = % x, want 00", c)
	}
}

// TestCompressHuffmanSharedPools: Huffman-only and LZ77 compressors come
// from separate pools, so interleaving them never mixes the two encodings.
func TestCompressHuffmanSharedPools(t *testing.T) {
	var pools Pools
	data := textData(8<<10, 9)
	for i := 0; i < 4; i++ {
		h := pools.CompressHuffman(nil, data)
		if _, st, err := wstest.InflateWindow(h, 8); err != nil || st.Matches != 0 {
			t.Fatalf("round %d: Huffman-only output has %+v, err %v", i, st, err)
		}
		if c := pools.Compress(nil, data); len(c) >= len(h) {
			t.Fatalf("round %d: Compress %d bytes, CompressHuffman %d: want LZ77 smaller on text", i, len(c), len(h))
		}
	}
}
