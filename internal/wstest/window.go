package wstest

import (
	"errors"
	"fmt"
)

// WindowStats describes what InflateWindow decoded.
type WindowStats struct {
	Stored, Fixed, Dynamic int // blocks of each type (RFC 1951 BTYPE 00, 01, 10)
	Matches                int // length/distance pairs (back-references)
	MaxDistance            int // the farthest back-reference, 0 when there is none
}

// InflateWindow decodes the payload of one compressed server message (RFC 7692: raw DEFLATE ending
// with a sync flush whose 0x00 0x00 0xff 0xff the sender removed) with a decoder of its own, written
// from RFC 1951, that fails on any back-reference farther than 1<<windowBits bytes (the window the
// peer agreed with server_max_window_bits, RFC 7692 §7.1.2.1) or reaching before the start of the
// message (no context takeover). Go's compress/flate cannot make this check: it always decodes with a
// 32 KiB window. The stats say which blocks and back-references the message used.
func InflateWindow(payload []byte, windowBits int) ([]byte, WindowStats, error) {
	d := &inflater{in: append(append([]byte(nil), payload...), syncTail...), window: 1 << windowBits}
	for {
		final, err := d.block()
		if err != nil {
			return nil, d.stats, err
		}
		if final || (d.pos == len(d.in) && d.nbits == 0) {
			return d.out, d.stats, nil
		}
	}
}

// inflater is InflateWindow's decoder (in the manner of zlib's puff.c: slow, simple, strict).
type inflater struct {
	in     []byte
	pos    int    // next byte of in
	acc    uint32 // bits not yet consumed, LSB first
	nbits  uint
	out    []byte
	window int
	stats  WindowStats
}

var errTruncated = errors.New("deflate stream truncated")

// bits reads an n-bit field (LSB first).
func (d *inflater) bits(n uint) (int, error) {
	for d.nbits < n {
		if d.pos == len(d.in) {
			return 0, errTruncated
		}
		d.acc |= uint32(d.in[d.pos]) << d.nbits
		d.pos++
		d.nbits += 8
	}
	v := int(d.acc & (1<<n - 1))
	d.acc >>= n
	d.nbits -= n
	return v, nil
}

// block decodes one block; final reports BFINAL.
func (d *inflater) block() (final bool, err error) {
	hdr, err := d.bits(3)
	if err != nil {
		return false, err
	}
	final = hdr&1 == 1
	switch hdr >> 1 {
	case 0:
		d.stats.Stored++
		return final, d.stored()
	case 1:
		d.stats.Fixed++
		return final, d.codes(&fixedLit, &fixedDist)
	case 2:
		d.stats.Dynamic++
		var lit, dist huffman
		if err := d.dynamicTables(&lit, &dist); err != nil {
			return final, err
		}
		return final, d.codes(&lit, &dist)
	}
	return final, errors.New("reserved block type 11")
}

// stored copies a stored block (RFC 1951 §3.2.4).
func (d *inflater) stored() error {
	d.pos -= int(d.nbits / 8) // give back whole bytes decode read ahead, skip to the byte boundary
	d.acc, d.nbits = 0, 0
	if len(d.in)-d.pos < 4 {
		return errTruncated
	}
	n := int(d.in[d.pos]) | int(d.in[d.pos+1])<<8
	if nn := int(d.in[d.pos+2]) | int(d.in[d.pos+3])<<8; n != ^nn&0xffff {
		return errors.New("stored block LEN/NLEN mismatch")
	}
	d.pos += 4
	if len(d.in)-d.pos < n {
		return errTruncated
	}
	d.out = append(d.out, d.in[d.pos:d.pos+n]...)
	d.pos += n
	return nil
}

// huffman is a canonical Huffman code: count[l] codes of length l, symbols in code order, and a lookup
// table of the codes up to fastBits long indexed by the next fastBits input bits (symbol<<4 | length;
// 0 for longer codes).
type huffman struct {
	count  [16]int
	symbol []int
	fast   [1 << fastBits]uint16
}

const fastBits = 9

// build makes the code of lengths (0: unused symbol); it refuses over-subscribed sets.
func (h *huffman) build(lengths []int) error {
	h.count = [16]int{}
	for _, l := range lengths {
		h.count[l]++
	}
	left := 1
	for l := 1; l < 16; l++ {
		left = left<<1 - h.count[l]
		if left < 0 {
			return errors.New("over-subscribed Huffman code")
		}
	}
	var offs [16]int
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	h.symbol = make([]int, len(lengths))
	for sym, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = sym
			offs[l]++
		}
	}
	h.fill(lengths)
	return nil
}

// fill builds the lookup table from the canonical codes (RFC 1951 §3.2.2). Codes are sent MSB first
// into an LSB-first stream, so the table is indexed by the bit-reversed code.
func (h *huffman) fill(lengths []int) {
	h.fast = [1 << fastBits]uint16{}
	var next [16]int
	code := 0
	for l := 1; l < 16; l++ {
		code = (code + h.count[l-1]*btoi(l > 1)) << 1
		next[l] = code
	}
	for sym, l := range lengths {
		if l == 0 {
			continue
		}
		c := next[l]
		next[l]++
		if l > fastBits {
			continue
		}
		rev := 0
		for i := 0; i < l; i++ {
			rev = rev<<1 | (c>>i)&1
		}
		for k := rev; k < 1<<fastBits; k += 1 << l {
			h.fast[k] = uint16(sym<<4 | l)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// decode reads one symbol: from the lookup table when the code is short enough, else one bit at a time
// (codes are MSB first).
func (d *inflater) decode(h *huffman) (int, error) {
	for d.nbits < fastBits && d.pos < len(d.in) {
		d.acc |= uint32(d.in[d.pos]) << d.nbits
		d.pos++
		d.nbits += 8
	}
	if e := h.fast[d.acc&(1<<fastBits-1)]; e != 0 && uint(e&15) <= d.nbits {
		d.acc >>= e & 15
		d.nbits -= uint(e & 15)
		return int(e >> 4), nil
	}
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		b, err := d.bits(1)
		if err != nil {
			return 0, err
		}
		code |= b
		count := h.count[l]
		if code-count < first {
			return h.symbol[index+code-first], nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, errors.New("invalid Huffman code")
}

var (
	lenBase  = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra = [29]uint{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase = [30]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distXtra = [30]uint{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder  = [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

	fixedLit, fixedDist = fixedTables()
)

// fixedTables are the codes of BTYPE 01 (RFC 1951 §3.2.6).
func fixedTables() (lit, dist huffman) {
	var l [288]int
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	var dl [30]int
	for i := range dl {
		dl[i] = 5
	}
	_ = lit.build(l[:])
	_ = dist.build(dl[:])
	return lit, dist
}

// dynamicTables reads the code definitions of a BTYPE 10 block (RFC 1951 §3.2.7).
func (d *inflater) dynamicTables(lit, dist *huffman) error {
	var hdr [3]int
	for i, n := range []uint{5, 5, 4} {
		v, err := d.bits(n)
		if err != nil {
			return err
		}
		hdr[i] = v
	}
	nlen, ndist, ncode := hdr[0]+257, hdr[1]+1, hdr[2]+4
	if nlen > 286 || ndist > 30 {
		return errors.New("bad dynamic block counts")
	}
	var cl [19]int
	for i := 0; i < ncode; i++ {
		v, err := d.bits(3)
		if err != nil {
			return err
		}
		cl[clOrder[i]] = v
	}
	var clCode huffman
	if err := clCode.build(cl[:]); err != nil {
		return err
	}
	lengths, err := d.codeLengths(&clCode, nlen+ndist)
	if err != nil {
		return err
	}
	if lengths[256] == 0 {
		return errors.New("no end-of-block code")
	}
	if err := lit.build(lengths[:nlen]); err != nil {
		return err
	}
	return dist.build(lengths[nlen:])
}

// codeLengths reads n code lengths coded with clCode (symbols 16, 17, 18 repeat).
func (d *inflater) codeLengths(clCode *huffman, n int) ([]int, error) {
	lengths := make([]int, 0, n)
	for len(lengths) < n {
		sym, err := d.decode(clCode)
		if err != nil {
			return nil, err
		}
		if sym < 16 {
			lengths = append(lengths, sym)
			continue
		}
		val, extra, base := 0, uint(2), 3
		switch sym {
		case 16:
			if len(lengths) == 0 {
				return nil, errors.New("repeat with no previous length")
			}
			val = lengths[len(lengths)-1]
		case 17:
			extra = 3
		default:
			extra, base = 7, 11
		}
		rep, err := d.bits(extra)
		if err != nil {
			return nil, err
		}
		if len(lengths)+base+rep > n {
			return nil, errors.New("code lengths overflow")
		}
		for i := 0; i < base+rep; i++ {
			lengths = append(lengths, val)
		}
	}
	return lengths, nil
}

// codes decodes the data of a Huffman block, checking every distance against the window.
func (d *inflater) codes(lit, dist *huffman) error {
	for {
		sym, err := d.decode(lit)
		switch {
		case err != nil:
			return err
		case sym < 256:
			d.out = append(d.out, byte(sym))
			continue
		case sym == 256:
			return nil
		case sym > 285:
			return fmt.Errorf("invalid length symbol %d", sym)
		}
		if err := d.match(sym-257, dist); err != nil {
			return err
		}
	}
}

// match copies one length/distance pair whose length code is li.
func (d *inflater) match(li int, dist *huffman) error {
	ext, err := d.bits(lenExtra[li])
	if err != nil {
		return err
	}
	length := lenBase[li] + ext
	di, err := d.decode(dist)
	if err != nil {
		return err
	}
	if di > 29 {
		return fmt.Errorf("invalid distance symbol %d", di)
	}
	if ext, err = d.bits(distXtra[di]); err != nil {
		return err
	}
	distance := distBase[di] + ext
	d.stats.Matches++
	d.stats.MaxDistance = max(d.stats.MaxDistance, distance)
	switch {
	case distance > d.window:
		return fmt.Errorf("back-reference %d bytes back, beyond the %d-byte window", distance, d.window)
	case distance > len(d.out):
		return fmt.Errorf("back-reference %d bytes back, before the start of the message (%d bytes)", distance, len(d.out))
	}
	for i := 0; i < length; i++ {
		d.out = append(d.out, d.out[len(d.out)-distance])
	}
	return nil
}
