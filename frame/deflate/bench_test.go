package deflate

import (
	"testing"
)

var benchSizes = []int{256, 4 << 10, 64 << 10}

// benchMessages returns a few different text messages of size n, so that
// context takeover sees related but not identical messages.
func benchMessages(n int) [][]byte {
	msgs := make([][]byte, 8)
	for i := range msgs {
		msgs[i] = textData(n, uint64(i))
	}
	return msgs
}

// runSizes runs bench for every benchmark size with SetBytes and
// ReportAllocs; bench returns the compressed bytes per op for the ratio.
func runSizes(b *testing.B, bench func(b *testing.B, msgs [][]byte) int) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			msgs := benchMessages(n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			compressed := bench(b, msgs)
			b.ReportMetric(float64(compressed)/float64(n), "ratio")
		})
	}
}

func BenchmarkCompress(b *testing.B) { benchCompress(b, (*Pools).Compress) }

// BenchmarkCompressHuffman is BenchmarkCompress for the encoding of
// connections that agreed a server window below 32 KiB.
func BenchmarkCompressHuffman(b *testing.B) { benchCompress(b, (*Pools).CompressHuffman) }

// BenchmarkDecompressHuffman inflates CompressHuffman's output.
func BenchmarkDecompressHuffman(b *testing.B) { benchDecompress(b, (*Pools).CompressHuffman) }

func BenchmarkDecompress(b *testing.B) { benchDecompress(b, (*Pools).Compress) }

// benchCompress measures compress, one message at a time from a pool.
func benchCompress(b *testing.B, compress func(p *Pools, dst, src []byte) []byte) {
	runSizes(b, func(b *testing.B, msgs [][]byte) int {
		var pools Pools
		dst := compress(&pools, nil, msgs[0])
		total := 0
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			dst = compress(&pools, dst[:0], msgs[i%len(msgs)])
			total += len(dst)
		}
		return total / max(b.N, 1)
	})
}

// benchDecompress measures Decompress of what compress made of the messages.
func benchDecompress(b *testing.B, compress func(p *Pools, dst, src []byte) []byte) {
	runSizes(b, func(b *testing.B, msgs [][]byte) int {
		var pools Pools
		wire := make([][]byte, len(msgs))
		for i, m := range msgs {
			wire[i] = compress(&pools, nil, m)
		}
		dst, _ := pools.Decompress(nil, wire[0], -1) // warm up: steady state has a buffer
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			var err error
			if dst, err = pools.Decompress(dst[:0], wire[i%len(wire)], 1<<20); err != nil {
				b.Fatal(err)
			}
		}
		return len(wire[0])
	})
}

func BenchmarkWriterContext(b *testing.B) {
	runSizes(b, func(b *testing.B, msgs [][]byte) int {
		var pools Pools
		w := pools.NewWriter()
		defer w.Release()
		dst := w.Compress(nil, msgs[0])
		total := 0
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			dst = w.Compress(dst[:0], msgs[i%len(msgs)])
			total += len(dst)
		}
		return total / max(b.N, 1)
	})
}

func BenchmarkReaderContext(b *testing.B) {
	runSizes(b, func(b *testing.B, msgs [][]byte) int {
		var pools Pools
		w := pools.NewWriter()
		defer w.Release()
		r := pools.NewReader()
		defer r.Release()
		wire := w.Compress(nil, msgs[0])
		dst, _ := r.Decompress(nil, wire, -1) // warm up: steady state has a buffer
		total := 0
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			wire = w.Compress(wire[:0], msgs[i%len(msgs)])
			total += len(wire)
			b.StartTimer()
			var err error
			if dst, err = r.Decompress(dst[:0], wire, 1<<20); err != nil {
				b.Fatal(err)
			}
		}
		return total / max(b.N, 1)
	})
}
