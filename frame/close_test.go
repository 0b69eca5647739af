package frame

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidOnWire(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code CloseCode
		want bool
	}{
		{0, false}, {999, false}, {1000, true}, {1001, true}, {1002, true}, {1003, true},
		{1004, false}, {1005, false}, {1006, false}, {1007, true}, {1008, true}, {1009, true},
		{1010, true}, {1011, true}, {1012, true}, {1013, true}, {1014, true}, {1015, false},
		{1016, false}, {2000, false}, {2999, false}, {3000, true}, {3999, true}, {4000, true},
		{4999, true}, {5000, false}, {65535, false},
	}
	for _, tt := range tests {
		if got := tt.code.ValidOnWire(); got != tt.want {
			t.Errorf("CloseCode(%d).ValidOnWire() = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestCloseCodeString(t *testing.T) {
	t.Parallel()
	tests := map[CloseCode]string{
		CloseNormal: "1000 normal closure", CloseProtocolError: "1002 protocol error",
		CloseNoStatus: "1005 no status", CloseMessageTooBig: "1009 message too big",
		CloseTLSHandshake: "1015 TLS handshake failure", 1004: "1004 unknown",
		3001: "3001 registered", 4001: "4001 private", 5000: "5000 unknown",
	}
	for code, want := range tests {
		if got := code.String(); got != want {
			t.Errorf("CloseCode(%d).String() = %q, want %q", uint16(code), got, want)
		}
	}
}

// closePayload builds a close payload from a raw code and reason.
func closePayload(code uint16, reason string) []byte {
	return append([]byte{byte(code >> 8), byte(code)}, reason...)
}

func TestParseClose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     []byte
		code   CloseCode
		reason string
		err    error
	}{
		{"empty", nil, CloseNoStatus, "", nil},
		{"one byte", []byte{0x03}, 0, "", ErrCloseLength},
		{"normal, no reason", closePayload(1000, ""), CloseNormal, "", nil},
		{"normal with reason", closePayload(1000, "bye"), CloseNormal, "bye", nil},
		{"utf-8 reason", closePayload(1001, "κόσμε"), CloseGoingAway, "κόσμε", nil},
		{"3000", closePayload(3000, ""), 3000, "", nil},
		{"4999", closePayload(4999, "x"), 4999, "x", nil},
		{"max length", closePayload(1000, strings.Repeat("r", 123)), CloseNormal, strings.Repeat("r", 123), nil},
		{"too long", closePayload(1000, strings.Repeat("r", 124)), 0, "", ErrControlTooLong},
		{"code 0", closePayload(0, ""), 0, "", ErrCloseCode},
		{"code 999", closePayload(999, ""), 0, "", ErrCloseCode},
		{"code 1004", closePayload(1004, ""), 0, "", ErrCloseCode},
		{"code 1005", closePayload(1005, ""), 0, "", ErrCloseCode},
		{"code 1006", closePayload(1006, ""), 0, "", ErrCloseCode},
		{"code 1015", closePayload(1015, ""), 0, "", ErrCloseCode},
		{"code 1016", closePayload(1016, ""), 0, "", ErrCloseCode},
		{"code 2999", closePayload(2999, ""), 0, "", ErrCloseCode},
		{"code 5000", closePayload(5000, ""), 0, "", ErrCloseCode},
		{"code 65535", closePayload(65535, ""), 0, "", ErrCloseCode},
		{"invalid utf-8", closePayload(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"), 0, "", ErrInvalidUTF8},
		{"truncated utf-8", closePayload(1000, "\xce"), 0, "", ErrInvalidUTF8},
	}
	for _, tt := range tests {
		code, reason, err := ParseClose(tt.in)
		if code != tt.code || string(reason) != tt.reason || !errors.Is(err, tt.err) {
			t.Errorf("%s: ParseClose(% x) = %v, %q, %v; want %v, %q, %v",
				tt.name, tt.in, code, reason, err, tt.code, tt.reason, tt.err)
		}
		if len(reason) > 0 && &reason[0] != &tt.in[2] {
			t.Errorf("%s: reason does not alias the payload", tt.name)
		}
	}
	if _, reason, _ := ParseClose(nil); reason != nil {
		t.Errorf("empty payload: reason %q, want nil", reason)
	}
}

func TestAppendClose(t *testing.T) {
	t.Parallel()
	euros := strings.Repeat("€", 50) // 150 bytes, 3 per rune
	tests := []struct {
		name   string
		code   CloseCode
		reason string
		want   []byte
	}{
		{"normal", CloseNormal, "", closePayload(1000, "")},
		{"with reason", CloseGoingAway, "bye", closePayload(1001, "bye")},
		{"private", 4000, "x", closePayload(4000, "x")},
		{"no status", CloseNoStatus, "ignored", nil},
		{"abnormal is not sent", CloseAbnormal, "x", nil},
		{"tls is not sent", CloseTLSHandshake, "", nil},
		{"out of range is not sent", 5000, "", nil},
		{"123 bytes kept", CloseNormal, strings.Repeat("a", 123), closePayload(1000, strings.Repeat("a", 123))},
		{"ascii truncated", CloseNormal, strings.Repeat("a", 200), closePayload(1000, strings.Repeat("a", 123))},
		{"3-byte runes fill 123", CloseNormal, euros, closePayload(1000, euros[:123])},
		{"cut at rune boundary", CloseNormal, "a" + euros, closePayload(1000, "a"+euros[:120])},
		{"cut before 4-byte rune", CloseNormal, strings.Repeat("a", 121) + "😀", closePayload(1000, strings.Repeat("a", 121))},
		{"invalid replaced", CloseNormal, "a\xffb\xed\xa0\x80", closePayload(1000, "a?b???")},
	}
	for _, tt := range tests {
		prefix := []byte("prefix")
		got := AppendClose(prefix, tt.code, tt.reason)
		if !bytes.Equal(got[:6], prefix) || !bytes.Equal(got[6:], tt.want) {
			t.Errorf("%s: AppendClose = % x, want % x", tt.name, got[6:], tt.want)
		}
		if len(got)-6 > MaxControlPayload || !utf8.Valid(got[min(len(got), 8):]) {
			t.Errorf("%s: payload of %d bytes or invalid reason", tt.name, len(got)-6)
		}
		code, reason, err := ParseClose(got[6:])
		if err != nil || (len(tt.want) > 0 && code != tt.code) || string(reason) != string(tt.want[min(len(tt.want), 2):]) {
			t.Errorf("%s: round trip = %v, %q, %v", tt.name, code, reason, err)
		}
	}
}

func TestProtocolError(t *testing.T) {
	t.Parallel()
	if got, want := ErrReservedOpcode.Error(), "websocket: protocol error 1002: reserved opcode"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	tests := []struct {
		err  error
		want CloseCode
	}{
		{nil, CloseNormal},
		{ErrReservedOpcode, CloseProtocolError},
		{ErrInvalidUTF8, CloseInvalidPayload},
		{ErrMessageTooBig, CloseMessageTooBig},
		{fmt.Errorf("reading: %w", ErrUnmasked), CloseProtocolError},
		{errors.Join(io.EOF, ErrInvalidUTF8), CloseInvalidPayload},
		{&ProtocolError{Code: ClosePolicyViolation, Reason: "slow consumer"}, ClosePolicyViolation},
		{io.ErrUnexpectedEOF, CloseInternalError},
		{(*ProtocolError)(nil), CloseInternalError},
	}
	for _, tt := range tests {
		if got := CloseCodeOf(tt.err); got != tt.want {
			t.Errorf("CloseCodeOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	sentinels := []*ProtocolError{
		ErrReservedOpcode, ErrFragmentedControl, ErrControlTooLong, ErrLengthOverflow,
		ErrReservedBits, ErrUnmasked, ErrUnexpectedContinuation, ErrExpectedContinuation,
		ErrCloseLength, ErrCloseCode, ErrInvalidUTF8, ErrMessageTooBig,
	}
	for i, a := range sentinels {
		if !a.Code.ValidOnWire() || a.Reason == "" {
			t.Errorf("sentinel %v: bad code or empty reason", a)
		}
		for _, b := range sentinels[i+1:] {
			if errors.Is(a, b) {
				t.Errorf("%v matches %v", a, b)
			}
		}
	}
}
