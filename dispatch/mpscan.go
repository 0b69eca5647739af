package dispatch

import "encoding/binary"

// The MessagePack scanner: every format of the spec, no recursion, no allocation. Every length is
// checked against the bytes that remain before it is used, and every element takes at least one
// byte, so a count larger than the rest of the message is refused at once and no loop runs longer
// than the message is long.

// mpUint reads the size-byte big-endian unsigned integer at data[i:].
func mpUint(data []byte, i, size int) (uint64, int, bool) {
	if len(data)-i < size {
		return 0, 0, false
	}
	switch size {
	case 1:
		return uint64(data[i]), i + 1, true
	case 2:
		return uint64(binary.BigEndian.Uint16(data[i:])), i + 2, true
	case 4:
		return uint64(binary.BigEndian.Uint32(data[i:])), i + 4, true
	}
	return binary.BigEndian.Uint64(data[i:]), i + 8, true
}

// mpPayload skips n payload bytes at data[i:].
func mpPayload(data []byte, i int, n uint64, kind Kind) (int, uint64, Kind, bool) {
	if uint64(len(data)-i) < n {
		return 0, 0, Invalid, false
	}
	return i + int(n), 0, kind, true
}

// mpSized reads a size-byte length at data[i:] and skips that many payload bytes plus extra (the
// type byte of an ext).
func mpSized(data []byte, i, size int, extra uint64, kind Kind) (int, uint64, Kind, bool) {
	n, i, ok := mpUint(data, i, size)
	if !ok {
		return 0, 0, Invalid, false
	}
	return mpPayload(data, i, n+extra, kind)
}

// mpHead reads the value whose first byte is data[i] (i < len(data)). For a scalar, string, bin or
// ext, next is the index after the whole value and items is 0; for a map or array, next is the
// index of its first element and items the number of elements that follow (two per map entry).
func mpHead(data []byte, i int) (next int, items uint64, kind Kind, ok bool) {
	c := data[i]
	i++
	switch {
	case c <= 0x7f || c >= 0xe0: // positive and negative fixint
		return i, 0, Number, true
	case c <= 0x8f: // fixmap
		return i, 2 * uint64(c&0x0f), Object, true
	case c <= 0x9f: // fixarray
		return i, uint64(c & 0x0f), Array, true
	case c <= 0xbf: // fixstr
		return mpPayload(data, i, uint64(c&0x1f), String)
	}
	switch c {
	case 0xc0:
		return i, 0, Null, true
	case 0xc2, 0xc3:
		return i, 0, Bool, true
	case 0xc4, 0xc5, 0xc6: // bin8/16/32
		return mpSized(data, i, 1<<(c-0xc4), 0, Binary)
	case 0xc7, 0xc8, 0xc9: // ext8/16/32: length, type byte, payload
		return mpSized(data, i, 1<<(c-0xc7), 1, Binary)
	case 0xca: // float32
		return mpPayload(data, i, 4, Number)
	case 0xcb: // float64
		return mpPayload(data, i, 8, Number)
	case 0xcc, 0xcd, 0xce, 0xcf: // uint8/16/32/64
		return mpPayload(data, i, 1<<(c-0xcc), Number)
	case 0xd0, 0xd1, 0xd2, 0xd3: // int8/16/32/64
		return mpPayload(data, i, 1<<(c-0xd0), Number)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext1/2/4/8/16: type byte, payload
		return mpPayload(data, i, 1+1<<(c-0xd4), Binary)
	case 0xd9, 0xda, 0xdb: // str8/16/32
		return mpSized(data, i, 1<<(c-0xd9), 0, String)
	case 0xdc, 0xdd: // array16/32
		n, i, ok := mpUint(data, i, 2<<(c-0xdc))
		return i, n, Array, ok
	case 0xde, 0xdf: // map16/32
		n, i, ok := mpUint(data, i, 2<<(c-0xde))
		return i, 2 * n, Object, ok
	}
	return 0, 0, Invalid, false // 0xc1 is never used
}

// mpSkip checks the value at data[i] and returns the index after it. depth is the number of
// containers open around it. The open containers' remaining element counts live in a fixed array,
// never deeper than MaxDepth.
func mpSkip(data []byte, i, depth int) (int, bool) {
	var stack [MaxDepth]uint64
	sp := 0
	left := uint64(1)
	for left > 0 {
		if i >= len(data) {
			return 0, false
		}
		next, items, kind, ok := mpHead(data, i)
		if !ok {
			return 0, false
		}
		i = next
		left--
		if kind == Object || kind == Array {
			if depth+sp >= MaxDepth || items > uint64(len(data)-i) {
				return 0, false
			}
			if items > 0 {
				stack[sp] = left
				sp++
				left = items
				continue
			}
		}
		for left == 0 && sp > 0 {
			sp--
			left = stack[sp]
		}
	}
	return i, true
}

// mpStr returns the body of the str (any str format, not bin) at data[i] and the index after it.
func mpStr(data []byte, i int) (body []byte, next int, ok bool) {
	if i >= len(data) {
		return nil, 0, false
	}
	var n uint64
	c := data[i]
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n, i = uint64(c&0x1f), i+1
	case c >= 0xd9 && c <= 0xdb:
		if n, i, ok = mpUint(data, i+1, 1<<(c-0xd9)); !ok {
			return nil, 0, false
		}
	default:
		return nil, 0, false
	}
	if uint64(len(data)-i) < n {
		return nil, 0, false
	}
	return data[i : i+int(n)], i + int(n), true
}

// mpIter walks the entries of a top-level MessagePack map whose keys must be str.
type mpIter struct {
	data []byte
	i    int
	left uint64 // entries not read yet
}

func newMPIter(data []byte) (mpIter, bool) {
	if len(data) == 0 {
		return mpIter{}, false
	}
	next, items, kind, ok := mpHead(data, 0)
	if !ok || kind != Object || items > uint64(len(data)-next) {
		return mpIter{}, false
	}
	return mpIter{data: data, i: next, left: items / 2}, true
}

// next returns the next entry. After the last one more is false and ok tells whether nothing
// follows the map. A key that is not a str, or a malformed value, ends the walk with ok false.
func (it *mpIter) next() (key, val []byte, more, ok bool) {
	if it.left == 0 {
		return nil, nil, false, it.i == len(it.data)
	}
	key, vs, ok := mpStr(it.data, it.i)
	if !ok {
		return nil, nil, false, false
	}
	i, ok := mpSkip(it.data, vs, 1)
	if !ok {
		return nil, nil, false, false
	}
	it.i = i
	it.left--
	return key, it.data[vs:i], true, true
}
