package wstest

import (
	"bytes"
	"compress/flate"
	"math/rand/v2"
	"strings"
	"testing"
)

// stdDeflate compresses msg with compress/flate at level (with dict as preset history) as one
// RFC 7692 message: a sync flush without its last four bytes.
func stdDeflate(t *testing.T, msg []byte, level int, dict []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := flate.NewWriterDict(&out, level, dict)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(msg)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(out.Bytes(), syncTail)
}

func windowTestData(n int) map[string][]byte {
	r := rand.New(rand.NewPCG(uint64(n), 1))
	random := make([]byte, n)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	text := []byte(strings.Repeat("{\"type\":\"chat\",\"text\":\"héllo wörld\",\"id\":42} ", n/40+1))[:n]
	return map[string][]byte{"random": random, "text": text}
}

// TestInflateWindowDecodes: every block type compress/flate writes (stored, fixed, dynamic,
// Huffman-only) decodes to the original message, with the stats each level implies.
func TestInflateWindowDecodes(t *testing.T) {
	for _, n := range []int{0, 1, 100, 5000, 70000} {
		for name, msg := range windowTestData(n) {
			for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, flate.BestCompression} {
				got, st, err := InflateWindow(stdDeflate(t, msg, level, nil), 15)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("%s %d B, level %d: %d bytes, equal %v, err %v", name, n, level, len(got), bytes.Equal(got, msg), err)
				}
				if (level == flate.HuffmanOnly || level == flate.NoCompression) && st.Matches != 0 {
					t.Errorf("%s %d B, level %d: %d back-references, want none", name, n, level, st.Matches)
				}
				if name == "text" && n >= 5000 && level > 0 && (st.Matches == 0 || st.MaxDistance == 0) {
					t.Errorf("%s %d B, level %d: stats %+v, want back-references", name, n, level, st)
				}
				if level == flate.NoCompression && st.Fixed+st.Dynamic != 0 {
					t.Errorf("level 0: stats %+v, want stored blocks only", st)
				}
			}
		}
	}
}

// TestInflateWindowRefusesFarReferences: a back-reference of 2,000 bytes passes with an 11-bit window
// and fails with a 10-bit one; one into a preset dictionary (before the message) always fails.
func TestInflateWindowRefusesFarReferences(t *testing.T) {
	block := windowTestData(2000)["random"]
	msg := append(append([]byte(nil), block...), block...)
	z := stdDeflate(t, msg, flate.BestCompression, nil)
	got, st, err := InflateWindow(z, 11)
	if err != nil || !bytes.Equal(got, msg) || st.MaxDistance != 2000 {
		t.Fatalf("11-bit window: equal %v, stats %+v, err %v; want the message and distance 2000", bytes.Equal(got, msg), st, err)
	}
	if _, st, err := InflateWindow(z, 10); err == nil || !strings.Contains(err.Error(), "beyond the 1024-byte window") {
		t.Fatalf("10-bit window: stats %+v, err %v; want a window error", st, err)
	}
	z = stdDeflate(t, block, flate.BestCompression, block)
	if _, st, err := InflateWindow(z, 15); err == nil || !strings.Contains(err.Error(), "before the start") {
		t.Fatalf("reference into the dictionary: stats %+v, err %v; want an error", st, err)
	}
}

// TestInflateWindowRefusesCorrupt: truncated data, a reserved block type and a stored block whose
// LEN and NLEN disagree are errors, not panics.
func TestInflateWindowRefusesCorrupt(t *testing.T) {
	z := stdDeflate(t, windowTestData(5000)["text"], flate.BestSpeed, nil)
	for _, bad := range [][]byte{z[:len(z)/2], {0x06}, {0x00, 0x05, 0x00, 0x00, 0x00}} {
		if got, _, err := InflateWindow(bad, 15); err == nil {
			t.Errorf("% x...: decoded %d bytes without an error", bad[:min(len(bad), 8)], len(got))
		}
	}
}
