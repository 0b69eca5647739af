package frame

import (
	"encoding/binary"
	"math/bits"
)

// Mask XORs b in place with key (RFC 6455 section 5.3), as if b started at
// byte offset pos of a masked payload, and returns the offset to pass for
// the next chunk, (pos+len(b))&3. pos may be any int; it is reduced mod 4.
// Masking a payload in arbitrary chunks, threading the returned offset,
// gives the same bytes as masking it in one call; masking twice restores
// the input.
//
// It works a 64-bit word at a time (eight words per iteration on long
// inputs) with encoding/binary loads that compile to single moves, then a
// byte loop for the tail. It does not allocate. Safe for concurrent use on
// distinct b.
func Mask(key [4]byte, pos int, b []byte) int {
	pos &= 3
	next := (pos + len(b)) & 3
	if len(b) < 8 {
		maskBytes(key, pos, b)
		return next
	}
	// Byte i of the little-endian word lines up with key[(pos+i)&3].
	k32 := bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*pos)
	k := uint64(k32)<<32 | uint64(k32)
	for len(b) >= 64 {
		w := b[:64:64]
		binary.LittleEndian.PutUint64(w[0:], binary.LittleEndian.Uint64(w[0:])^k)
		binary.LittleEndian.PutUint64(w[8:], binary.LittleEndian.Uint64(w[8:])^k)
		binary.LittleEndian.PutUint64(w[16:], binary.LittleEndian.Uint64(w[16:])^k)
		binary.LittleEndian.PutUint64(w[24:], binary.LittleEndian.Uint64(w[24:])^k)
		binary.LittleEndian.PutUint64(w[32:], binary.LittleEndian.Uint64(w[32:])^k)
		binary.LittleEndian.PutUint64(w[40:], binary.LittleEndian.Uint64(w[40:])^k)
		binary.LittleEndian.PutUint64(w[48:], binary.LittleEndian.Uint64(w[48:])^k)
		binary.LittleEndian.PutUint64(w[56:], binary.LittleEndian.Uint64(w[56:])^k)
		b = b[64:]
	}
	for len(b) >= 8 {
		w := b[:8:8]
		binary.LittleEndian.PutUint64(w, binary.LittleEndian.Uint64(w)^k)
		b = b[8:]
	}
	// Eight bytes advance the key by a multiple of four: pos is unchanged.
	maskBytes(key, pos, b)
	return next
}

// maskBytes is the byte-at-a-time tail of Mask.
func maskBytes(key [4]byte, pos int, b []byte) {
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
}
