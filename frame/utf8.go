package frame

import "unicode/utf8"

// UTF8 validates a message as UTF-8 chunk by chunk, across reads and
// fragments. The zero value is at a code point boundary with nothing seen;
// Reset returns to it. It is 4 bytes and never allocates.
// Not safe for concurrent use.
type UTF8 struct {
	rem uint8 // continuation bytes still expected for the current code point
	lo  uint8 // smallest byte accepted next (when rem > 0)
	hi  uint8 // largest byte accepted next (when rem > 0)
	bad bool  // an invalid byte has been seen
}

// Write validates the next chunk p of the message. It returns false as soon
// as the bytes seen so far can no longer be the prefix of valid UTF-8, so a
// bad message fails in the chunk holding its first invalid byte (Autobahn
// 6.4): overlongs (0xC0 0xAF, 0xE0 0x80), surrogates (0xED 0xA0), code points
// above U+10FFFF (0xF4 0x90) and bytes 0xF5-0xFF fail at once, even when the
// chunk ends right after them. Once false it stays false until Reset. A code
// point split between chunks is valid. Not safe for concurrent use.
func (v *UTF8) Write(p []byte) bool {
	if v.bad {
		return false
	}
	for v.rem != 0 && len(p) > 0 {
		if !v.step(p[0]) {
			return false
		}
		p = p[1:]
	}
	// p now starts at a code point boundary. Validate the longest prefix
	// that may end at one in bulk and feed an incomplete tail to step.
	t := tailStart(p)
	if !validBulk(p[:t]) {
		v.bad = true
		return false
	}
	for _, c := range p[t:] {
		if !v.step(c) {
			return false
		}
	}
	return true
}

// Complete reports whether the input so far is valid and ends on a code
// point boundary: the message may end here. Not safe for concurrent use.
func (v *UTF8) Complete() bool { return !v.bad && v.rem == 0 }

// Reset makes v ready for a new message. Not safe for concurrent use.
func (v *UTF8) Reset() { *v = UTF8{} }

// step advances the state by one byte and reports whether the input is
// still a valid prefix (RFC 3629 section 4, the table of well-formed
// sequences). On failure it sets v.bad.
func (v *UTF8) step(c byte) bool {
	if v.rem != 0 {
		if c < v.lo || c > v.hi {
			v.bad = true
			return false
		}
		v.rem--
		v.lo, v.hi = 0x80, 0xBF
		return true
	}
	v.lo, v.hi = 0x80, 0xBF
	switch {
	case c < 0x80:
		return true
	case c < 0xC2: // continuation byte or overlong 2-byte lead
		v.bad = true
		return false
	case c < 0xE0:
		v.rem = 1
	case c < 0xF0:
		v.rem = 2
		if c == 0xE0 {
			v.lo = 0xA0 // overlong
		} else if c == 0xED {
			v.hi = 0x9F // surrogates
		}
	case c < 0xF5:
		v.rem = 3
		if c == 0xF0 {
			v.lo = 0x90 // overlong
		} else if c == 0xF4 {
			v.hi = 0x8F // above U+10FFFF
		}
	default:
		v.bad = true
		return false
	}
	return true
}

// tailStart returns the index of the last lead byte of p if the sequence it
// starts is cut off by the end of p, else len(p). Only the last three bytes
// can start a cut-off sequence.
func tailStart(p []byte) int {
	n := len(p)
	for i := n - 1; i >= 0 && i >= n-3; i-- {
		c := p[i]
		if c < 0x80 {
			return n
		}
		if c >= 0xC0 {
			if i+seqLen(c) > n {
				return i
			}
			return n
		}
	}
	return n
}

// seqLen returns the length of the sequence lead byte c announces, counting
// invalid leads 0xF5-0xFF as 4 (step rejects them anyway).
func seqLen(c byte) int {
	switch {
	case c < 0xE0:
		return 2
	case c < 0xF0:
		return 3
	}
	return 4
}

// validBulk reports whether p, which starts at a code point boundary, is
// valid UTF-8. unicode/utf8.Valid skips ASCII 32 bytes at a time (Go 1.26)
// and uses a table for multi-byte sequences; a hand-rolled ASCII loop in
// front of it measured slower.
func validBulk(p []byte) bool {
	return utf8.Valid(p)
}
