package engine_test

// permessage-deflate with a server window below 32 KiB (server_max_window_bits 8 to 14, RFC 7692
// §7.1.2.1): the offer is accepted and echoed, and every compressed message the server sends such a
// client (echo, every Send path, broadcasts shared with 32 KiB-window, context-takeover and plain
// members) is decoded by wstest.InflateWindow, an RFC 1951 decoder of the test's own that fails on
// any back-reference beyond the agreed window. Go's compress/flate cannot check that: it always
// decodes with a 32 KiB window. The payloads repeat at distances up to 20,000 bytes, so an encoder
// with a 32 KiB window would refer back past every small window.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	coder "github.com/coder/websocket"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// dwWords is the vocabulary of dwText.
var dwWords = strings.Fields(`{"type":"chat", "text":"hello", "room":"lobby", "user":"alice", "user":"bob",
	"id":42, "ts":1700000000, joined left typing message websocket frame deflate héllo wörld € 𝄞 ✓ }`)

// dwText is n bytes of JSON-ish text from a small vocabulary in random order (valid UTF-8): LZ77 finds
// matches at every distance.
func dwText(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 11))
	b := make([]byte, 0, n+32)
	for len(b) < n {
		b = append(b, dwWords[r.IntN(len(dwWords))]...)
		b = append(b, ' ')
	}
	b = b[:n]
	for i := len(b) - 1; i >= 0 && i >= len(b)-3; i-- { // a rune cut at the end becomes x's
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				copy(b[i:], "xxx")
			}
			break
		}
	}
	return b
}

// dwFar is n bytes of random blocks of 20,000 bytes, each sent twice in a row: incompressible without
// back-references 20,000 bytes long, beyond every small window.
func dwFar(n int) []byte {
	b := make([]byte, 0, n)
	for i := 0; len(b) < n; i++ {
		blk := binaryPayload(20000 + i)[:20000]
		b = append(b, blk...)
		b = append(b, blk...)
	}
	return b[:n]
}

// dwSizes are the echo sizes (the threshold is 256; 64 KiB holds a repeat 20,000 bytes back). The
// broadcast tests go up to 1 MiB.
var dwSizes = []int{0, 16, 255, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10}

// dwOffer is the offer of a client asking for a server window of bits (15 included).
func dwOffer(bits int) string {
	return "permessage-deflate; server_max_window_bits=" + strconv.Itoa(bits)
}

// dwMember is a raw client that agreed a server window of bits.
type dwMember struct {
	dcRaw
	bits int
}

// newDwMember connects a raw member on path offering dwOffer(bits) (engine.DialDeflate); the answer
// must be base followed by the echoed server_max_window_bits.
func newDwMember(t *testing.T, s *dcServer, path string, bits int, base string) dwMember {
	t.Helper()
	want := base + "; server_max_window_bits=" + strconv.Itoa(bits)
	return dwMember{dcRawOf(engine.DialDeflate(t, s.addr, path, dwOffer(bits), want)), bits}
}

// next reads the next data message and checks it: op, RSV1 exactly when want reaches threshold, and,
// when compressed, a payload that decodes to want within the member's window, by InflateWindow and
// by the standard library. It returns the compressed size (0 when plain) and the decoder's stats.
func (m dwMember) next(op frame.Opcode, want []byte, threshold int) (int, wstest.WindowStats, error) {
	gotOp, rsv, p := m.r.ReadData()
	compressed := len(want) >= threshold
	if wantRsv := map[bool]uint8{true: frame.Rsv1}[compressed]; gotOp != op || rsv != wantRsv {
		return 0, wstest.WindowStats{}, fmt.Errorf("%d-byte %v message: got %v rsv %#x, want rsv %#x", len(want), op, gotOp, rsv, wantRsv)
	}
	if !compressed {
		if !bytes.Equal(p, want) {
			return 0, wstest.WindowStats{}, fmt.Errorf("%d-byte plain message differs", len(want))
		}
		return 0, wstest.WindowStats{}, nil
	}
	got, st, err := wstest.InflateWindow(p, m.bits)
	if err != nil || !bytes.Equal(got, want) {
		return len(p), st, fmt.Errorf("%d-byte message in a %d-bit window: %d bytes decoded (equal %v), stats %+v: %v",
			len(want), m.bits, len(got), bytes.Equal(got, want), st, err)
	}
	if std, err := m.d.Inflate(p); err != nil || !bytes.Equal(std, want) {
		return len(p), st, fmt.Errorf("%d-byte message: compress/flate gives %d bytes, err %v", len(want), len(std), err)
	}
	return len(p), st, nil
}

// expect is next failing the test.
func (m dwMember) expect(t *testing.T, op frame.Opcode, want []byte, threshold int) (int, wstest.WindowStats) {
	t.Helper()
	n, st, err := m.next(op, want, threshold)
	if err != nil {
		t.Fatal(err)
	}
	return n, st
}

// TestDeflateSmallWindowEcho: offers with server_max_window_bits 8 to 14 are accepted and echoed, with
// server_no_context_takeover added (also on a route that allows server context takeover); echoes of
// every size, sent plain or compressed, come back within the window, compressed from the threshold on
// and smaller than the message for text. Offering 15 still gets the 32 KiB-window encoding, which
// refers back beyond small windows: the check can tell the two apart.
func TestDeflateSmallWindowEcho(t *testing.T) {
	s := newDcServer(t)
	for _, tc := range []struct {
		path string
		bits int
		base string
	}{
		{"/echo", 8, dcAnsNone}, {"/echo", 9, dcAnsNone}, {"/echo", 10, dcAnsNone}, {"/echo", 11, dcAnsNone},
		{"/echo", 12, dcAnsNone}, {"/echo", 13, dcAnsNone}, {"/echo", 14, dcAnsNone},
		{"/echo-ct", 10, "permessage-deflate; server_no_context_takeover"},
		{"/echo-ct", 14, "permessage-deflate; server_no_context_takeover"},
	} {
		t.Run(tc.path+"/"+strconv.Itoa(tc.bits), func(t *testing.T) {
			m := newDwMember(t, s, tc.path, tc.bits, tc.base)
			for _, n := range dwSizes {
				for i, p := range []struct {
					op   frame.Opcode
					data []byte
				}{{frame.OpText, dwText(n)}, {frame.OpBinary, dwFar(n)}} {
					if i == 0 {
						m.r.Write(m.d.Frames(p.op, p.data, 0)) // compressed by the client
					} else {
						m.r.Send(true, p.op, p.data)
					}
					size, st := m.expect(t, p.op, p.data, dcThreshold)
					if p.op == frame.OpText && n >= 1<<10 && size >= n*3/4 {
						t.Errorf("%d bytes of text compressed to %d (stats %+v): want under 3/4", n, size, st)
					}
				}
			}
		})
	}
	t.Run("15 is the 32 KiB window", func(t *testing.T) {
		m := newDwMember(t, s, "/echo", 15, dcAnsNone)
		m.r.Send(true, frame.OpBinary, dwFar(64<<10))
		gotOp, rsv, p := m.r.ReadData()
		_, st, err := wstest.InflateWindow(p, 14)
		if gotOp != frame.OpBinary || rsv != frame.Rsv1 || err == nil || st.MaxDistance <= 1<<14 {
			t.Fatalf("%v rsv %#x, 14-bit decoder stats %+v err %v: want back-references beyond 16 KiB", gotOp, rsv, st, err)
		}
	})
}

// TestDeflateSmallWindowSendPaths: every way of sending (Send with a string, []byte, JSON value, a
// received Message or a built one, Event.Reply) compresses within the window.
func TestDeflateSmallWindowSendPaths(t *testing.T) {
	type reply struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	paths := engine.Handlers{Open: func(ws *engine.Conn, _ *engine.Context) {
		ws.OnMessage(func(m engine.Message) {
			_ = ws.Send(m.Text())
			_ = ws.Send(m.Data())
			_ = ws.Send(reply{"echo", m.Text()})
			_ = ws.Send(m.Text())
			_ = ws.Send(m.Data())
			_ = ws.Send(engine.NewMessage(frame.OpText, m.Data()))
			_ = ws.Send(m)
		})
	}, Options: engine.RouteOptions{Compression: &engine.Compression{Enabled: true}}}
	s := &dcServer{}
	s.app, s.addr = engine.StartApp(t, engine.Config{MaxMessageSize: 4 << 20}, func(a *engine.App) { a.Route("/paths", paths) })
	m := newDwMember(t, s, "/paths", 9, dcAnsNone)
	for _, n := range []int{100, 4 << 10, 100 << 10} {
		msg := dwText(n)
		js := fmt.Appendf(nil, `{"type":"echo","text":%q}`, msg)
		m.r.Send(true, frame.OpText, msg)
		for i, want := range []struct {
			op   frame.Opcode
			data []byte
		}{{frame.OpText, msg}, {frame.OpBinary, msg}, {frame.OpText, js}, {frame.OpText, msg},
			{frame.OpBinary, msg}, {frame.OpText, msg}, {frame.OpText, msg}} {
			if _, _, err := m.next(want.op, want.data, dcThreshold); err != nil {
				t.Fatalf("%d bytes, send path %d: %v", n, i, err)
			}
		}
	}
}

// TestDeflateSmallWindowBroadcastMixed publishes (every publishing path, sizes around the threshold up
// to 1 MiB) to a room mixing members with server windows of 8 to 14 bits (on a route without and one
// with server context takeover), members with the 32 KiB window (offering 15, or nothing), a raw plain
// member, gorilla and coder/websocket members: every member decodes every message, the small-window
// ones within their window.
func TestDeflateSmallWindowBroadcastMixed(t *testing.T) {
	s := newDcServer(t)
	var small []dwMember
	for _, bits := range []int{8, 9, 10, 12, 14} {
		small = append(small, newDwMember(t, s, "/room", bits, dcAnsNone))
	}
	small = append(small, newDwMember(t, s, "/room-ct", 11, dcAnsNone)) // server_no_context_takeover added
	full := []dcRaw{
		newDwMember(t, s, "/room", 15, dcAnsNone).dcRaw,
		dcRawOf(engine.DialDeflate(t, s.addr, "/room", "permessage-deflate", dcAnsNone)),
		dcRawOf(engine.DialDeflate(t, s.addr, "/room-ct", "permessage-deflate", dcAnsServer)),
		dcRawOf(engine.DialDeflate(t, s.addr, "/room", "", "")),
	}
	gz, _ := dcGorilla(t, s, "/room", true, new(atomic.Int64))
	cct := dcCoder(t, s, "/room-ct", coder.CompressionContextTakeover, dcAnsServer)
	members := len(small) + len(full) + 2
	dcWaitMembers(t, s.app, members)
	pubs := append(dcPubs(),
		dcPub{frame.OpText, dwText(8 << 10), string(dwText(8 << 10))},
		dcPub{frame.OpBinary, dwFar(100 << 10), dwFar(100 << 10)},
		dcPub{frame.OpText, dwText(300 << 10), nil})
	dcPublish(t, s.app, pubs, members)
	for _, m := range small {
		for i, p := range pubs {
			if _, _, err := m.next(p.op, p.data, dcThreshold); err != nil {
				t.Fatalf("%d-bit member, message %d: %v", m.bits, i, err)
			}
		}
	}
	for _, m := range full {
		for _, p := range pubs {
			m.expect(t, p.op, p.data, dcThreshold)
		}
	}
	for _, p := range pubs {
		gorillaExpect(t, gz, int(p.op), p.data)
	}
	for _, p := range pubs {
		coderExpect(t, cct, coder.MessageType(p.op), p.data)
	}
}

// dwPython is what deflate_window_client.py prints.
type dwPython struct {
	Version string `json:"websockets_version"`
	Echo    map[string]struct {
		dwNegotiated
		RoundTrips map[string]int `json:"round_trips"`
	} `json:"echo"`
	Room map[string]struct {
		dwNegotiated
		Messages []struct {
			Type   string `json:"type"`
			Bytes  int    `json:"bytes"`
			SHA256 string `json:"sha256"`
		} `json:"messages"`
	} `json:"room"`
}

type dwNegotiated struct {
	Answer     string `json:"answer"`
	WindowBits int    `json:"window_bits"`
}

// TestDeflateSmallWindowPython runs deflate_window_client.py: python3-websockets, whose zlib inflater
// is limited to the agreed window, echoes messages with server windows of 8 to 14 bits, then three of
// its clients (9, 12 and 14 bits) share a room with a raw 10-bit member, a raw 32 KiB-window member
// and a raw plain member.
func TestDeflateSmallWindowPython(t *testing.T) {
	py := pythonWithWebsockets(t)
	s := newDcServer(t)
	small := newDwMember(t, s, "/room", 10, dcAnsNone)
	raws := []dcRaw{
		dcRawOf(engine.DialDeflate(t, s.addr, "/room", "permessage-deflate", dcAnsNone)),
		dcRawOf(engine.DialDeflate(t, s.addr, "/room", "", "")),
	}
	pubs := append(dcPubs(),
		dcPub{frame.OpText, dwText(8 << 10), string(dwText(8 << 10))},
		dcPub{frame.OpBinary, dwFar(100 << 10), dwFar(100 << 10)})
	const pyMembers = 3
	out := runPythonRoom(t, py, "deflate_window_client.py", s, len(pubs), len(raws)+1+pyMembers, func() {
		dcPublish(t, s.app, pubs, len(raws)+1+pyMembers)
		for i, p := range pubs {
			if _, _, err := small.next(p.op, p.data, dcThreshold); err != nil {
				t.Errorf("raw 10-bit member, message %d: %v", i, err)
			}
		}
		for _, m := range raws {
			for _, p := range pubs {
				m.expect(t, p.op, p.data, dcThreshold)
			}
		}
	})
	var res dwPython
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("deflate_window_client.py output is not JSON: %v\n%s", err, out)
	}
	t.Logf("python websockets %s", res.Version)
	dwCheckPython(t, &res, pubs)
}

// runPythonRoom runs testdata/python/<script> against s with the number of messages it is to expect,
// calls publish once the room has members members, and returns the script's output.
func runPythonRoom(t *testing.T, py, script string, s *dcServer, messages, members int, publish func()) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // hang guard only
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/python/"+script, "ws://"+s.addr, strconv.Itoa(messages))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", script, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(2 * time.Minute) // the echoes come first
	for s.app.LocalCount(dcRoom) < members {
		select {
		case err := <-done:
			t.Fatalf("%s ended before joining the room (%v):\n%s", script, err, stderr.Bytes())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("%s did not join the room:\n%s", script, stderr.Bytes())
		}
	}
	publish()
	if err := <-done; err != nil {
		t.Fatalf("%s failed (%v):\n%s", script, err, stderr.Bytes())
	}
	return stdout.Bytes()
}

func dwCheckPython(t *testing.T, res *dwPython, pubs []dcPub) {
	t.Helper()
	for bits := 8; bits <= 14; bits++ {
		e, ok := res.Echo[strconv.Itoa(bits)]
		want := dcAnsNone + "; server_max_window_bits=" + strconv.Itoa(bits)
		if !ok || e.Answer != want || e.WindowBits != bits {
			t.Errorf("echo with %d bits: answer %q, window %d; want %q and %d", bits, e.Answer, e.WindowBits, want, bits)
		}
		for _, n := range []int{0, 16, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10} {
			for _, kind := range []string{"text", "binary"} {
				if got, ok := e.RoundTrips[kind+"-"+strconv.Itoa(n)]; !ok || got != n {
					t.Errorf("echo with %d bits: round trip %s-%d missing", bits, kind, n)
				}
			}
		}
	}
	for _, bits := range []int{9, 12, 14} {
		r := res.Room[strconv.Itoa(bits)]
		if r.WindowBits != bits || len(r.Messages) != len(pubs) {
			t.Fatalf("room member with %d bits: window %d, %d messages; want %d messages", bits, r.WindowBits, len(r.Messages), len(pubs))
		}
		for i, p := range pubs {
			m := r.Messages[i]
			sum := sha256.Sum256(p.data)
			kind := map[frame.Opcode]string{frame.OpText: "text", frame.OpBinary: "binary"}[p.op]
			if m.Type != kind || m.Bytes != len(p.data) || m.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("%d-bit member, message %d: %s of %d bytes (sha256 %.12s), want %s of %d bytes (%.12s)",
					bits, i, m.Type, m.Bytes, m.SHA256, kind, len(p.data), hex.EncodeToString(sum[:]))
			}
		}
	}
}
