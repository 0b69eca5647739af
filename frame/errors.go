package frame

import (
	"errors"
	"strconv"
)

// ProtocolError is a violation of RFC 6455 by the peer. Code is the close
// code the violation implies (1002, 1007 or 1009 for the sentinels below);
// the one place that turns an error into a close frame reads it with
// [CloseCodeOf].
//
// A ProtocolError is not safe for concurrent use while being modified; the
// sentinel values below are never modified and may be shared freely.
type ProtocolError struct {
	Code   CloseCode
	Reason string
}

// Error formats e as "websocket: protocol error 1002: reserved opcode".
// It allocates; call it only when the error is reported, not in a hot path.
// Safe for concurrent use.
func (e *ProtocolError) Error() string {
	return "websocket: protocol error " + strconv.Itoa(int(e.Code)) + ": " + e.Reason
}

// Sentinel protocol errors. The frame package and its callers return these
// pointers (never fresh values) so that callers can compare with errors.Is
// and so that no error path allocates. They are never mutated; do not
// assign to their fields. Safe for concurrent use.
var (
	// ErrReservedOpcode: opcode 0x3-0x7 or 0xB-0xF (1002).
	ErrReservedOpcode = &ProtocolError{CloseProtocolError, "reserved opcode"}
	// ErrFragmentedControl: control frame with FIN=0 (1002).
	ErrFragmentedControl = &ProtocolError{CloseProtocolError, "fragmented control frame"}
	// ErrControlTooLong: control frame payload longer than 125 bytes (1002).
	ErrControlTooLong = &ProtocolError{CloseProtocolError, "control frame payload longer than 125 bytes"}
	// ErrLengthOverflow: 64-bit payload length with the most significant bit set (1002).
	ErrLengthOverflow = &ProtocolError{CloseProtocolError, "64-bit payload length with the most significant bit set"}
	// ErrReservedBits: RSV1-3 set while no negotiated extension defines them (1002).
	ErrReservedBits = &ProtocolError{CloseProtocolError, "RSV bits set without extension"}
	// ErrUnmasked: a client sent an unmasked frame (1002).
	ErrUnmasked = &ProtocolError{CloseProtocolError, "client frame not masked"}
	// ErrUnexpectedContinuation: continuation frame while no fragmented message is in progress (1002).
	ErrUnexpectedContinuation = &ProtocolError{CloseProtocolError, "continuation frame without a fragmented message in progress"}
	// ErrExpectedContinuation: text or binary frame while a fragmented message is in progress (1002).
	ErrExpectedContinuation = &ProtocolError{CloseProtocolError, "new data frame while a fragmented message is in progress"}
	// ErrCloseLength: close frame payload of exactly 1 byte (1002).
	ErrCloseLength = &ProtocolError{CloseProtocolError, "close payload of 1 byte"}
	// ErrCloseCode: close frame with a code that may not appear on the wire (1002).
	ErrCloseCode = &ProtocolError{CloseProtocolError, "invalid close code"}
	// ErrInvalidUTF8: text message or close reason that is not valid UTF-8 (1007).
	ErrInvalidUTF8 = &ProtocolError{CloseInvalidPayload, "invalid UTF-8"}
	// ErrMessageTooBig: message larger than the configured limit (1009).
	ErrMessageTooBig = &ProtocolError{CloseMessageTooBig, "message too big"}
)

// CloseCodeOf returns the close code err implies: CloseNormal for nil, the
// Code of the first *ProtocolError in err's tree (errors.As semantics), and
// CloseInternalError (1011) for any other error. Safe for concurrent use.
func CloseCodeOf(err error) CloseCode {
	if err == nil {
		return CloseNormal
	}
	if pe, ok := errors.AsType[*ProtocolError](err); ok && pe != nil {
		return pe.Code
	}
	return CloseInternalError
}
