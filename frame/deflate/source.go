package deflate

import "io"

// Tails appended to a message before inflating it (RFC 7692 §7.2.2). The
// sender removed the 0x00 0x00 0xff 0xff of its final sync flush; putting it
// back ends the message on an empty stored block. finalTail adds an empty
// final block after it so that a one-shot inflater reports io.EOF.
var (
	syncTail  = []byte{0x00, 0x00, 0xff, 0xff}
	finalTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}
)

// source is the inflater's input: one message followed by a tail, read
// without copying the message. It implements flate.Reader (io.Reader and
// io.ByteReader), so the inflater never reads ahead of what it needs.
type source struct {
	msg, tail []byte
	// storedEnd: the last bytes were taken by Read, which the inflater uses
	// only for stored blocks (their LEN/NLEN and data). An exhausted source
	// whose last bytes went to a stored block leaves the inflater at a block
	// boundary: that is how the sync tail of a message ends.
	storedEnd bool
	// stopAtBoundary (context takeover): when the inflater asks for the next
	// block header past the end of a message, panic with boundaryPanic
	// instead of returning an error, which klauspost's inflater would keep
	// forever (its only other way to leave Read without output).
	stopAtBoundary bool
}

// boundaryPanic is the value source panics with at a message boundary;
// Reader.read recovers it and nothing else.
type boundaryPanic struct{}

// reset points s at a new message followed by tail.
func (s *source) reset(msg, tail []byte) {
	s.msg, s.tail, s.storedEnd = msg, tail, false
}

// exhausted reports whether every byte of the message and tail was read.
func (s *source) exhausted() bool {
	return len(s.msg) == 0 && len(s.tail) == 0
}

// ReadByte implements io.ByteReader.
func (s *source) ReadByte() (byte, error) {
	if len(s.msg) > 0 {
		c := s.msg[0]
		s.msg = s.msg[1:]
		s.storedEnd = false
		return c, nil
	}
	if len(s.tail) > 0 {
		c := s.tail[0]
		s.tail = s.tail[1:]
		s.storedEnd = false
		return c, nil
	}
	if s.stopAtBoundary && s.storedEnd {
		panic(boundaryPanic{})
	}
	return 0, io.ErrUnexpectedEOF
}

// Read implements io.Reader.
func (s *source) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := copy(p, s.msg)
	s.msg = s.msg[n:]
	m := copy(p[n:], s.tail)
	s.tail = s.tail[m:]
	if n+m == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	s.storedEnd = true
	return n + m, nil
}
