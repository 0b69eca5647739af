package engine

import "github.com/openspeed/wsd/frame"

// CloseCode is a WebSocket close status code (an alias of frame.CloseCode, so either package's
// constants work).
type CloseCode = frame.CloseCode

// Close codes, re-exported from package frame for handler code.
const (
	CloseNormal          = frame.CloseNormal
	CloseGoingAway       = frame.CloseGoingAway
	CloseProtocolError   = frame.CloseProtocolError
	CloseUnsupportedData = frame.CloseUnsupportedData
	CloseNoStatus        = frame.CloseNoStatus
	CloseAbnormal        = frame.CloseAbnormal
	CloseInvalidPayload  = frame.CloseInvalidPayload
	ClosePolicyViolation = frame.ClosePolicyViolation
	CloseMessageTooBig   = frame.CloseMessageTooBig
	CloseInternalError   = frame.CloseInternalError
	CloseServiceRestart  = frame.CloseServiceRestart
	CloseTryAgainLater   = frame.CloseTryAgainLater
)

// Opcode is a WebSocket frame opcode (an alias of frame.Opcode). Messages are OpText or OpBinary.
type Opcode = frame.Opcode

// The data opcodes a Message may carry.
const (
	OpText   = frame.OpText
	OpBinary = frame.OpBinary
)
