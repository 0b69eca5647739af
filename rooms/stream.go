package rooms

import (
	"time"
)

// Position is a place in a room's stream: the offset of a publication (offsets are contiguous per
// room: 1, 2, 3, ...; 0 means "before the first") and the epoch of the stream it belongs to. An epoch
// names one incarnation of a room's stream: it changes whenever the room's history could have been
// lost (the node that kept it in memory restarted, the room was forgotten after everything in it
// expired, a cluster stream was purged), so offsets are only comparable within one epoch.
type Position struct {
	Offset uint64 `json:"offset" msgpack:"offset"`
	Epoch  string `json:"epoch" msgpack:"epoch"`
}

// HistoryOptions bound what a room keeps of its publications, for recovery after a reconnect and for
// history reads. A publication is dropped from the history when any bound is reached; the oldest go
// first. The zero value keeps nothing.
type HistoryOptions struct {
	// Size is the number of publications kept; 0 keeps none.
	Size int
	// Bytes caps the bytes kept per room (payloads plus a fixed overhead per entry); 0: no cap.
	Bytes int64
	// TTL drops publications older than this; 0: no age limit.
	TTL time.Duration
	// MaxEntry: a publication whose payload is larger is not kept (and, as the history must stay
	// contiguous, everything kept before it is dropped); 0: no cap besides Bytes.
	MaxEntry int
}

// entryOverhead is what an entry costs besides its payload bytes: the entry itself and its frame's
// bookkeeping. It keeps a flood of tiny publications within the byte budgets too.
const entryOverhead = 128

// entry is one kept publication.
type entry struct {
	off  uint64
	at   int64  // unix nanoseconds
	size int64  // bytes accounted against the budgets
	main *Frame // the publication's frame (one reference held by the history)
	alt  *Frame // its second encoding, or nil
}

// stream is a room's position and history. Guarded by Room.pubMu.
type stream struct {
	epoch string
	last  uint64  // offset of the newest publication (0: none yet)
	buf   []entry // ring of contiguous offsets ending at last
	head  int     // index of the oldest entry
	n     int
	bytes int64
}

// first is the offset of the oldest kept entry (last+1 when nothing is kept).
func (s *stream) first() uint64 { return s.last - uint64(s.n) + 1 }

func (s *stream) at(i int) *entry { return &s.buf[(s.head+i)%len(s.buf)] }

// push appends e (whose offset is last+1) to the ring, growing it up to limit entries.
func (s *stream) push(e entry, limit int) {
	if s.n == len(s.buf) {
		s.grow(limit)
	}
	s.buf[(s.head+s.n)%len(s.buf)] = e
	s.n++
	s.bytes += e.size
}

func (s *stream) grow(limit int) {
	size := min(max(2*len(s.buf), 8), limit)
	buf := make([]entry, size)
	for i := 0; i < s.n; i++ {
		buf[i] = *s.at(i)
	}
	s.buf, s.head = buf, 0
}

// popOldest drops the oldest entry and returns its size.
func (s *stream) popOldest() int64 {
	e := s.at(0)
	size := e.size
	releaseEntry(e)
	*e = entry{}
	s.head = (s.head + 1) % len(s.buf)
	s.n--
	s.bytes -= size
	if s.n == 0 {
		s.buf, s.head = nil, 0 // an idle room gives its ring back
	}
	return size
}

func releaseEntry(e *entry) {
	e.main.Release(1)
	if e.alt != nil {
		e.alt.Release(1)
	}
}

// clear drops every entry and returns the bytes freed.
func (s *stream) clear() int64 {
	freed := s.bytes
	for s.n > 0 {
		s.popOldest()
	}
	return freed
}

// expire drops entries older than cutoff (unix nanoseconds) and returns the bytes freed.
func (s *stream) expire(cutoff int64) int64 {
	var freed int64
	for s.n > 0 && s.at(0).at < cutoff {
		freed += s.popOldest()
	}
	return freed
}

// Recovery is the outcome of a join from a position.
type Recovery struct {
	// Recovered is true when every publication after the requested position was (or, when Missed is
	// 0, needed no) replay: the member missed nothing.
	Recovered bool
	// Position is the room's position when the member joined: the member receives every publication
	// after it.
	Position Position
	// Missed is the number of publications replayed.
	Missed int
	// Reason says why recovery failed: "epoch" (the stream is another incarnation: its history was
	// lost), "expired" (the history no longer holds the publication after the requested offset),
	// "ahead" (the requested offset is past the newest publication), "failed" (the cluster's history
	// could not be read). Empty when recovered.
	Reason string
}

// Reasons of a failed recovery.
const (
	ReasonEpoch   = "epoch"
	ReasonExpired = "expired"
	ReasonAhead   = "ahead"
	ReasonFailed  = "failed"
)

// check decides whether the history can replay everything after since. It returns the index of the
// first entry to replay (n when nothing is missed) or a failure reason.
func (s *stream) check(since Position) (int, string) {
	switch {
	case since.Epoch != s.epoch:
		return 0, ReasonEpoch
	case since.Offset > s.last:
		return 0, ReasonAhead
	case since.Offset == s.last:
		return s.n, ""
	case since.Offset+1 < s.first():
		return 0, ReasonExpired
	}
	return int(since.Offset + 1 - s.first()), ""
}

// position is the stream's current position.
func (s *stream) position() Position { return Position{Offset: s.last, Epoch: s.epoch} }

// since time.Time helper for tests and readers.
func unixTime(ns int64) time.Time { return time.Unix(0, ns) }
