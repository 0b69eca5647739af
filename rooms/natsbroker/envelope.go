package natsbroker

import (
	"encoding/binary"
	"errors"

	"github.com/openspeed/wsd/rooms"
)

// A room message on the wire (the payload of a NATS message on <prefix>.room.<token>):
//
//	version   1 byte (envelopeVersion)
//	origin    1 byte length n, then n bytes: the publishing node's id
//	variants  repeated to the end: 1 byte index (0: the publication's main frame, 1: its alternative
//	          encoding, rooms.Pub Main and Alt), uvarint length, the frame's wire bytes (header
//	          included, as Frame.Wire returns them)
//
// The frames are sent as they were encoded for the local members, never re-encoded: a receiving node
// copies them into its own pooled frames (FramePool.FromWire). Variants with an index the receiver does
// not know are skipped, so a newer node may add encodings.
const envelopeVersion = 1

// maxVariants is the number of encodings a receiver hands to the engine (Main and Alt).
const maxVariants = 2

// errEnvelope reports a room message this version cannot decode.
var errEnvelope = errors.New("natsbroker: malformed message")

// envelopeSize is an upper bound of the encoded size of fs from node.
func envelopeSize(node string, fs [maxVariants]*rooms.Frame) int {
	n := 2 + len(node)
	for _, f := range fs {
		if f != nil {
			n += 1 + binary.MaxVarintLen64 + len(f.Wire())
		}
	}
	return n
}

// appendEnvelope appends the room message carrying fs from node to dst.
func appendEnvelope(dst []byte, node string, fs [maxVariants]*rooms.Frame) []byte {
	dst = append(dst, envelopeVersion, byte(len(node)))
	dst = append(dst, node...)
	for i, f := range fs {
		if f == nil {
			continue
		}
		w := f.Wire()
		dst = append(dst, byte(i))
		dst = binary.AppendUvarint(dst, uint64(len(w)))
		dst = append(dst, w...)
	}
	return dst
}

// decodeEnvelope parses a room message. It fills variants (len maxVariants, reset to nil first) with
// sub-slices of data and returns the origin node id (also a sub-slice). It does not allocate.
func decodeEnvelope(data []byte, variants [][]byte) (origin []byte, err error) {
	clear(variants)
	if len(data) < 2 || data[0] != envelopeVersion {
		return nil, errEnvelope
	}
	n := int(data[1])
	data = data[2:]
	if len(data) < n {
		return nil, errEnvelope
	}
	origin, data = data[:n], data[n:]
	found := false
	for len(data) > 0 {
		idx := int(data[0])
		size, k := binary.Uvarint(data[1:])
		if k <= 0 || size > uint64(len(data)-1-k) {
			return nil, errEnvelope
		}
		data = data[1+k:]
		if idx < len(variants) {
			variants[idx] = data[:size:size]
			found = true
		}
		data = data[size:]
	}
	if !found {
		return nil, errEnvelope
	}
	return origin, nil
}
