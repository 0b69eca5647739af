package http1

// Character classes and small string helpers. Everything here is a pure
// function of its arguments; the tables are constants, not variables.

// tchar bitmaps (RFC 9110 5.6.2): bit c of tcharLo for c < 64, bit c-64 of
// tcharHi for 64 <= c < 128. TestTcharTable checks them against the grammar.
const (
	tcharLo uint64 = 0x03ff6cfa00000000
	tcharHi uint64 = 0x57ffffffc7fffffe
)

// isTchar reports whether c may appear in a token (method, field name).
func isTchar(c byte) bool {
	if c < 64 {
		return tcharLo&(1<<c) != 0
	}
	if c < 128 {
		return tcharHi&(1<<(c-64)) != 0
	}
	return false
}

// isTargetByte reports whether c may appear in a request-target: anything
// visible, including obs-text; no controls, no SP, no DEL.
func isTargetByte(c byte) bool {
	return c > ' ' && c != 0x7f
}

// isValueByte reports whether c may appear in a field value (RFC 9110 5.5):
// VCHAR, obs-text, SP and HTAB.
func isValueByte(c byte) bool {
	return c >= ' ' && c != 0x7f || c == '\t'
}

// trimOWS removes leading and trailing SP and HTAB.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// lower folds an ASCII upper-case letter to lower case.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFold reports whether a and b are equal under ASCII case folding.
// Header names and the tokens compared here are ASCII; unlike
// strings.EqualFold it does not fold non-ASCII runes, which is what HTTP wants.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] != b[i] && lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// nextElement splits the first element off a comma-separated list
// (RFC 9110 5.6.1) and returns it with OWS trimmed; elem may be empty (empty
// list elements are legal and ignored by callers). Quoted strings are not
// interpreted: the lists parsed here (Connection, Transfer-Encoding, Upgrade)
// hold tokens.
func nextElement(list string) (elem, rest string) {
	for i := 0; i < len(list); i++ {
		if list[i] == ',' {
			return trimOWS(list[:i]), list[i+1:]
		}
	}
	return trimOWS(list), ""
}

// hasElement reports whether the comma-separated list contains token,
// compared case-insensitively.
func hasElement(list, token string) bool {
	for list != "" {
		var e string
		e, list = nextElement(list)
		if equalFold(e, token) {
			return true
		}
	}
	return false
}

// parseContentLength parses a Content-Length value: one or more decimal
// digits that fit in an int64.
func parseContentLength(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	const maxInt64 = 1<<63 - 1
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (maxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// splitTarget derives the path and raw query from a request-target. For
// absolute-form ("http://host/p?q") the scheme and authority are dropped and
// an empty path becomes "/". A "#fragment" (not legal in a request-target,
// but sent by some clients) is dropped from both.
func splitTarget(t string) (path, query string) {
	if t != "" && t[0] != '/' {
		if rest, ok := stripSchemeAuthority(t); ok {
			t = rest
			if t == "" || t[0] != '/' {
				path = "/"
			}
		}
	}
	for i := 0; i < len(t); i++ {
		if t[i] == '#' {
			t = t[:i]
			break
		}
	}
	p := t
	for i := 0; i < len(t); i++ {
		if t[i] == '?' {
			p, query = t[:i], t[i+1:]
			break
		}
	}
	if path == "" {
		path = p
	}
	return path, query
}

// stripSchemeAuthority removes `scheme "://" authority` from an
// absolute-form target and returns what follows (path, query, fragment).
func stripSchemeAuthority(t string) (string, bool) {
	i := 0
	for ; i < len(t); i++ {
		c := lower(t[i])
		alpha := 'a' <= c && c <= 'z'
		if !alpha && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			break
		}
	}
	if i == 0 || len(t)-i < 3 || t[i:i+3] != "://" {
		return "", false
	}
	t = t[i+3:]
	for j := 0; j < len(t); j++ {
		if c := t[j]; c == '/' || c == '?' || c == '#' {
			return t[j:], true
		}
	}
	return "", true
}
