package natsbroker

import (
	"bytes"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/rooms"
)

func frames(fp *rooms.FramePool, payloads ...string) [maxVariants]*rooms.Frame {
	var fs [maxVariants]*rooms.Frame
	for i, p := range payloads {
		if p == "" {
			continue
		}
		buf := fp.Buffer()
		buf.B = append(buf.B, p...)
		fs[i] = fp.Finish(buf, frame.OpText)
	}
	return fs
}

func TestEnvelopeRoundTrip(t *testing.T) {
	fp := rooms.NewFramePool(new(frame.Pool))
	for _, payloads := range [][]string{{"json"}, {"json", "msgpack"}, {"", "only-second"}, {string(make([]byte, 70000))}} {
		fs := frames(fp, payloads...)
		data := appendEnvelope(nil, "node-1", fs)
		if len(data) > envelopeSize("node-1", fs) {
			t.Errorf("envelope of %d bytes over its bound %d", len(data), envelopeSize("node-1", fs))
		}
		variants := make([][]byte, maxVariants)
		origin, err := decodeEnvelope(data, variants)
		if err != nil || string(origin) != "node-1" {
			t.Fatalf("decode: %q, %v", origin, err)
		}
		for i, f := range fs {
			var want []byte
			if f != nil {
				want = f.Wire()
			}
			if !bytes.Equal(variants[i], want) || (want == nil) != (variants[i] == nil) {
				t.Errorf("variant %d: got %d bytes, want %d", i, len(variants[i]), len(want))
			}
			if f != nil {
				f.Release(1)
			}
		}
	}
}

func TestEnvelopeDecodeErrors(t *testing.T) {
	variants := make([][]byte, maxVariants)
	for _, data := range [][]byte{
		nil,
		{2, 0, 0, 1, 'x'},      // unknown version
		{1, 5, 'a', 'b'},       // origin cut short
		{1, 0},                 // no variant
		{1, 0, 0, 5, 'x'},      // variant cut short
		{1, 0, 0, 0x80},        // bad uvarint
		{1, 1, 'n', 7, 1, 'x'}, // only a variant the receiver does not know
	} {
		if _, err := decodeEnvelope(data, variants); err == nil {
			t.Errorf("decode %v succeeded", data)
		}
	}
	origin, err := decodeEnvelope([]byte{1, 1, 'n', 7, 1, 'x', 0, 1, 'y'}, variants)
	if err != nil || string(origin) != "n" || string(variants[0]) != "y" {
		t.Errorf("unknown variant not skipped: %q %q %v", origin, variants, err)
	}
}

func TestEnvelopeDecodeAllocs(t *testing.T) {
	data := []byte{1, 1, 'n', 0, 2, 0x81, 0, 1, 2, 0x82, 0}
	variants := make([][]byte, maxVariants)
	if n := testing.AllocsPerRun(100, func() { _, _ = decodeEnvelope(data, variants) }); n != 0 {
		t.Errorf("decodeEnvelope allocates %v times", n)
	}
}

// presenceReports encodes one snapshot of counts as the chunks the broker would publish.
func presenceReports(node string, epoch uint64, counts map[string]int) [][]byte {
	var out [][]byte
	e := presenceEncoder{node: node, epoch: epoch, emit: func(b []byte) { out = append(out, append([]byte(nil), b...)) }}
	for room, n := range counts {
		e.add(room, n)
	}
	e.finish()
	return out
}

func applyAll(t *testing.T, p *presence, reports [][]byte, now time.Time) {
	t.Helper()
	for _, r := range reports {
		h, entries, err := decodePresence(r)
		if err != nil {
			t.Fatalf("decode presence: %v", err)
		}
		p.apply(h, entries, now)
	}
}

func TestPresenceSnapshots(t *testing.T) {
	p := newPresence("self", time.Second)
	now := time.Now()
	big := map[string]int{}
	for i := range 2000 {
		big[string(rune('a'+i%26))+string(make([]byte, 30))+string(rune(i))] = 2
	}
	reports := presenceReports("a", 1, big)
	if len(reports) < 2 {
		t.Fatalf("2000 rooms fit in %d report", len(reports))
	}
	applyAll(t, p, reports[:len(reports)-1], now)
	if len(p.rooms(now)) != 0 {
		t.Error("an incomplete snapshot is visible")
	}
	applyAll(t, p, reports[len(reports)-1:], now)
	if got := len(p.rooms(now)); got != len(big) {
		t.Errorf("%d rooms after the last chunk, want %d", got, len(big))
	}
	applyAll(t, p, presenceReports("b", 9, map[string]int{"x": 3}), now)
	applyAll(t, p, presenceReports("self", 9, map[string]int{"x": 100}), now)
	applyAll(t, p, presenceReports("a", 2, map[string]int{"x": 1, "gone": 0}), now)
	if got := p.count("x", now); got != 4 {
		t.Errorf("count(x) = %d, want 4 (own report ignored)", got)
	}
	if got := p.rooms(now); len(got) != 1 {
		t.Errorf("rooms = %v, want only x", got)
	}
	if got := p.count("x", now.Add(2*time.Second)); got != 0 {
		t.Errorf("count after the TTL = %d, want 0", got)
	}
	var bye [][]byte
	e := presenceEncoder{node: "b", emit: func(b []byte) { bye = append(bye, append([]byte(nil), b...)) }}
	e.bye()
	applyAll(t, p, bye, now)
	if got := p.count("x", now); got != 1 || p.fresh(now) != 1 {
		t.Errorf("after b's bye: count %d, fresh nodes %d; want 1, 1", got, p.fresh(now))
	}
	p.sweep(now.Add(2 * time.Second))
	if p.fresh(now) != 0 {
		t.Error("sweep kept a silent node")
	}
}

func TestPresenceDecodeErrors(t *testing.T) {
	for _, data := range [][]byte{nil, {2, 1, 0, 0, 0}, {1, 1, 4, 'a'}, {1, 1, 0}, {1, 1, 0, 1, 1, 5, 'x'}, {1, 1, 0, 1, 1, 1, 'x'}} {
		if _, _, err := decodePresence(data); err == nil {
			t.Errorf("decodePresence(%v) succeeded", data)
		}
	}
}
