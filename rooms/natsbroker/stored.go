package natsbroker

import (
	"encoding/binary"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/openspeed/wsd/rooms"
)

// A stored message (JetStream mode) is one commit of one or more publications of a room, on the
// room's stored subject <prefix>.js.<token>. Its headers give its place in the room's stream:
//
//	Wsd-Epoch    the epoch of the room's stream (random, new whenever the room's stream starts over)
//	Wsd-Offset   the offset of its first publication; the others follow contiguously
//	Nats-Expected-Last-Subject-Sequence   the stream sequence of the room's previous stored message
//	             (0: none), checked by JetStream: the optimistic lock that keeps offsets contiguous
//
// and its payload the publications:
//
//	version   1 byte (storedVersion)
//	origin    1 byte length n, then n bytes: the publishing node's id
//	batch     uvarint: the commit's id on that node (a node recognizes its own commits)
//	at        uvarint: when it was committed (unix nanoseconds)
//	count     uvarint: the number of publications
//	pubs      count times: uvarint length, then the publication's variants as in a relay envelope
//	          (1 byte index, uvarint length, the frame's wire bytes)
//
// A message with no publication (count 0, Wsd-Offset 1) is an epoch marker: the first node to sync
// a room that has no stored message stores one, so that every node reports the same epoch for the
// empty room and its first publication continues it.
const storedVersion = 2

// Header names of a stored message.
const (
	hdrEpoch       = "Wsd-Epoch"
	hdrOffset      = "Wsd-Offset"
	hdrExpectLast  = "Nats-Expected-Last-Subject-Sequence"
	hdrSequence    = "Nats-Sequence"
	hdrStatus      = "Status"
	statusNotFound = "404"
	statusNoResp   = "503"
)

// stored is a decoded stored message; its byte slices point into the message.
type stored struct {
	seq    uint64 // stream sequence
	first  uint64 // offset of the first publication
	count  int
	epoch  string
	origin []byte
	batch  uint64
	at     int64
	pubs   []byte // the pubs section
}

// last is the offset of the message's last publication (first-1 for an epoch marker).
func (s *stored) last() uint64 { return s.first + uint64(s.count) - 1 }

// position is the room's position after the message.
func (s *stored) position() rooms.Position { return rooms.Position{Offset: s.last(), Epoch: s.epoch} }

// decodeStored parses a stored message as republished or read back (Nats-Sequence set by JetStream).
func decodeStored(m *nats.Msg) (stored, error) {
	var s stored
	var err error
	if s.seq, err = strconv.ParseUint(m.Header.Get(hdrSequence), 10, 64); err != nil {
		return s, errEnvelope
	}
	if s.first, err = strconv.ParseUint(m.Header.Get(hdrOffset), 10, 64); err != nil || s.first == 0 {
		return s, errEnvelope
	}
	if s.epoch = m.Header.Get(hdrEpoch); s.epoch == "" {
		return s, errEnvelope
	}
	d := m.Data
	if len(d) < 2 || d[0] != storedVersion || len(d) < 2+int(d[1]) {
		return s, errEnvelope
	}
	s.origin, d = d[2:2+int(d[1])], d[2+int(d[1]):]
	var vals [3]uint64
	for i := range vals {
		v, k := binary.Uvarint(d)
		if k <= 0 {
			return s, errEnvelope
		}
		vals[i], d = v, d[k:]
	}
	s.batch, s.at = vals[0], int64(vals[1])
	if vals[2] > uint64(len(d)) || (vals[2] == 0 && s.first != 1) {
		return s, errEnvelope
	}
	s.count, s.pubs = int(vals[2]), d
	return s, nil
}

// nextPub splits the next publication's variants off a pubs section.
func nextPub(d []byte) (pub, rest []byte, err error) {
	n, k := binary.Uvarint(d)
	if k <= 0 || n > uint64(len(d)-k) {
		return nil, nil, errEnvelope
	}
	return d[k : k+int(n)], d[k+int(n):], nil
}

// decodeVariants fills variants (len maxVariants, reset first) with the frames of one publication.
func decodeVariants(data []byte, variants [][]byte) error {
	clear(variants)
	found := false
	for len(data) > 0 {
		idx := int(data[0])
		size, k := binary.Uvarint(data[1:])
		if k <= 0 || size > uint64(len(data)-1-k) {
			return errEnvelope
		}
		data = data[1+k:]
		if idx < len(variants) {
			variants[idx] = data[:size:size]
			found = true
		}
		data = data[size:]
	}
	if !found || variants[0] == nil {
		return errEnvelope
	}
	return nil
}

// storedHead is the fixed part of a stored message's payload.
type storedHead struct {
	origin string
	batch  uint64
	at     int64
}

// storedSize is an upper bound of the payload of pubs.
func storedSize(h storedHead, pubs []*rooms.Pub) int {
	n := 2 + len(h.origin) + 3*binary.MaxVarintLen64
	for _, p := range pubs {
		n += pubSize(p)
	}
	return n
}

// pubSize is an upper bound of one publication's part of a stored message.
func pubSize(p *rooms.Pub) int {
	n := binary.MaxVarintLen64
	for _, f := range [maxVariants]*rooms.Frame{p.Main, p.Alt} {
		if f != nil {
			n += 1 + binary.MaxVarintLen64 + len(f.Wire())
		}
	}
	return n
}

// appendStored appends the payload of a stored message holding pubs to dst.
func appendStored(dst []byte, h storedHead, pubs []*rooms.Pub) []byte {
	dst = append(dst, storedVersion, byte(len(h.origin)))
	dst = append(dst, h.origin...)
	dst = binary.AppendUvarint(dst, h.batch)
	dst = binary.AppendUvarint(dst, uint64(h.at))
	dst = binary.AppendUvarint(dst, uint64(len(pubs)))
	for _, p := range pubs {
		size := 0
		for _, f := range [maxVariants]*rooms.Frame{p.Main, p.Alt} {
			if f != nil {
				size += 1 + uvarintLen(uint64(len(f.Wire()))) + len(f.Wire())
			}
		}
		dst = binary.AppendUvarint(dst, uint64(size))
		for i, f := range [maxVariants]*rooms.Frame{p.Main, p.Alt} {
			if f != nil {
				dst = append(dst, byte(i))
				dst = binary.AppendUvarint(dst, uint64(len(f.Wire())))
				dst = append(dst, f.Wire()...)
			}
		}
	}
	return dst
}

// pubsOf copies the publications of a stored message from another node (or a commit of this node
// that is no longer waiting) into pooled frames, with their positions. It returns nil when the
// message cannot be decoded.
func pubsOf(in rooms.Inbound, room string, s *stored, variants [][]byte) []*rooms.Pub {
	out := make([]*rooms.Pub, 0, s.count)
	d := s.pubs
	for i := 0; i < s.count; i++ {
		pub, rest, err := nextPub(d)
		if err == nil {
			err = decodeVariants(pub, variants)
		}
		if err != nil {
			releaseAll(out)
			return nil
		}
		d = rest
		p := in.NewPub(room)
		p.Main = in.FromWire(variants[0])
		if variants[1] != nil {
			p.Alt = in.FromWire(variants[1])
		}
		if p.Main == nil {
			p.Release()
			releaseAll(out)
			return nil
		}
		p.Position = rooms.Position{Offset: s.first + uint64(i), Epoch: s.epoch}
		p.At, p.Origin = s.at, string(s.origin)
		out = append(out, p)
	}
	clear(variants)
	return out
}

func releaseAll(ps []*rooms.Pub) {
	for _, p := range ps {
		p.Release()
	}
}
