package frame

import (
	"encoding/binary"

	"github.com/valyala/bytebufferpool"
)

// AppendFrame appends a whole frame to dst: the header h with h.Length
// taken from len(payload), then the payload. When h.Masked the appended copy
// of the payload is masked with h.Mask; payload itself is not modified. It
// is meant for clients and tests; servers build frames in place with Begin
// and Finish. Safe for concurrent use (on distinct dst).
func AppendFrame(dst []byte, h Header, payload []byte) []byte {
	h.Length = int64(len(payload))
	dst = AppendHeader(dst, h)
	n := len(dst)
	dst = append(dst, payload...)
	if h.Masked {
		Mask(h.Mask, 0, dst[n:])
	}
	return dst
}

// Begin appends MaxServerHeaderSize placeholder bytes to dst, reserving room
// for the header of an outbound server frame. Append the payload right after
// them, then call Finish on the slice that starts at the reserved room.
// Safe for concurrent use (on distinct dst).
func Begin(dst []byte) []byte {
	var room [MaxServerHeaderSize]byte
	return append(dst, room[:]...)
}

// Finish stamps an unmasked header for the payload b[MaxServerHeaderSize:]
// into the room Begin reserved at the front of b, right-aligned against the
// payload, and returns the complete wire frame: a suffix of b, no copy. The
// RSV bits of rsv (Rsv1|Rsv2|Rsv3, e.g. Rsv1 for a compressed message) are
// ORed into the first byte; other bits are ignored. b must
// be at least MaxServerHeaderSize long; the bytes of the room in front of
// the returned frame are left as they were. It does not allocate.
// Safe for concurrent use (on distinct b).
func Finish(b []byte, op Opcode, fin bool, rsv uint8) []byte {
	_ = b[MaxServerHeaderSize-1]
	n := len(b) - MaxServerHeaderSize
	b0 := byte(op)&opBits | rsv&rsvBits
	if fin {
		b0 |= finBit
	}
	var start int
	switch {
	case n > 0xFFFF:
		binary.BigEndian.PutUint64(b[2:10], uint64(n))
		b[1] = len64
	case n > MaxControlPayload:
		start = 6
		binary.BigEndian.PutUint16(b[8:10], uint16(n))
		b[7] = len16
	default:
		start = 8
		b[9] = byte(n)
	}
	b[start] = b0
	return b[start:]
}

// Pool hands out pooled byte buffers that already have header room reserved
// (Begin applied), for outbound frames built in place. It wraps a
// bytebufferpool.Pool, which calibrates the size of new buffers to the sizes
// seen. Create one Pool per server instance; the zero value is ready to use.
// A Pool must not be copied after first use. Safe for concurrent use.
type Pool struct {
	p bytebufferpool.Pool
}

// Get returns a buffer whose B holds exactly MaxServerHeaderSize reserved
// bytes: append the payload to B, then call Finish(B, ...). The buffer
// belongs to the caller until Put. Safe for concurrent use.
func (p *Pool) Get() *bytebufferpool.ByteBuffer {
	bb := p.p.Get()
	bb.B = Begin(bb.B[:0])
	return bb
}

// Put returns b to the pool. Neither b nor any slice of b.B (such as the
// frame Finish returned) may be used afterwards, and b must be Put only
// once. Safe for concurrent use.
func (p *Pool) Put(b *bytebufferpool.ByteBuffer) {
	p.p.Put(b)
}
