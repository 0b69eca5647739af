package frame

import (
	"bytes"
	"slices"
	"testing"
	"unicode/utf8"
)

// event is one step of parsing a stream: a header, or how it ended.
type event struct {
	h     Header
	err   error // a sentinel: comparable with ==
	need  int   // the stream ends in a partial header
	short int64 // the stream ends in a partial payload
	end   bool  // the stream ends at a frame boundary
}

// parseWhole parses data as a stream of frames (header, then skipped
// payload) and returns one event per header and a final one saying how the
// stream ended.
func parseWhole(data []byte) []event {
	var ev []event
	for len(data) > 0 {
		h, size, need, err := ParseHeader(data)
		switch {
		case err != nil:
			return append(ev, event{err: err})
		case size == 0:
			return append(ev, event{need: need})
		}
		ev = append(ev, event{h: h})
		data = data[size:]
		if h.Length > int64(len(data)) {
			return append(ev, event{short: h.Length - int64(len(data))})
		}
		data = data[h.Length:]
	}
	return append(ev, event{end: true})
}

// streamParser is a resumable consumer: it is fed chunks, keeps only the
// unconsumed bytes, and calls ParseHeader only on those.
type streamParser struct {
	t      *testing.T
	buf    []byte // unconsumed bytes: at most a partial header
	skip   int64  // payload bytes still to skip
	ev     []event
	failed bool
}

func (s *streamParser) feed(chunk []byte) {
	if s.failed {
		return
	}
	s.buf = append(s.buf, chunk...)
	for {
		n := min(s.skip, int64(len(s.buf)))
		s.buf, s.skip = s.buf[n:], s.skip-n
		if s.skip > 0 || len(s.buf) == 0 {
			break
		}
		var h Header
		size, need, err := h.Parse(s.buf) // the whole parse uses ParseHeader
		if err != nil {
			s.ev, s.failed = append(s.ev, event{err: err}), true
			return
		}
		if size == 0 {
			if need <= 0 || len(s.buf)+need > MaxHeaderSize {
				s.t.Fatalf("partial header % x: need %d", s.buf, need)
			}
			break
		}
		s.ev = append(s.ev, event{h: h})
		s.buf, s.skip = s.buf[size:], h.Length
	}
	s.buf = slices.Clone(s.buf) // do not keep the caller's chunk
}

func (s *streamParser) finish() []event {
	switch {
	case s.failed:
		return s.ev
	case s.skip > 0:
		return append(s.ev, event{short: s.skip})
	case len(s.buf) > 0:
		_, _, need, _ := ParseHeader(s.buf)
		return append(s.ev, event{need: need})
	}
	return append(s.ev, event{end: true})
}

// cuts turns two fuzz numbers into sorted cut points within [0, n].
func cuts(n int, cut1, cut2 uint16) (int, int) {
	a, b := int(cut1)%(n+1), int(cut2)%(n+1)
	return min(a, b), max(a, b)
}

func FuzzParse(f *testing.F) {
	key := [4]byte{1, 2, 3, 4}
	seeds := [][]byte{
		AppendFrame(nil, Header{Fin: true, Op: OpText, Masked: true, Mask: key}, []byte("hello")),
		AppendFrame(nil, Header{Fin: true, Op: OpBinary}, bytes.Repeat([]byte{7}, 126)),
		AppendFrame(AppendFrame(nil, Header{Op: OpText}, []byte("frag")), Header{Fin: true, Op: OpPing, Masked: true, Mask: key}, nil),
		AppendFrame(nil, Header{Fin: true, Op: OpClose}, AppendClose(nil, CloseNormal, "bye")),
		AppendHeader(nil, Header{Fin: true, Op: OpBinary, Masked: true, Length: 1 << 40}),
		{0x83, 0x00}, {0x09, 0x00}, {0x88, 0x7E, 0x00, 0x7E}, {0x82, 0x7F, 0x80},
		[]byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80"),
	}
	for _, c := range parseHeaderCases() {
		seeds = append(seeds, c.in)
	}
	for i, s := range seeds {
		f.Add(s, uint16(i), uint16(3*i+1))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut1, cut2 uint16) {
		a, b := cuts(len(data), cut1, cut2)
		want := parseWhole(data)
		s := &streamParser{t: t}
		for _, chunk := range [][]byte{data[:a], data[a:b], data[b:]} {
			s.feed(chunk)
		}
		if got := s.finish(); !slices.Equal(got, want) {
			t.Fatalf("cuts %d,%d:\nwhole:   %+v\nchunked: %+v", a, b, want, got)
		}
		fuzzMask(t, data, a, b, int(cut1))
		fuzzUTF8(t, data, a, b)
	})
}

// fuzzMask checks that masking twice restores data and that chunked
// masking at a, b equals one-shot masking.
func fuzzMask(t *testing.T, data []byte, a, b, pos int) {
	var key [4]byte
	copy(key[:], data)
	once := slices.Clone(data)
	Mask(key, pos, once)
	chunked := slices.Clone(data)
	p := Mask(key, pos, chunked[:a])
	p = Mask(key, p, chunked[a:b])
	Mask(key, p, chunked[b:])
	if !bytes.Equal(once, chunked) {
		t.Fatalf("chunked masking at %d,%d differs from one-shot", a, b)
	}
	Mask(key, pos, once)
	if !bytes.Equal(once, data) {
		t.Fatal("masking twice did not restore the input")
	}
}

// fuzzUTF8 checks the chunked validator against utf8.Valid.
func fuzzUTF8(t *testing.T, data []byte, a, b int) {
	var v UTF8
	ok := v.Write(data[:a]) && v.Write(data[a:b]) && v.Write(data[b:]) && v.Complete()
	if ok != utf8.Valid(data) {
		t.Fatalf("UTF8 at %d,%d = %v, utf8.Valid = %v", a, b, ok, !ok)
	}
}
