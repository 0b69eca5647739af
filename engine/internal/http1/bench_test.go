package http1

import (
	"fmt"
	"strings"
	"testing"
)

// bigRequest returns an upgrade request just under DefaultMaxHeaderBytes,
// padded with 60 fields of 128 bytes.
func bigRequest() []byte {
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(browserUpgrade, "\r\n"))
	for i := 0; b.Len() < DefaultMaxHeaderBytes-256; i++ {
		fmt.Fprintf(&b, "X-Pad-%03d: %s\r\n", i, strings.Repeat("v", 114))
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// BenchmarkParse parses a typical browser upgrade request in one call.
func BenchmarkParse(b *testing.B) {
	data := []byte(browserUpgrade)
	var p Parser
	var r Request
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		p.Reset()
		if n, err := p.Parse(data, &r); n == 0 || err != nil {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkParseByteByByte feeds an ~8 KiB request one byte at a time with
// the accumulate-and-reparse calling pattern. A parser that rescanned from
// the start would be quadratic here; a resumable one stays within a small
// factor of BenchmarkParseBig.
func BenchmarkParseByteByByte(b *testing.B) {
	data := bigRequest()
	var p Parser
	var r Request
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		p.Reset()
		for i := 1; i <= len(data); i++ {
			if n, err := p.Parse(data[:i], &r); err != nil || n > 0 && i != len(data) {
				b.Fatal(i, n, err)
			}
		}
	}
}

// BenchmarkParseBig parses the ~8 KiB request of BenchmarkParseByteByByte in
// one call, for comparison.
func BenchmarkParseBig(b *testing.B) {
	data := bigRequest()
	var p Parser
	var r Request
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		p.Reset()
		if n, err := p.Parse(data, &r); n == 0 || err != nil {
			b.Fatal(n, err)
		}
	}
}
