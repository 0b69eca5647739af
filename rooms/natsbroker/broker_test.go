package natsbroker_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/rooms"
	"github.com/openspeed/wsd/rooms/natsbroker"
)

// TestNewOptions: defaults, and the invalid options New refuses.
func TestNewOptions(t *testing.T) {
	b, err := natsbroker.New(natsbroker.Options{})
	if err != nil {
		t.Fatalf("New with zero Options: %v", err)
	}
	if id := b.NodeID(); len(id) != 12 {
		t.Errorf("default NodeID %q, want 12 hex digits", id)
	}
	if got, want := b.Subject("a.b c"), "wsd.room.a%2Eb%20c"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	p := textPub(rooms.NewFramePool(new(frame.Pool)), "x", "m")
	b.Publish(p) // before Start: counted, not sent
	p.Release()
	if st := b.Stats(); st.PublishFailures != 1 || st.Connected || st.JetStream {
		t.Errorf("stats before Start: %+v", st)
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close before Start: %v", err)
	}
	bad := []natsbroker.Options{
		{URL: "http://127.0.0.1:4222"},
		{URL: "nats://"},
		{URL: "nats://[::1"},
		{URL: " , "},
		{Prefix: "a..b"},
		{Prefix: "wsd.*"},
		{Prefix: "w sd"},
		{NodeID: strings.Repeat("n", 256)},
		{NATS: []nats.Option{func(*nats.Options) error { return fmt.Errorf("bad option") }}},
		{History: "sometimes"},
		{Storage: "tape"},
		{Replicas: 7},
		{Stream: "a.b"},
	}
	for _, o := range bad {
		if _, err := natsbroker.New(o); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", o)
		}
	}
	if _, err := natsbroker.New(natsbroker.Options{URL: "127.0.0.1:4222, nats://h2:4222", Prefix: "acme.wsd"}); err != nil {
		t.Errorf("New with a server list: %v", err)
	}
}

// envelope builds a room message by hand, as the package documents its format.
func envelope(origin string, wire []byte) []byte {
	b := []byte{1, byte(len(origin))}
	b = append(b, origin...)
	b = append(b, 0)
	b = binary.AppendUvarint(b, uint64(len(wire)))
	return append(b, wire...)
}

// TestOwnOriginAndDecodeErrors: a message tagged with the node's own id is dropped, a malformed one is
// counted, a message from another node is delivered with its frame bytes intact.
func TestOwnOriginAndDecodeErrors(t *testing.T) {
	s := startNATS(t, -1)
	b, in := startBroker(t, s.ClientURL(), natsbroker.Options{NodeID: "me", History: natsbroker.HistoryOff})
	b.Interest("x", true)
	flush(t, &node{b: b})

	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	wire := []byte{0x81, 2, 'h', 'i'}
	subj := b.Subject("x")
	for _, data := range [][]byte{envelope("me", wire), []byte("garbage"), {1, 5, 'a'}, envelope("other", wire)} {
		if err := nc.Publish(subj, data); err != nil {
			t.Fatal(err)
		}
	}
	d := in.next(t)
	if d.room != "x" || !bytes.Equal(d.variants[0], wire) || d.variants[1] != nil {
		t.Errorf("delivered %q %q, want room x and the frame", d.room, d.variants)
	}
	waitFor(t, "4 received, 1 own dropped, 2 decode errors, 1 delivered", func() bool {
		st := b.Stats()
		return st.Received == 4 && st.DroppedOwn == 1 && st.DecodeErrors == 2 && st.Delivered == 1
	})
}

// TestInterestCoalesces: flapping Interest calls leave exactly the last state on the server.
func TestInterestCoalesces(t *testing.T) {
	s := startNATS(t, -1)
	b, _ := startBroker(t, s.ClientURL(), natsbroker.Options{})
	n := &node{b: b}
	for _, last := range []bool{true, false, true} {
		for i := range 1000 {
			b.Interest("flap", i%2 == 0)
		}
		b.Interest("flap", last)
		flush(t, n)
		want := map[bool]int{true: 1, false: 0}[last]
		if got := subsFor(t, s, b.Subject("flap")); got != want {
			t.Errorf("last Interest %v: server has %d subscriptions, want %d", last, got, want)
		}
		if got := b.Stats().Rooms; got != want {
			t.Errorf("last Interest %v: broker subscribed to %d rooms, want %d", last, got, want)
		}
	}
}

// TestRoomNamesAcrossNodes: names with subject-unsafe bytes, the empty name and names too long for a
// subject token (hashed) travel between two brokers under their own names.
func TestRoomNamesAcrossNodes(t *testing.T) {
	s := startNATS(t, -1)
	a, _ := startBroker(t, s.ClientURL(), natsbroker.Options{NodeID: "a", History: natsbroker.HistoryOff})
	b, in := startBroker(t, s.ClientURL(), natsbroker.Options{NodeID: "b", History: natsbroker.HistoryOff})
	fp := rooms.NewFramePool(new(frame.Pool))
	names := []string{"plain", "a.b", "*", ">", "with space", "100%", "#tag", "", "日本", strings.Repeat("x.", 3000)}
	for _, room := range names {
		b.Interest(room, true)
	}
	flush(t, &node{b: b})
	for i, room := range names {
		p := textPub(fp, room, fmt.Sprint(i))
		a.Publish(p)
		p.Release()
	}
	got := map[string]string{}
	for range names {
		d := in.next(t)
		got[d.room] = string(d.variants[0][2:])
	}
	for i, room := range names {
		if got[room] != fmt.Sprint(i) {
			t.Errorf("room %.20q: got payload %q, want %d", room, got[room], i)
		}
	}
}

// TestPresenceCountsFunc: counts from Options.Counts, split over several presence messages, reach the
// other node; rooms that empty disappear; Close removes the node at once.
func TestPresenceCountsFunc(t *testing.T) {
	s := startNATS(t, -1)
	var counts atomic.Pointer[map[string]int]
	big := map[string]int{}
	for i := range 3000 {
		big[fmt.Sprintf("room-%04d-%s", i, strings.Repeat("p", 40))] = i%7 + 1
	}
	counts.Store(&big)
	a, _ := startBroker(t, s.ClientURL(), natsbroker.Options{NodeID: "a", Counts: func() map[string]int { return *counts.Load() }})
	b, _ := startBroker(t, s.ClientURL(), natsbroker.Options{NodeID: "b"})
	waitFor(t, "3000 remote rooms", func() bool { return len(b.RemoteRooms()) == 3000 })
	for room, n := range big {
		if got := b.RemoteCount(room); got != n {
			t.Fatalf("RemoteCount(%s) = %d, want %d", room, got, n)
		}
	}
	if got := a.Stats().PresenceSent; got < 2 {
		t.Errorf("presence sent in %d messages, want it split", got)
	}

	small := map[string]int{"only": 2}
	counts.Store(&small)
	waitFor(t, "the smaller snapshot", func() bool {
		r := b.RemoteRooms()
		return len(r) == 1 && r["only"] == 2
	})
	if st := b.Stats(); st.Nodes != 1 {
		t.Errorf("fresh nodes %d, want 1", st.Nodes)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the goodbye", func() bool { return len(b.RemoteRooms()) == 0 && b.Stats().Nodes == 0 })
}

// TestFlushAfterClose: Flush on a closed broker fails instead of waiting.
func TestFlushAfterClose(t *testing.T) {
	s := startNATS(t, -1)
	b, _ := startBroker(t, s.ClientURL(), natsbroker.Options{})
	_ = b.Close()
	if err := b.Flush(context.Background()); err == nil {
		t.Error("Flush after Close succeeded")
	}
	if b.Connected() {
		t.Error("connected after Close")
	}
}

// TestPublishQueueFull: a broadcast that does not fit the publish queue is counted, not sent, and the
// call returns at once.
func TestPublishQueueFull(t *testing.T) {
	s := startNATS(t, -1)
	b, _ := startBroker(t, s.ClientURL(), natsbroker.Options{PublishQueue: 8, History: natsbroker.HistoryOff})
	fp := rooms.NewFramePool(new(frame.Pool))
	p := textPub(fp, "x", "more than eight bytes with the envelope")
	b.Publish(p)
	p.Release()
	flush(t, &node{b: b})
	if st := b.Stats(); st.PublishFailures != 1 || st.Published != 0 {
		t.Errorf("stats %+v, want 1 failure and nothing published", st)
	}
}

// TestHistoryDefaultsMatchEngine: the stream's default retention is the engine's default history.
func TestHistoryDefaultsMatchEngine(t *testing.T) {
	if natsbroker.DefaultHistorySize != engine.DefaultHistorySize || natsbroker.DefaultHistoryTTL != engine.DefaultHistoryTTL ||
		natsbroker.DefaultHistoryBytes != engine.DefaultHistoryBudget {
		t.Errorf("stream defaults %d, %v, %d; engine %d, %v, %d", natsbroker.DefaultHistorySize, natsbroker.DefaultHistoryTTL,
			natsbroker.DefaultHistoryBytes, engine.DefaultHistorySize, engine.DefaultHistoryTTL, engine.DefaultHistoryBudget)
	}
}
