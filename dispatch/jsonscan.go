package dispatch

import (
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON scanner: a small, allocation-free, non-recursive checker in the spirit of encoding/json's
// scanner. Positions are indexes into the message; every function returns ok=false rather than
// reading past the end. It does not check UTF-8 (the engine has already checked every text frame).

// strPlain[c] is true for a byte that stands for itself inside a JSON string (not '"', not '\\', not a
// control character).
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// hexVal maps a hex digit to its value and anything else to -1.
var hexVal = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = int8(c - 'a' + 10)
		t[c-'a'+'A'] = int8(c - 'a' + 10)
	}
	return t
}()

func skipWS(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// hex4 decodes the four hex digits at data[i:]; r < 0 when they are missing or not hex.
func hex4(data []byte, i int) rune {
	if len(data)-i < 4 {
		return -1
	}
	a, b, c, d := hexVal[data[i]], hexVal[data[i+1]], hexVal[data[i+2]], hexVal[data[i+3]]
	if a|b|c|d < 0 {
		return -1
	}
	return rune(a)<<12 | rune(b)<<8 | rune(c)<<4 | rune(d)
}

// scanString checks the string token that starts with the quote at data[i] and returns the index
// after its closing quote and whether it contains backslash escapes.
func scanString(data []byte, i int) (end int, esc, ok bool) {
	i++
	for {
		for i < len(data) && strPlain[data[i]] {
			i++
		}
		if i >= len(data) {
			return 0, false, false
		}
		switch data[i] {
		case '"':
			return i + 1, esc, true
		case '\\':
			esc = true
			if i+1 >= len(data) {
				return 0, false, false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if hex4(data, i+2) < 0 {
					return 0, false, false
				}
				i += 6
			default:
				return 0, false, false
			}
		default: // a control character
			return 0, false, false
		}
	}
}

func skipDigits(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}

// scanNumber checks a number per the JSON grammar -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// starting at data[i]. What follows it is the caller's business ("01" ends after the "0").
func scanNumber(data []byte, i int) (int, bool) {
	if i < len(data) && data[i] == '-' {
		i++
	}
	if i >= len(data) {
		return 0, false
	}
	switch c := data[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		i = skipDigits(data, i+1)
	default:
		return 0, false
	}
	if i < len(data) && data[i] == '.' {
		j := skipDigits(data, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := skipDigits(data, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func scanLiteral(data []byte, i int, lit string) (int, bool) {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return 0, false
	}
	return i + len(lit), true
}

// scanScalar checks a string, number, true, false or null at data[i].
func scanScalar(data []byte, i int) (int, bool) {
	switch data[i] {
	case '"':
		end, _, ok := scanString(data, i)
		return end, ok
	case 't':
		return scanLiteral(data, i, "true")
	case 'f':
		return scanLiteral(data, i, "false")
	case 'n':
		return scanLiteral(data, i, "null")
	}
	return scanNumber(data, i)
}

// scanKey checks `"key" :` (with optional whitespace around both) from data[i] and returns the
// index after the colon.
func scanKey(data []byte, i int) (int, bool) {
	i = skipWS(data, i)
	if i >= len(data) || data[i] != '"' {
		return 0, false
	}
	i, _, ok := scanString(data, i)
	if !ok {
		return 0, false
	}
	i = skipWS(data, i)
	if i >= len(data) || data[i] != ':' {
		return 0, false
	}
	return i + 1, true
}

// skipValue checks the JSON value that starts at data[i] (after optional whitespace) and returns
// the index just past it. depth is the number of containers open around the value. It does not
// recurse: the open containers are a bit stack (bit set = object), never deeper than MaxDepth, so
// 64 bits hold it.
func skipValue(data []byte, i, depth int) (int, bool) {
	var stack uint64
	sp := 0
	for {
		i = skipWS(data, i)
		if i >= len(data) {
			return 0, false
		}
		ok := true
		if c := data[i]; c == '{' || c == '[' {
			if depth+sp >= MaxDepth {
				return 0, false
			}
			j := skipWS(data, i+1)
			if j < len(data) && data[j] == c+2 { // '{'+2 == '}', '['+2 == ']'
				i = j + 1
			} else {
				stack &^= 1 << sp
				if c == '{' {
					stack |= 1 << sp
					j, ok = scanKey(data, j)
				}
				sp++
				i = j
				if !ok {
					return 0, false
				}
				continue
			}
		} else if i, ok = scanScalar(data, i); !ok {
			return 0, false
		}
		var done bool
		if i, sp, done, ok = afterValue(data, i, stack, sp); !ok {
			return 0, false
		} else if done {
			return i, true
		}
	}
}

// afterValue consumes what may follow a value inside the containers on the stack: closing brackets,
// then either a comma (and the next key, inside an object) before the next value, or the end of the
// outermost container (done).
func afterValue(data []byte, i int, stack uint64, sp int) (int, int, bool, bool) {
	for sp > 0 {
		i = skipWS(data, i)
		if i >= len(data) {
			return 0, 0, false, false
		}
		obj := stack>>(sp-1)&1 == 1
		switch c := data[i]; {
		case c == ',':
			if !obj {
				return i + 1, sp, false, true
			}
			i, ok := scanKey(data, i+1)
			return i, sp, false, ok
		case obj && c == '}', !obj && c == ']':
			i++
			sp--
		default:
			return 0, 0, false, false
		}
	}
	return i, 0, true, true
}

// jsonKind is the kind of the value whose first byte is c.
func jsonKind(c byte) Kind {
	switch c {
	case '"':
		return String
	case '{':
		return Object
	case '[':
		return Array
	case 't', 'f':
		return Bool
	case 'n':
		return Null
	}
	return Number
}

// jsonIter walks the members of a top-level JSON object.
type jsonIter struct {
	data []byte
	i    int
	n    int // members read so far
}

func newJSONIter(data []byte) (jsonIter, bool) {
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return jsonIter{}, false
	}
	return jsonIter{data: data, i: i + 1}, true
}

// next returns the next member: key is the key's contents (between the quotes), esc tells whether
// it has escapes, val is the raw value. At the end of the object more is false and ok tells whether
// the object was well-formed and only whitespace follows it.
func (it *jsonIter) next() (key []byte, esc bool, val []byte, more, ok bool) {
	data := it.data
	i := skipWS(data, it.i)
	if i < len(data) && data[i] == '}' {
		return nil, false, nil, false, skipWS(data, i+1) == len(data)
	}
	if it.n > 0 {
		if i >= len(data) || data[i] != ',' {
			return nil, false, nil, false, false
		}
		i = skipWS(data, i+1)
	}
	if i >= len(data) || data[i] != '"' {
		return nil, false, nil, false, false
	}
	ks := i
	if i, esc, ok = scanString(data, i); !ok {
		return nil, false, nil, false, false
	}
	key = data[ks+1 : i-1]
	i = skipWS(data, i)
	if i >= len(data) || data[i] != ':' {
		return nil, false, nil, false, false
	}
	vs := skipWS(data, i+1)
	if i, ok = skipValue(data, vs, 1); !ok {
		return nil, false, nil, false, false
	}
	it.i = i
	it.n++
	return key, esc, data[vs:i], true, true
}

// decodeEscape decodes the escape at s[i] == '\\' of a checked string body and returns the rune and
// the index after it. Surrogates are paired as encoding/json pairs them; a lone one is U+FFFD.
func decodeEscape(s []byte, i int) (rune, int) {
	switch s[i+1] {
	case 'b':
		return '\b', i + 2
	case 'f':
		return '\f', i + 2
	case 'n':
		return '\n', i + 2
	case 'r':
		return '\r', i + 2
	case 't':
		return '\t', i + 2
	case 'u':
		r := hex4(s, i+2)
		i += 6
		if !utf16.IsSurrogate(r) {
			return r, i
		}
		if len(s)-i >= 6 && s[i] == '\\' && s[i+1] == 'u' {
			if pair := utf16.DecodeRune(r, hex4(s, i+2)); pair != utf8.RuneError {
				return pair, i + 6
			}
		}
		return utf8.RuneError, i
	}
	return rune(s[i+1]), i + 2 // '"', '\\', '/'
}

// appendUnescaped appends the decoded body of a checked string (without its quotes) to dst.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			dst = append(dst, s[i])
			i++
			continue
		}
		var r rune
		r, i = decodeEscape(s, i)
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// keyEquals reports whether the checked string body s decodes to key, without allocating.
func keyEquals(s []byte, esc bool, key string) bool {
	if !esc {
		return string(s) == key
	}
	j := 0
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			if j >= len(key) || key[j] != s[i] {
				return false
			}
			i++
			j++
			continue
		}
		var r rune
		r, i = decodeEscape(s, i)
		var b [utf8.UTFMax]byte
		n := utf8.EncodeRune(b[:], r)
		if len(key)-j < n || key[j:j+n] != string(b[:n]) {
			return false
		}
		j += n
	}
	return j == len(key)
}
