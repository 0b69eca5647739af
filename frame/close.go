package frame

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
)

// CloseCode is the status code of a close frame (RFC 6455 section 7.4).
// It is a plain value: safe for concurrent use.
type CloseCode uint16

// Close codes defined by RFC 6455 and the IANA registry.
const (
	CloseNormal             CloseCode = 1000
	CloseGoingAway          CloseCode = 1001
	CloseProtocolError      CloseCode = 1002
	CloseUnsupportedData    CloseCode = 1003
	CloseNoStatus           CloseCode = 1005 // never on the wire
	CloseAbnormal           CloseCode = 1006 // never on the wire
	CloseInvalidPayload     CloseCode = 1007
	ClosePolicyViolation    CloseCode = 1008
	CloseMessageTooBig      CloseCode = 1009
	CloseMandatoryExtension CloseCode = 1010
	CloseInternalError      CloseCode = 1011
	CloseServiceRestart     CloseCode = 1012
	CloseTryAgainLater      CloseCode = 1013
	CloseBadGateway         CloseCode = 1014
	CloseTLSHandshake       CloseCode = 1015 // never on the wire
)

// maxCloseReason is the longest reason that fits a control frame after the
// 2-byte code.
const maxCloseReason = MaxControlPayload - 2

// String returns the number and name of c, e.g. "1000 normal closure";
// codes without a name are "3001 registered", "4001 private" or
// "1004 unknown". It allocates. Safe for concurrent use.
func (c CloseCode) String() string {
	return strconv.Itoa(int(c)) + " " + c.name()
}

// name returns the registered name of c, or its range for unnamed codes.
func (c CloseCode) name() string {
	switch c {
	case CloseNormal:
		return "normal closure"
	case CloseGoingAway:
		return "going away"
	case CloseProtocolError:
		return "protocol error"
	case CloseUnsupportedData:
		return "unsupported data"
	case CloseNoStatus:
		return "no status"
	case CloseAbnormal:
		return "abnormal closure"
	case CloseInvalidPayload:
		return "invalid payload data"
	case ClosePolicyViolation:
		return "policy violation"
	case CloseMessageTooBig:
		return "message too big"
	case CloseMandatoryExtension:
		return "mandatory extension"
	case CloseInternalError:
		return "internal error"
	case CloseServiceRestart:
		return "service restart"
	case CloseTryAgainLater:
		return "try again later"
	case CloseBadGateway:
		return "bad gateway"
	case CloseTLSHandshake:
		return "TLS handshake failure"
	}
	return c.rangeName()
}

// rangeName names the registry range an unnamed code falls in.
func (c CloseCode) rangeName() string {
	switch {
	case c >= 3000 && c <= 3999:
		return "registered"
	case c >= 4000 && c <= 4999:
		return "private"
	}
	return "unknown"
}

// ValidOnWire reports whether c may appear in a close frame: 1000-1003,
// 1007-1014 and 3000-4999. Safe for concurrent use.
func (c CloseCode) ValidOnWire() bool {
	switch {
	case c >= 1000 && c <= 1003:
		return true
	case c >= 1007 && c <= 1014:
		return true
	}
	return c >= 3000 && c <= 4999
}

// ParseClose validates the payload of a received close frame (already
// unmasked). An empty payload yields CloseNoStatus, a nil reason and no
// error. A 1-byte payload is ErrCloseLength, a code that is not ValidOnWire
// is ErrCloseCode, a payload longer than 125 bytes is ErrControlTooLong and a
// reason that is not valid UTF-8 is ErrInvalidUTF8 (1007). reason aliases
// payload: it lives as long as payload does. It does not allocate.
// Safe for concurrent use.
func ParseClose(payload []byte) (code CloseCode, reason []byte, err error) {
	switch {
	case len(payload) == 0:
		return CloseNoStatus, nil, nil
	case len(payload) == 1:
		return 0, nil, ErrCloseLength
	case len(payload) > MaxControlPayload:
		return 0, nil, ErrControlTooLong
	}
	code = CloseCode(binary.BigEndian.Uint16(payload))
	if !code.ValidOnWire() {
		return 0, nil, ErrCloseCode
	}
	reason = payload[2:]
	if !utf8.Valid(reason) {
		return 0, nil, ErrInvalidUTF8
	}
	return code, reason, nil
}

// AppendClose appends a close frame payload to dst: the 2-byte big-endian
// code, then reason truncated to at most 123 bytes at a UTF-8 boundary so the
// payload fits a control frame. Invalid UTF-8 in reason is replaced by '?'
// so the peer never sees an invalid close reason. CloseNoStatus, and any
// other code that is not ValidOnWire (1006, 1015, ...), appends nothing: an
// empty close payload is how "no status" is sent, and it keeps the frame
// within the RFC. Safe for concurrent use.
func AppendClose(dst []byte, code CloseCode, reason string) []byte {
	if !code.ValidOnWire() {
		return dst
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	if len(reason) <= maxCloseReason && utf8.ValidString(reason) {
		return append(dst, reason...)
	}
	return appendReason(dst, reason)
}

// appendReason is the slow path of AppendClose: it copies reason rune by
// rune, replacing each invalid byte by '?', until the next rune would not
// fit.
func appendReason(dst []byte, reason string) []byte {
	n := 0
	for n < len(reason) {
		r, size := utf8.DecodeRuneInString(reason[n:])
		if n+size > maxCloseReason {
			break
		}
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, '?')
		} else {
			dst = append(dst, reason[n:n+size]...)
		}
		n += size
	}
	return dst
}
