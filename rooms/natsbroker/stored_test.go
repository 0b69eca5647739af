package natsbroker

import (
	"bytes"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/rooms"
)

// sinkIn is a minimal Inbound for decoding stored messages.
type sinkIn struct{ fp *rooms.FramePool }

func (s sinkIn) NewPub(room string) *rooms.Pub      { p := new(rooms.Pub); p.Room = room; return p }
func (s sinkIn) FromWire(w []byte) *rooms.Frame     { return s.fp.FromWire(w) }
func (s sinkIn) Deliver(p *rooms.Pub)               { p.Release() }
func (s sinkIn) PresenceEvent(rooms.PresenceChange) {}
func (s sinkIn) Sync(string, rooms.Position, error) {}

func storedMsg(seq, first, epoch string, data []byte) *nats.Msg {
	m := &nats.Msg{Header: nats.Header{}, Data: data}
	m.Header.Set(hdrSequence, seq)
	m.Header.Set(hdrOffset, first)
	m.Header.Set(hdrEpoch, epoch)
	return m
}

func TestStoredRoundTrip(t *testing.T) {
	fp := rooms.NewFramePool(new(frame.Pool))
	in := sinkIn{fp}
	var pubs []*rooms.Pub
	for _, payloads := range [][]string{{"a"}, {"json", "msgpack"}, {string(make([]byte, 70000))}} {
		fs := frames(fp, payloads...)
		p := in.NewPub("r")
		p.Main, p.Alt = fs[0], fs[1]
		pubs = append(pubs, p)
	}
	defer releaseAll(pubs)
	head := storedHead{origin: "node-1", batch: 42, at: 123456789}
	data := appendStored(nil, head, pubs)
	if len(data) > storedSize(head, pubs) {
		t.Fatalf("%d bytes over the bound %d", len(data), storedSize(head, pubs))
	}
	st, err := decodeStored(storedMsg("9", "5", "E", data))
	if err != nil || st.seq != 9 || st.first != 5 || st.count != 3 || st.last() != 7 || string(st.origin) != "node-1" ||
		st.batch != 42 || st.at != 123456789 || st.epoch != "E" {
		t.Fatalf("decoded %+v, %v", st, err)
	}
	got := pubsOf(in, "r", &st, make([][]byte, maxVariants))
	defer releaseAll(got)
	for i, p := range got {
		if p.Position != (rooms.Position{Offset: 5 + uint64(i), Epoch: "E"}) || !bytes.Equal(p.Main.Wire(), pubs[i].Main.Wire()) ||
			(pubs[i].Alt == nil) != (p.Alt == nil) || p.Origin != "node-1" {
			t.Fatalf("publication %d: %+v", i, p.Position)
		}
	}
	marker, err := decodeStored(storedMsg("3", "1", "E", appendStored(nil, storedHead{origin: "n"}, nil)))
	if err != nil || marker.count != 0 || marker.last() != 0 {
		t.Fatalf("marker %+v, %v", marker, err)
	}
}

func TestStoredDecodeErrors(t *testing.T) {
	good := appendStored(nil, storedHead{origin: "n"}, nil)
	for _, m := range []*nats.Msg{
		storedMsg("", "1", "E", good),
		storedMsg("1", "0", "E", good),
		storedMsg("1", "1", "", good),
		storedMsg("1", "2", "E", good), // a marker must start at offset 1
		storedMsg("1", "1", "E", []byte{1, 0}),
		storedMsg("1", "1", "E", []byte{2, 9, 'n'}),
		storedMsg("1", "1", "E", []byte{2, 0, 0x80}),
		storedMsg("1", "1", "E", []byte{2, 0, 1, 1, 5}), // 5 publications in no bytes
	} {
		if _, err := decodeStored(m); err == nil {
			t.Errorf("decodeStored(%v %v) succeeded", m.Header, m.Data)
		}
	}
	st, _ := decodeStored(storedMsg("1", "1", "E", []byte{2, 0, 1, 1, 1, 9}))
	if pubs := pubsOf(sinkIn{rooms.NewFramePool(new(frame.Pool))}, "r", &st, make([][]byte, maxVariants)); pubs != nil {
		t.Error("a truncated publication decoded")
	}
}
