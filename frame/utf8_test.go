package frame

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// utf8Valid holds valid inputs, including every boundary code point.
var utf8Valid = []string{
	"", "a", "Hello-µ@ßöäüàá-UTF-8!!", "κόσμε",
	"\u0000", "\u007f", "\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000",
	"\ufffd", "\ufffe", "\uffff", "\U00010000", "\U0010ffff",
	"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
	"\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
	"日本語のテキスト", "emoji 😀🎉 mixed ascii", strings.Repeat("ascii only ", 20),
	strings.Repeat("a", 31) + "é" + strings.Repeat("b", 40) + "€" + "𝄞",
}

// utf8Invalid holds invalid inputs in the style of Autobahn case group 6.
var utf8Invalid = []string{
	// Lone continuation bytes and sequences of them.
	"\x80", "\xbf", "\x80\xbf", "\x80\xbf\x80\xbf\x80\xbf\x80",
	// Lead bytes followed by a non-continuation.
	"\xc2\x41", "\xc2 ", "\xe2\x82\x41", "\xf0\x9f\x98\x41", "\xc2\xc2", "\xe0\xa0\xe0\xa0",
	// Overlongs.
	"\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xe0\x9f\xbf", "\xf0\x80\x80\xaf", "\xf0\x8f\xbf\xbf",
	"\xc0\x80", "\xe0\x80\x80", "\xf0\x80\x80\x80",
	// Surrogates, single and paired.
	"\xed\xa0\x80", "\xed\xad\xbf", "\xed\xae\x80", "\xed\xaf\xbf", "\xed\xb0\x80", "\xed\xbf\xbf",
	"\xed\xa0\x80\xed\xb0\x80", "\xed\xaf\xbf\xed\xbf\xbf",
	// Above U+10FFFF.
	"\xf4\x90\x80\x80", "\xf4\xbf\xbf\xbf", "\xf5\x80\x80\x80", "\xf7\xbf\xbf\xbf",
	// 5- and 6-byte forms.
	"\xf8\x88\x80\x80\x80", "\xfb\xbf\xbf\xbf\xbf", "\xfc\x84\x80\x80\x80\x80", "\xfd\xbf\xbf\xbf\xbf\xbf",
	// Impossible bytes.
	"\xfe", "\xff", "\xfe\xfe\xff\xff",
	// Truncated sequences (valid prefixes, incomplete at the end).
	"\xc2", "\xe0", "\xe0\xa0", "\xef\xbf", "\xf0", "\xf0\x90", "\xf0\x90\x80", "\xf4\x8f\xbf",
	"κόσμε\xce", "abc\xf0\x9f\x98",
	// Autobahn 6.4.x: valid text, then an invalid sequence.
	"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64",
	"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
	// Invalid bytes deep into long runs, to exercise the bulk path.
	strings.Repeat("a", 40) + "\xc0\xaf" + strings.Repeat("b", 40),
	strings.Repeat("é", 20) + "\xed\xa0\x80" + strings.Repeat("z", 20),
	strings.Repeat("a", 17) + "\xf4\x90",
}

// validPrefix reports whether p can be extended to valid UTF-8, using only
// unicode/utf8: p is valid, or valid once completed by one of the few
// continuation-byte suffixes that cover every second-byte range.
func validPrefix(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	for _, first := range []byte{0x80, 0x90, 0xA0} {
		q := append(append([]byte(nil), p...), first)
		for range 3 {
			if utf8.Valid(q) {
				return true
			}
			q = append(q, 0x80)
		}
	}
	return false
}

// firstInvalid returns the index of the first byte at which p stops being a
// valid prefix, or -1.
func firstInvalid(p []byte) int {
	for k := range p {
		if !validPrefix(p[:k+1]) {
			return k
		}
	}
	return -1
}

// checkChunks feeds p to a fresh validator split at the given cut points and
// checks the final answer against utf8.Valid and the chunk of the first
// failure against firstInvalid.
func checkChunks(t *testing.T, p []byte, cuts ...int) {
	t.Helper()
	want := utf8.Valid(p)
	bad := firstInvalid(p)
	var v UTF8
	start, failedAt := 0, -1
	for i := 0; i <= len(cuts); i++ {
		end := len(p)
		if i < len(cuts) {
			end = cuts[i]
		}
		ok := v.Write(p[start:end])
		if !ok && failedAt < 0 {
			failedAt = i
		}
		if failedAt >= 0 && ok {
			t.Fatalf("%q cuts %v: Write returned true after false", p, cuts)
		}
		if bad >= start && bad < end && failedAt != i {
			t.Fatalf("%q cuts %v: first invalid byte %d is in chunk %d, Write failed at chunk %d", p, cuts, bad, i, failedAt)
		}
		start = end
	}
	if bad < 0 && failedAt >= 0 {
		t.Fatalf("%q cuts %v: valid prefix rejected at chunk %d", p, cuts, failedAt)
	}
	if got := failedAt < 0 && v.Complete(); got != want {
		t.Fatalf("%q cuts %v: valid = %v, utf8.Valid = %v", p, cuts, got, want)
	}
}

// checkAllSplits checks p whole, byte by byte, in every 2-chunk split and
// in every 3-chunk split.
func checkAllSplits(t *testing.T, p []byte) {
	t.Helper()
	checkChunks(t, p)
	ones := make([]int, 0, len(p))
	for i := 1; i < len(p); i++ {
		ones = append(ones, i)
	}
	checkChunks(t, p, ones...)
	for i := 0; i <= len(p); i++ {
		checkChunks(t, p, i)
		for j := i; j <= len(p); j++ {
			checkChunks(t, p, i, j)
		}
	}
}

func TestUTF8Table(t *testing.T) {
	t.Parallel()
	for _, s := range utf8Valid {
		if !utf8.ValidString(s) {
			t.Fatalf("test table: %q is not valid", s)
		}
		checkAllSplits(t, []byte(s))
	}
	for _, s := range utf8Invalid {
		if utf8.ValidString(s) {
			t.Fatalf("test table: %q is valid", s)
		}
		checkAllSplits(t, []byte(s))
	}
}

func TestUTF8FailFastAtSecondByte(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"\xf4\x90", "\xed\xa0", "\xe0\x80", "\xf0\x80", "\xc0", "\xc1", "\xf5", "\xff"} {
		var v UTF8
		if v.Write([]byte(s)) {
			t.Errorf("Write(%q) = true, want false", s)
		}
		if v.Complete() || v.Write([]byte("a")) {
			t.Errorf("%q: validator recovered after failure", s)
		}
		v.Reset()
		if !v.Write([]byte("ok")) || !v.Complete() {
			t.Errorf("%q: Reset did not restore the zero state", s)
		}
	}
}

// randomUTF8ish returns bytes biased towards UTF-8 structure: ASCII,
// continuation bytes, lead bytes and encoded runes.
func randomUTF8ish(r *rand.Rand, n int) []byte {
	p := make([]byte, 0, n+4)
	for len(p) < n {
		switch r.IntN(5) {
		case 0:
			p = append(p, byte(r.IntN(0x80)))
		case 1:
			p = append(p, 0x80+byte(r.IntN(0x40)))
		case 2:
			p = append(p, 0xC0+byte(r.IntN(0x40)))
		case 3:
			p = utf8.AppendRune(p, rune(r.IntN(0x110000)))
		default:
			p = append(p, byte(r.Uint32()))
		}
	}
	return p
}

func TestUTF8Random(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	for range 300 {
		checkAllSplits(t, randomUTF8ish(r, r.IntN(24)))
	}
	for range 2000 {
		p := randomUTF8ish(r, r.IntN(200))
		a, b := r.IntN(len(p)+1), r.IntN(len(p)+1)
		checkChunks(t, p, min(a, b), max(a, b))
	}
}

func TestUTF8Allocs(t *testing.T) {
	text := []byte(strings.Repeat("mixed ascii, ελληνικά, 日本語, 😀 ", 20))
	var v UTF8
	allocs := testing.AllocsPerRun(1000, func() {
		v.Reset()
		if !v.Write(text[:77]) || !v.Write(text[77:]) || !v.Complete() {
			panic("invalid")
		}
	})
	if allocs != 0 {
		t.Fatalf("UTF8.Write allocates %v times per run", allocs)
	}
}

func BenchmarkUTF8(b *testing.B) {
	ascii := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 400))[:16384]
	multi := []byte(strings.Repeat("Hello, Καλημέρα κόσμε, こんにちは世界, Привет мир, 😀🎉! ", 200))
	multi = multi[:16384-3]
	for !utf8.Valid(multi) {
		multi = multi[:len(multi)-1]
	}
	for _, in := range []struct {
		name string
		p    []byte
	}{{"ascii", ascii}, {"multilingual", multi}} {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.p)))
			b.ReportAllocs()
			var v UTF8
			for b.Loop() {
				v.Reset()
				v.Write(in.p)
			}
		})
		b.Run(in.name+"-chunked", func(b *testing.B) {
			b.SetBytes(int64(len(in.p)))
			b.ReportAllocs()
			var v UTF8
			for b.Loop() {
				v.Reset()
				for p := in.p; len(p) > 0; p = p[min(len(p), 1001):] {
					v.Write(p[:min(len(p), 1001)])
				}
			}
		})
		b.Run(in.name+"-utf8.Valid", func(b *testing.B) {
			b.SetBytes(int64(len(in.p)))
			for b.Loop() {
				utf8.Valid(in.p)
			}
		})
	}
}
