package deflate

import (
	"runtime"
	"testing"
)

// heldPer returns the heap bytes still held, per item, after build made n
// items that stay reachable until the measurement ends.
func heldPer(n int, build func(i int) any) uint64 {
	keep := make([]any, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC() // the second one frees what sync.Pools held
	runtime.ReadMemStats(&before)
	for i := range keep {
		keep[i] = build(i)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	if after.HeapAlloc < before.HeapAlloc {
		return 0
	}
	return (after.HeapAlloc - before.HeapAlloc) / uint64(n)
}

// TestMemoryPerConnection measures what context takeover costs per
// connection (the numbers quoted in doc.go) and what an idle Writer or
// Reader costs before its first message.
func TestMemoryPerConnection(t *testing.T) {
	const n = 32
	msg := textData(1024, 5)
	var pools Pools
	wire := pools.Compress(nil, msg)
	// One Pools, as in a server: each Writer or Reader holding state owns a
	// compressor or inflater of its own, none shared.
	idleW := heldPer(1024, func(int) any { return pools.NewWriter() })
	idleR := heldPer(1024, func(int) any { return pools.NewReader() })
	writer := heldPer(n, func(int) any {
		w := pools.NewWriter()
		w.Compress(nil, msg)
		return w
	})
	reader := heldPer(n, func(int) any {
		r := pools.NewReader()
		if _, err := r.Decompress(nil, wire, -1); err != nil {
			t.Fatal(err)
		}
		return r
	})
	t.Logf("heap held per connection: idle Writer %d B, idle Reader %d B, Writer after a message %d B, Reader after a message %d B",
		idleW, idleR, writer, reader)
	if idleW > 64 || idleR > 64 {
		t.Errorf("an idle Writer/Reader holds %d/%d B; want no flate state before the first message", idleW, idleR)
	}
	if writer > 2<<20 || reader > 256<<10 {
		t.Errorf("Writer %d B, Reader %d B: far above the numbers in doc.go", writer, reader)
	}
}

// TestMemoryCompressors measures one pooled compressor of each kind (the
// numbers quoted in doc.go): the Huffman-only one, for small-window peers,
// has no match finder (most of what it holds is klauspost's token buffer,
// part of every compressor whether used or not).
func TestMemoryCompressors(t *testing.T) {
	msg := textData(1024, 5)
	var pools Pools
	lz := heldPer(16, func(int) any {
		c := new(Pools).getCompressor()
		c.fw.Reset(&c.out)
		c.compress(nil, msg)
		return c
	})
	huff := heldPer(16, func(int) any {
		c := pools.getHuffman()
		c.fw.Reset(&c.out)
		c.compress(nil, msg)
		return c
	})
	t.Logf("heap per compressor: level %d %d B, Huffman-only %d B", level, lz, huff)
	if huff == 0 || huff >= lz/2 {
		t.Errorf("Huffman-only compressor %d B, LZ77 one %d B: want under half", huff, lz)
	}
}
