package deflate

import (
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	kflate "github.com/klauspost/compress/flate"
)

// sizes are the message sizes of the round-trip tables (Autobahn 12.x/13.x
// go from 16 B to 1 MiB; 0 is the empty message).
var sizes = []int{0, 16, 64, 256, 1 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}

// kind is a generator of test payloads.
type kind struct {
	name string
	gen  func(n int, seed uint64) []byte
}

var kinds = []kind{{"text", textData}, {"random", randomData}}

var words = []string{
	"the", "chat", "room", "message", "user", "alice", "bob", "joined", "left", "typing",
	"hello", "world", "websocket", "frame", "deflate", "compress", "server", "client",
	"{\"type\":", "\"text\"", "\"id\":", "42,", "1337,", "\"ts\":", "}\n", "ok", "error",
}

// textData returns n bytes of JSON-ish text drawn from a small vocabulary:
// compressible like real chat traffic.
func textData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, 0, n+16)
	for len(b) < n {
		b = append(b, words[r.IntN(len(words))]...)
		b = append(b, ' ')
	}
	return b[:n]
}

// randomData returns n incompressible bytes.
func randomData(n int, seed uint64) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 7})
	b := make([]byte, n)
	_, _ = r.Read(b)
	return b
}

// sizeName formats a size as 16B, 4KiB, 1MiB.
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// withTail returns msg followed by the 0x00 0x00 0xff 0xff its sender removed.
func withTail(msg []byte) []byte {
	return append(append([]byte(nil), msg...), syncTail...)
}

// stdInflate inflates one message without context with the standard
// library (the reference decoder).
func stdInflate(t testing.TB, msg []byte) []byte {
	t.Helper()
	in := append(withTail(msg), 0x01, 0x00, 0x00, 0xff, 0xff)
	out, err := io.ReadAll(stdflate.NewReader(bytes.NewReader(in)))
	if err != nil {
		t.Fatalf("compress/flate rejects our output: %v", err)
	}
	return out
}

// streamReader is a reference inflater for a context-takeover stream: one
// flate reader over the concatenation of every message with its tail.
type streamReader struct {
	buf bytes.Buffer
	fr  io.Reader
}

func newStdStreamReader() *streamReader {
	s := new(streamReader)
	s.fr = stdflate.NewReader(&s.buf)
	return s
}

func newKlauspostStreamReader() *streamReader {
	s := new(streamReader)
	s.fr = kflate.NewReader(&s.buf)
	return s
}

// next inflates the next message, whose length the test knows.
func (s *streamReader) next(t testing.TB, msg []byte, n int) []byte {
	t.Helper()
	s.buf.Write(msg)
	s.buf.Write(syncTail)
	out := make([]byte, n)
	if _, err := io.ReadFull(s.fr, out); err != nil {
		t.Fatalf("reference inflater: %v", err)
	}
	return out
}

// streamWriter is a reference compressor with context takeover.
type streamWriter struct {
	buf bytes.Buffer
	fw  interface {
		io.Writer
		Flush() error
	}
}

func newStdStreamWriter(t testing.TB) *streamWriter {
	s := new(streamWriter)
	fw, err := stdflate.NewWriter(&s.buf, stdflate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	s.fw = fw
	return s
}

// next compresses one message; flushes > 1 adds sync flushes inside it.
func (s *streamWriter) next(t testing.TB, data []byte, flushes int) []byte {
	t.Helper()
	s.buf.Reset()
	step := len(data)/flushes + 1
	for i := 0; i < flushes; i++ {
		lo, hi := min(i*step, len(data)), min((i+1)*step, len(data))
		_, _ = s.fw.Write(data[lo:hi])
		if err := s.fw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	out := s.buf.Bytes()
	if !bytes.HasSuffix(out, syncTail) {
		t.Fatalf("reference output does not end with a sync flush: % x", out)
	}
	return append([]byte(nil), out[:len(out)-4]...)
}
