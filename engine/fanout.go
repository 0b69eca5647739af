package engine

import (
	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/rooms"
)

// A connection receives publications in one variant, fixed at its upgrade (Conn.mode): the codec of a
// structured value, whether the frame is compressed once for everyone (permessage-deflate without
// server context takeover), and the route's Render (the envelope a route wraps publications in).
// The room table builds each variant its members need once per publication.
const (
	variantMsgPack  uint8 = 1 << 0
	variantDeflate  uint8 = 1 << 1 // compressed with a 32 KiB window
	variantHuffman  uint8 = 1 << 2 // compressed Huffman-only: no back-references, fits every window
	variantRenderSh       = 3      // render index (1..maxRenders) in the bits from here
	maxRenders            = rooms.MaxVariants>>variantRenderSh - 1
)

// member is a *Conn as the room table sees it.
type member struct{ c *Conn }

// LoopIndex implements rooms.Member.
func (m member) LoopIndex() int { return m.c.loop.idx }

// Membership implements rooms.Member.
func (m member) Membership() *rooms.Membership[member] { return &m.c.ms }

// Variant implements rooms.Member.
func (m member) Variant() uint8 { return m.c.variant() }

// Presence implements rooms.Member.
func (m member) Presence() (rooms.Client, bool) {
	c := m.c
	if c.route == nil || !c.route.opts.Presence {
		return rooms.Client{}, false
	}
	return rooms.Client{User: c.user(), Conn: c.connID()}, true
}

// variant is the publication variant the connection receives.
func (c *Conn) variant() uint8 {
	v := uint8(c.codecIdx())
	switch c.mode & (modeDeflate | modeServerTakeover | modeSmallWindow) {
	case modeDeflate:
		v |= variantDeflate
	case modeDeflate | modeSmallWindow:
		v |= variantHuffman // a small window never gets a 32 KiB-window frame
	}
	if c.route != nil {
		v |= c.route.render << variantRenderSh
	}
	return v
}

// fanout is the engine side of the room table.
type fanout struct{ a *App }

// Prepare implements rooms.Fanout.
func (f fanout) Prepare(p *rooms.Pub, variants []uint8) {
	for _, v := range variants {
		f.a.prepare(p, v)
	}
}

// prepare builds (once) the frame of variant v of p and returns it.
func (a *App) prepare(p *rooms.Pub, v uint8) *rooms.Frame {
	if f := p.Frames[v]; f != nil {
		return f
	}
	var f *rooms.Frame
	switch {
	case p.Presence != nil && (v>>variantRenderSh == 0 || !a.renders[v>>variantRenderSh-1].presence):
		return nil // a presence event, for a route that does not render them
	case v&(variantDeflate|variantHuffman) != 0:
		plain := a.prepare(p, v&^(variantDeflate|variantHuffman))
		if plain == nil {
			return nil
		}
		if len(plain.Payload()) < int(a.minThreshold.Load()) {
			plain.Retain(1) // too short for any route to compress
			f = plain
		} else {
			buf := a.frames.Buffer()
			if v&variantHuffman != 0 {
				buf.B = a.deflate.CompressHuffman(buf.B, plain.Payload())
			} else {
				buf.B = a.deflate.Compress(buf.B, plain.Payload())
			}
			f = a.frames.FinishRsv(buf, plain.Opcode(), frame.Rsv1)
		}
	case v>>variantRenderSh != 0:
		f = a.render(p, v)
	default:
		f = p.Main
		if v&variantMsgPack != 0 && p.Alt != nil {
			f = p.Alt
		}
		f.Retain(1)
	}
	p.Frames[v] = f
	return f
}

// render builds the frame of a route that wraps publications (RouteOptions.Render).
func (a *App) render(p *rooms.Pub, v uint8) *rooms.Frame {
	pub := Publication{Room: p.Room, Position: p.Position}
	if ch := p.Presence; ch != nil {
		pub.Presence, pub.Joined = &ch.Client, ch.Joined
	}
	if p.Presence == nil {
		base := a.prepare(p, v&variantMsgPack)
		pub.Message = NewMessage(base.Opcode(), base.Payload())
	}
	fn := a.renders[v>>variantRenderSh-1].fn
	buf := a.frames.Buffer()
	var op Opcode
	buf.B, op = fn(buf.B, pub)
	if op != OpText && op != OpBinary {
		op = OpText
	}
	return a.frames.Finish(buf, op)
}

// Deliver implements rooms.Fanout.
func (f fanout) Deliver(loop int, members []member, skip member, hasSkip bool, p *rooms.Pub) int {
	loops := f.a.loopList()
	if loop >= len(loops) {
		return 0
	}
	var s *Conn
	if hasSkip {
		s = skip.c
	}
	return loops[loop].enqueueFrames(members, s, p, itemData)
}

// Replay implements rooms.Fanout: a recovered publication is never dropped by the slow-consumer
// policy (what it costs is bounded by the room's history).
func (f fanout) Replay(m member, p *rooms.Pub) {
	m.c.loop.enqueueFrames([]member{m}, nil, p, itemKeep)
}

// frameFor picks the frame of p that c receives: its variant, or the plain one when the message is
// under the route's compression threshold.
func (c *Conn) frameFor(p *rooms.Pub) *rooms.Frame {
	v := c.variant()
	f := p.Frames[v]
	if v&(variantDeflate|variantHuffman) != 0 && f != nil && f.Rsv() != 0 {
		if plain := p.Frames[v&^(variantDeflate|variantHuffman)]; plain != nil &&
			len(plain.Payload()) < c.route.compress.Threshold {
			return plain
		}
	}
	return f
}
