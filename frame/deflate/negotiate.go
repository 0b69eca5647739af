package deflate

import (
	"strconv"
	"strings"
)

// ExtensionName is the extension token of RFC 7692.
const ExtensionName = "permessage-deflate"

// Extension parameters of RFC 7692 §7.1.
const (
	paramServerNoContext = "server_no_context_takeover"
	paramClientNoContext = "client_no_context_takeover"
	paramServerMaxWindow = "server_max_window_bits"
	paramClientMaxWindow = "client_max_window_bits"
)

// maxWindowBits is the LZ77 window (32 KiB) used when no smaller one is negotiated.
const maxWindowBits = 15

// Params are the negotiated permessage-deflate parameters.
type Params struct {
	// ServerNoContextTakeover: the server resets its compressor for every
	// message (Pools.Compress); otherwise it keeps one Writer per connection.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover: the client resets its compressor for every
	// message, so the server inflates with Pools.Decompress; otherwise it
	// keeps one Reader per connection.
	ClientNoContextTakeover bool
	// ServerMaxWindowBits is the server's LZ77 window the client agreed to
	// (RFC 7692 §7.1.2.1): the value of its server_max_window_bits, 15 when
	// it sent none. Below 15 (see SmallWindow) messages to it must be
	// compressed with Pools.CompressHuffman, and ServerNoContextTakeover is
	// always set.
	ServerMaxWindowBits int // 8..15; 15 when not negotiated
	// ClientMaxWindowBits is always 15: the server never answers
	// client_max_window_bits, since its inflater has a 32 KiB window anyway.
	ClientMaxWindowBits int // 8..15; 15 when not negotiated
}

// SmallWindow reports whether the client asked for a server window below
// 32 KiB: messages to it must then be compressed with Pools.CompressHuffman,
// whose output refers back to nothing, instead of Compress or a Writer.
// False for the zero Params (nothing negotiated).
func (p Params) SmallWindow() bool {
	return p.ServerMaxWindowBits > 0 && p.ServerMaxWindowBits < maxWindowBits
}

// Policy is what the server allows. The zero value is the memory-safe
// default: no context takeover in either direction, so no flate state is
// held per connection.
type Policy struct {
	// ServerContextTakeover lets the server keep its compression context
	// across messages (better ratio, a compressor per connection: see the
	// package doc for its size). Default false: the response always carries
	// server_no_context_takeover.
	ServerContextTakeover bool
	// ClientContextTakeover lets the client keep its context (the server
	// then keeps an inflater per connection). Default false: the response
	// always carries client_no_context_takeover.
	ClientContextTakeover bool
}

// offer is one parsed permessage-deflate offer.
type offer struct {
	serverNoContext bool
	clientNoContext bool
	serverMaxWindow int // 0: absent
}

// Negotiate reads the client's Sec-WebSocket-Extensions header values (one
// string per header line, each a comma-separated list of offers with
// ;-parameters) and accepts the first permessage-deflate offer it can honour
// under p. It returns the agreed params, the exact response header value
// (e.g. "permessage-deflate; server_no_context_takeover;
// client_no_context_takeover") and ok; ok is false when no offer was
// acceptable, and the response must then carry no permessage-deflate.
//
// Rules (RFC 7692 §7.1): an offer with an unknown parameter, a duplicated
// parameter, a value where none is allowed, or an invalid window size is
// declined and the next offer is tried. server_max_window_bits is accepted
// with any valid value and echoed (the server must then refer back at most
// that far); below 15 the answer also carries server_no_context_takeover,
// since such messages are compressed with Huffman-only blocks that refer
// back to nothing, not even the previous message (see the package doc).
// client_max_window_bits (with or without a value) is accepted and left out
// of the response, which tells the client it may use a 32 KiB window.
// server_no_context_takeover and client_no_context_takeover requested by
// the client are honoured and echoed; the policy adds them when it forbids
// context takeover. Parameter values may be tokens or quoted strings.
//
// Negotiate runs once per handshake; it allocates the response string.
// Safe for concurrent use.
func Negotiate(offers []string, p Policy) (Params, string, bool) {
	for _, header := range offers {
		for len(header) > 0 {
			var item string
			item, header, _ = cutUnquoted(header, ',')
			name, params, hasParams := cutUnquoted(item, ';')
			if trimOWS(name) != ExtensionName {
				continue
			}
			if o, ok := parseOffer(params, hasParams); ok {
				return accept(o, p)
			}
		}
	}
	return Params{}, "", false
}

// accept builds the params and response for an acceptable offer.
func accept(o offer, p Policy) (Params, string, bool) {
	params := Params{
		ServerNoContextTakeover: o.serverNoContext || !p.ServerContextTakeover,
		ClientNoContextTakeover: o.clientNoContext || !p.ClientContextTakeover,
		ServerMaxWindowBits:     maxWindowBits,
		ClientMaxWindowBits:     maxWindowBits,
	}
	if o.serverMaxWindow != 0 {
		params.ServerMaxWindowBits = o.serverMaxWindow
	}
	if params.SmallWindow() {
		// A server MAY answer server_no_context_takeover unasked (RFC 7692
		// §7.1.1.1); it lets the client drop its window between messages.
		params.ServerNoContextTakeover = true
	}
	resp := ExtensionName
	if params.ServerNoContextTakeover {
		resp += "; " + paramServerNoContext
	}
	if params.ClientNoContextTakeover {
		resp += "; " + paramClientNoContext
	}
	if o.serverMaxWindow != 0 {
		resp += "; " + paramServerMaxWindow + "=" + strconv.Itoa(o.serverMaxWindow)
	}
	return params, resp, true
}

// parseOffer checks the ;-separated parameters of one offer (the text after
// the extension name and its ';', if any). ok is false when the offer must
// be declined.
func parseOffer(params string, hasParams bool) (o offer, ok bool) {
	var seen [4]bool
	for more := hasParams; more; {
		var param string
		param, params, more = cutUnquoted(params, ';')
		key, value, hasValue, valid := splitParam(param)
		if !valid {
			return offer{}, false
		}
		idx := paramIndex(key)
		if idx < 0 || seen[idx] {
			return offer{}, false // unknown or duplicated
		}
		seen[idx] = true
		if !o.apply(idx, value, hasValue) {
			return offer{}, false
		}
	}
	return o, true
}

// paramIndex numbers the known parameters; -1 for unknown ones.
func paramIndex(key string) int {
	switch key {
	case paramServerNoContext:
		return 0
	case paramClientNoContext:
		return 1
	case paramServerMaxWindow:
		return 2
	case paramClientMaxWindow:
		return 3
	}
	return -1
}

// apply records parameter idx; false declines the offer.
func (o *offer) apply(idx int, value string, hasValue bool) bool {
	switch idx {
	case 0:
		o.serverNoContext = true
		return !hasValue
	case 1:
		o.clientNoContext = true
		return !hasValue
	case 2:
		bits, ok := windowBits(value)
		o.serverMaxWindow = bits
		return hasValue && ok
	default: // client_max_window_bits: optional value, never answered.
		if !hasValue {
			return true
		}
		_, ok := windowBits(value)
		return ok
	}
}

// windowBits parses an RFC 7692 window size: "8" to "15", no sign, no
// leading zero.
func windowBits(v string) (int, bool) {
	switch {
	case len(v) == 1 && v[0] >= '8' && v[0] <= '9':
		return int(v[0] - '0'), true
	case len(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5':
		return 10 + int(v[1]-'0'), true
	}
	return 0, false
}

// splitParam splits `key [= value]` with optional whitespace. A value may be
// a token or a quoted string (unescaped). valid is false for a malformed
// parameter (empty key, non-token characters, empty value, bad quoting).
func splitParam(param string) (key, value string, hasValue, valid bool) {
	key, value, hasValue = strings.Cut(param, "=")
	key = trimOWS(key)
	if !isToken(key) {
		return "", "", false, false
	}
	if !hasValue {
		return key, "", false, true
	}
	value = trimOWS(value)
	if len(value) > 0 && value[0] == '"' {
		value, valid = unquote(value)
		return key, value, true, valid
	}
	return key, value, true, isToken(value)
}

// unquote decodes an HTTP quoted-string that spans all of s.
func unquote(s string) (string, bool) {
	if len(s) < 2 || s[len(s)-1] != '"' {
		return "", false
	}
	body := s[1 : len(s)-1]
	if !strings.ContainsAny(body, "\\\"") {
		return body, true
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '"':
			return "", false
		case c == '\\':
			i++
			if i == len(body) {
				return "", false
			}
			c = body[i]
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// cutUnquoted splits s at the first sep outside a quoted string; found
// reports whether there was one.
func cutUnquoted(s string, sep byte) (before, after string, found bool) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// trimOWS removes HTTP optional whitespace (spaces and tabs).
func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}

// isToken reports whether s is a non-empty RFC 7230 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}
