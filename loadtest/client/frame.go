package client

import (
	"encoding/binary"
	"errors"

	"github.com/openspeed/wsd/frame"
)

// Opcode is a frame opcode.
type Opcode = frame.Opcode

// Opcodes, re-exported from the frame package so callers need one import.
const (
	OpContinuation = frame.OpContinuation
	OpText         = frame.OpText
	OpBinary       = frame.OpBinary
	OpClose        = frame.OpClose
	OpPing         = frame.OpPing
	OpPong         = frame.OpPong
)

// StampSize is the size of the stamp at the start of a stamped payload: the send time (wall clock,
// UnixNano) then a sequence number, 8 bytes big endian each in binary messages and 16 printable
// characters in text messages. Payloads shorter than StampSize carry no stamp.
const StampSize = 16

// ErrMaskedServerFrame: a server sent a masked frame (RFC 6455 5.1 forbids it).
var ErrMaskedServerFrame = errors.New("client: server frame is masked")

// ErrReservedBits: a server frame has RSV bits set although no extension was negotiated.
var ErrReservedBits = errors.New("client: server frame has RSV bits set")

// clientHeaderLen is the header size of a masked client frame with an n-byte payload.
func clientHeaderLen(n int) int {
	switch {
	case n < 126:
		return 2 + 4
	case n <= 0xFFFF:
		return 4 + 4
	}
	return 10 + 4
}

// AppendFrame appends one final, masked client frame of opcode op carrying payload, masked with key.
func AppendFrame(dst []byte, op frame.Opcode, payload []byte, key [4]byte) []byte {
	n := len(payload)
	dst = append(dst, 0x80|byte(op))
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	frame.Mask(key, 0, dst[start:])
	return dst
}

// AppendClose appends a masked close frame with code (0: no status) and reason.
func AppendClose(dst []byte, code frame.CloseCode, reason string, key [4]byte) []byte {
	var p [125]byte
	n := 0
	if code != 0 {
		binary.BigEndian.PutUint16(p[:], uint16(code))
		n = 2 + copy(p[2:], reason)
	}
	return AppendFrame(dst, OpClose, p[:n], key)
}

// Message is a prebuilt masked data frame whose first StampSize payload bytes can be restamped in
// place: sending a stamped message costs a 16-byte mask, no allocation and no copy.
type Message struct {
	buf []byte
	off int // payload offset in buf
	key [4]byte
}

// NewMessage builds a masked frame of opcode op with a size-byte payload. The payload after the stamp
// is filled with printable ASCII, so text frames are valid UTF-8.
func NewMessage(op frame.Opcode, size int, key [4]byte) *Message {
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	buf := AppendFrame(nil, op, payload, key)
	return &Message{buf: buf, off: len(buf) - size, key: key}
}

// Stamp writes the send time ts (UnixNano) and seq into the payload, masked. A message shorter than
// StampSize is left unchanged. Not safe for concurrent use with Bytes of the same Message.
func (m *Message) Stamp(ts, seq int64) {
	if len(m.buf)-m.off < StampSize {
		return
	}
	p := m.buf[m.off : m.off+StampSize]
	PutStamp(Opcode(m.buf[0]&0x0F), p, ts, seq)
	frame.Mask(m.key, 0, p)
}

// PutStamp writes the stamp (send time ts, sequence number seq) into the first StampSize bytes of an
// unmasked payload of opcode op: binary big endian, or printable characters for text (which must stay
// valid UTF-8). A payload shorter than StampSize is left unchanged. Safe from any goroutine that owns p.
func PutStamp(op Opcode, p []byte, ts, seq int64) {
	if len(p) < StampSize {
		return
	}
	if op == OpText {
		encodeStampText(p, ts, seq)
		return
	}
	binary.BigEndian.PutUint64(p, uint64(ts))
	binary.BigEndian.PutUint64(p[8:], uint64(seq))
}

// Bytes is the whole wire frame; valid until the next Stamp.
func (m *Message) Bytes() []byte { return m.buf }

// PayloadSize is the payload length.
func (m *Message) PayloadSize() int { return len(m.buf) - m.off }

// encodeStampText writes ts and seq as 16 printable ASCII bytes (6 bits each): 11 for ts, 5 for seq
// (which wraps at 2^30).
func encodeStampText(p []byte, ts, seq int64) {
	putBase64(p[:11], uint64(ts))
	putBase64(p[11:16], uint64(seq))
}

const stampAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

var stampIndex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for i := 0; i < len(stampAlphabet); i++ {
		t[stampAlphabet[i]] = byte(i)
	}
	return t
}()

func putBase64(p []byte, v uint64) {
	for i := len(p) - 1; i >= 0; i-- {
		p[i] = stampAlphabet[v&63]
		v >>= 6
	}
}

func getBase64(p []byte) (uint64, bool) {
	var v uint64
	for _, c := range p {
		d := stampIndex[c]
		if d == 0xFF {
			return 0, false
		}
		v = v<<6 | uint64(d)
	}
	return v, true
}

// ReadStamp decodes the stamp of an unmasked payload of opcode op. ok is false when the payload
// carries no stamp.
func ReadStamp(op frame.Opcode, p []byte) (ts, seq int64, ok bool) {
	if len(p) < StampSize {
		return 0, 0, false
	}
	if op == OpText {
		t, ok1 := getBase64(p[:11])
		s, ok2 := getBase64(p[11:16])
		return int64(t), int64(s), ok1 && ok2
	}
	return int64(binary.BigEndian.Uint64(p)), int64(binary.BigEndian.Uint64(p[8:])), true
}

// header is a parsed server frame header.
type header struct {
	op   frame.Opcode
	fin  bool
	size int // header bytes
	n    int // payload bytes
}

// parseHeader parses a server frame header at the start of b. ok is false when b holds less than the
// whole header.
func parseHeader(b []byte) (h header, ok bool, err error) {
	if len(b) < 2 {
		return h, false, nil
	}
	if b[0]&0x70 != 0 {
		return h, false, ErrReservedBits
	}
	if b[1]&0x80 != 0 {
		return h, false, ErrMaskedServerFrame
	}
	h.op, h.fin = frame.Opcode(b[0]&0x0F), b[0]&0x80 != 0
	switch l := int(b[1] & 0x7F); l {
	case 126:
		if len(b) < 4 {
			return h, false, nil
		}
		h.size, h.n = 4, int(binary.BigEndian.Uint16(b[2:]))
	case 127:
		if len(b) < 10 {
			return h, false, nil
		}
		h.size, h.n = 10, int(binary.BigEndian.Uint64(b[2:])&(1<<62-1))
	default:
		h.size, h.n = 2, l
	}
	return h, true, nil
}
