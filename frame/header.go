package frame

import (
	"encoding/binary"
	"slices"
	"strconv"
)

// Opcode is the 4-bit frame opcode (RFC 6455 section 5.2).
// It is a plain value: safe for concurrent use.
type Opcode uint8

// Opcodes defined by RFC 6455.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether o is a control opcode (o&0x8 != 0): close, ping,
// pong and the reserved control opcodes 0xB-0xF. Safe for concurrent use.
func (o Opcode) IsControl() bool { return o&0x8 != 0 }

// IsData reports whether o is continuation, text or binary.
// Safe for concurrent use.
func (o Opcode) IsData() bool { return o <= OpBinary }

// IsReserved reports whether o is not an opcode RFC 6455 defines: 0x3-0x7,
// 0xB-0xF (and any value above 0xF). Safe for concurrent use.
func (o Opcode) IsReserved() bool { return o > OpPong || (o > OpBinary && o < OpClose) }

// String returns the lower-case name of o ("text", "ping", ...) or
// "reserved(0x3)". Safe for concurrent use.
func (o Opcode) String() string {
	switch o {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "reserved(0x" + strconv.FormatUint(uint64(o), 16) + ")"
}

// RSV bits as they sit in the first header byte (Header.Rsv).
const (
	Rsv1 uint8 = 0x40
	Rsv2 uint8 = 0x20
	Rsv3 uint8 = 0x10
)

// Frame size limits.
const (
	MaxHeaderSize       = 14  // masked, 64-bit length
	MaxServerHeaderSize = 10  // unmasked, 64-bit length
	MaxControlPayload   = 125 // longest payload of a control frame
)

// Header bits of the first two bytes.
const (
	finBit   = 0x80
	rsvBits  = 0x70
	opBits   = 0x0F
	maskBit  = 0x80
	len7Bits = 0x7F
	len16    = 126 // 7-bit length value announcing a 16-bit length
	len64    = 127 // 7-bit length value announcing a 64-bit length
)

// Header is a decoded frame header. It is a plain value: not safe for
// concurrent use while being modified; copy it to share it.
type Header struct {
	Fin    bool
	Rsv    uint8 // first byte & 0x70: Rsv1|Rsv2|Rsv3
	Op     Opcode
	Masked bool
	Mask   [4]byte
	Length int64 // payload length; never negative once parsed
}

// ParseHeader decodes the frame header at the start of b. It neither
// allocates nor retains b.
//
//   - size > 0: the header is complete and occupies b[:size]; the payload
//     (h.Length bytes, masked if h.Masked) follows it.
//   - size == 0 && err == nil: the header is incomplete; at least need > 0
//     more bytes are required. Calling again with more bytes is cheap; b may
//     be any prefix, even empty (need 2).
//   - err != nil: one of the sentinels ErrReservedOpcode,
//     ErrFragmentedControl, ErrControlTooLong, ErrLengthOverflow (all 1002).
//     Errors are reported as soon as the offending byte is in b, even when
//     the header is still incomplete.
//
// h is the zero Header unless size > 0. Non-minimal length encodings are
// accepted. ParseHeader does not check the RSV bits or whether the frame is
// masked: that is the caller's policy (ErrReservedBits, ErrUnmasked).
//
// A Header returned by value is copied by the caller with one wide load over
// the narrow stores that built it, a store-forwarding stall that about
// doubles the cost on amd64; hot paths should use [Header.Parse], which has
// the same semantics and fills a Header in place. Safe for concurrent use.
func ParseHeader(b []byte) (h Header, size, need int, err error) {
	size, need, err = h.Parse(b)
	return h, size, need, err
}

// Parse is ParseHeader filling *h in place, the form for hot paths: h is
// overwritten only when the header is complete (size > 0) and left as it
// was otherwise. It neither allocates nor retains b. Not safe for concurrent
// use (it writes *h).
func (h *Header) Parse(b []byte) (size, need int, err error) {
	if len(b) < 2 {
		if len(b) == 1 {
			if err = checkFirst(b[0]); err != nil {
				return 0, 0, err
			}
		}
		return 0, 2 - len(b), nil
	}
	b0, b1 := b[0], b[1]
	if err = checkFirst(b0); err != nil {
		return 0, 0, err
	}
	n := b1 & len7Bits
	if n > MaxControlPayload && Opcode(b0&opBits).IsControl() {
		return 0, 0, ErrControlTooLong
	}
	size = 2
	switch n {
	case len16:
		size = 4
	case len64:
		if len(b) > 2 && b[2]&0x80 != 0 {
			return 0, 0, ErrLengthOverflow
		}
		size = 10
	}
	if b1&maskBit != 0 {
		size += 4
	}
	if len(b) < size {
		return 0, size - len(b), nil
	}
	h.Fin = b0&finBit != 0
	h.Rsv = b0 & rsvBits
	h.Op = Opcode(b0 & opBits)
	h.Masked = b1&maskBit != 0
	var mask [4]byte
	if h.Masked {
		mask = [4]byte(b[size-4 : size])
	}
	h.Mask = mask
	h.Length = decodeLength(b, n)
	return size, 0, nil
}

// checkFirst applies the checks that need only the first header byte.
func checkFirst(b0 byte) error {
	op := Opcode(b0 & opBits)
	if op.IsReserved() {
		return ErrReservedOpcode
	}
	if op.IsControl() && b0&finBit == 0 {
		return ErrFragmentedControl
	}
	return nil
}

// decodeLength returns the payload length given the 7-bit length n; b holds
// the complete header (and the 64-bit MSB has been checked).
func decodeLength(b []byte, n byte) int64 {
	switch n {
	case len16:
		return int64(binary.BigEndian.Uint16(b[2:4]))
	case len64:
		return int64(binary.BigEndian.Uint64(b[2:10]))
	}
	return int64(n)
}

// HeaderSize returns the encoded size of h, 2 to 14 bytes: 2, plus 2 for a
// length of 126-65535 or 8 for a longer one, plus 4 if h.Masked.
// Safe for concurrent use.
func HeaderSize(h Header) int {
	size := 2
	switch {
	case h.Length > 0xFFFF || h.Length < 0:
		size = 10
	case h.Length > MaxControlPayload:
		size = 4
	}
	if h.Masked {
		size += 4
	}
	return size
}

// PutHeader encodes h at b[0:] with the shortest length encoding and returns
// the number of bytes written, HeaderSize(h). b must be at least that long;
// h.Length must not be negative. Only the low 4 bits of h.Op and the bits
// 0x70 of h.Rsv are used. It does not allocate. Safe for concurrent use.
func PutHeader(b []byte, h Header) int {
	b0 := byte(h.Op)&opBits | h.Rsv&rsvBits
	if h.Fin {
		b0 |= finBit
	}
	var b1 byte
	if h.Masked {
		b1 = maskBit
	}
	n := 2
	switch {
	case h.Length > 0xFFFF || h.Length < 0:
		_ = b[9]
		binary.BigEndian.PutUint64(b[2:10], uint64(h.Length))
		b1 |= len64
		n = 10
	case h.Length > MaxControlPayload:
		_ = b[3]
		binary.BigEndian.PutUint16(b[2:4], uint16(h.Length))
		b1 |= len16
		n = 4
	default:
		_ = b[1]
		b1 |= byte(h.Length)
	}
	b[0], b[1] = b0, b1
	if h.Masked {
		n += copy(b[n:n+4], h.Mask[:])
	}
	return n
}

// AppendHeader appends the encoding of h to dst and returns the extended
// slice. Safe for concurrent use (on distinct dst).
func AppendHeader(dst []byte, h Header) []byte {
	n := len(dst)
	size := HeaderSize(h)
	dst = slices.Grow(dst, size)[:n+size]
	PutHeader(dst[n:], h)
	return dst
}
