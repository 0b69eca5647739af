package deflate

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"io"
	"testing"
)

// FuzzDecompress: arbitrary messages never panic, never exceed the limit
// and fail only with ErrCorrupt or ErrTooLarge; when both Pools.Decompress
// and the standard library accept a message they inflate the same bytes.
//
// Only "both accept" is compared: klauspost (v1.20.4) accepts some invalid
// streams that the standard library rejects. huffmanDecoder.init returns
// early for an empty distance tree without clearing its reused chunk table,
// so a length code in such a block decodes with the distance codes of an
// earlier block, possibly of an earlier message decoded by the same pooled
// inflater. Valid streams never hit it, and back-references stay bounded by
// the message's own history, so it is leniency, not a leak.
func FuzzDecompress(f *testing.F) {
	var pools Pools
	f.Add([]byte{}, uint16(20))
	f.Add([]byte{0x00}, uint16(0))
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, uint16(5))
	f.Add([]byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, uint16(4))
	f.Add([]byte{0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e', 'l', 'l', 'o', 0x00}, uint16(100))
	f.Add(pools.Compress(nil, textData(500, 1)), uint16(1000))
	f.Add(pools.Compress(nil, randomData(300, 2)), uint16(299))
	f.Add(pools.CompressHuffman(nil, textData(700, 3)), uint16(700))
	f.Add(pools.Compress(nil, make([]byte, 60000)), uint16(65535))
	f.Fuzz(func(t *testing.T, src []byte, limit uint16) {
		checkNoPanic(t, &pools, src, int64(limit))
		out, err := pools.Decompress(nil, src, int64(limit))
		if len(src) == 0 { // our leniency: not DEFLATE
			return
		}
		in := append(withTail(src), 0x01, 0x00, 0x00, 0xff, 0xff)
		ref, refErr := io.ReadAll(io.LimitReader(stdflate.NewReader(bytes.NewReader(in)), int64(limit)+1))
		switch {
		case refErr != nil:
		case err == nil && !bytes.Equal(ref, out):
			t.Fatalf("inflated %d bytes; compress/flate gives %d other bytes", len(out), len(ref))
		case errors.Is(err, ErrCorrupt):
			t.Fatalf("rejected a message that compress/flate inflates to %d bytes", len(ref))
		case errors.Is(err, ErrTooLarge) && len(ref) <= int(limit):
			t.Fatalf("over the limit; compress/flate inflates %d bytes, limit %d", len(ref), limit)
		}
	})
}
