package engine

// permessage-deflate (RFC 7692) through the engine, in the style of Autobahn|Testsuite cases 12.x and
// 13.x: every parameter combination the server can negotiate, messages from 16 B to 1 MiB compressed by
// a raw client built on the standard library's compress/flate (independent of the server's
// klauspost codec), fragmented compressed messages, the examples of RFC 7692 §7.2.3, the threshold,
// the RSV rules and a decompression bomb. The raw client's codec is wstest.Deflate.

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// dfSizes are the message sizes of the echo tables: below, at and above the default threshold (256 B),
// up to the default MaxMessageSize.
var dfSizes = []int{0, 16, 64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}

// dfPolicy is a route's compression policy.
type dfPolicy struct {
	name, path string
	c          Compression
}

// dfPolicies are the server policies; every one has its own echo route in dfRoutes.
var dfPolicies = []dfPolicy{
	{"default", "/d", Compression{Enabled: true}},
	{"server-takeover", "/s", Compression{Enabled: true, ServerContextTakeover: true}},
	{"client-takeover", "/c", Compression{Enabled: true, ClientContextTakeover: true}},
	{"both-takeover", "/sc", Compression{Enabled: true, ServerContextTakeover: true, ClientContextTakeover: true}},
}

// dfOffers are the client offers of the echo tables.
var dfOffers = []string{
	"permessage-deflate",
	"permessage-deflate; client_no_context_takeover",
	"permessage-deflate; server_no_context_takeover",
	"permessage-deflate; client_max_window_bits",
}

// Exact Sec-WebSocket-Extensions answers.
const (
	dfAnsNone   = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	dfAnsServer = "permessage-deflate; client_no_context_takeover" // server keeps its context
	dfAnsClient = "permessage-deflate; server_no_context_takeover" // client keeps its context
	dfAnsBoth   = "permessage-deflate"
)

// dfAnswers[offer][policy] is the answer for dfOffers[offer] on dfPolicies[policy]: the policy allows
// a direction's context takeover, and the client's *_no_context_takeover is honoured.
var dfAnswers = [][]string{
	{dfAnsNone, dfAnsServer, dfAnsClient, dfAnsBoth},
	{dfAnsNone, dfAnsServer, dfAnsNone, dfAnsServer},
	{dfAnsNone, dfAnsNone, dfAnsClient, dfAnsClient},
	{dfAnsNone, dfAnsServer, dfAnsClient, dfAnsBoth},
}

// dfRoutes registers an echo route per dfPolicies entry and /plain (no compression).
func dfRoutes(a *App) {
	for _, p := range dfPolicies {
		c := p.c
		a.Route(p.path, Handlers{Open: echoOpen, Options: RouteOptions{Compression: &c}})
	}
	a.WS("/plain", echoOpen)
}

// dfRoundTrip sends msg compressed in frames of at most frag compressed bytes (0: one frame) and checks
// the echo: compressed when msg reaches the threshold, plain below.
func dfRoundTrip(t *testing.T, r *wstest.Raw, d *wstest.Deflate, op frame.Opcode, msg []byte, frag int) {
	t.Helper()
	r.Write(d.Frames(op, msg, frag))
	r.ExpectDeflated(d, op, msg, len(msg) >= defaultThreshold)
}

func TestDeflateNegotiation(t *testing.T) {
	_, addr := startApp(t, Config{}, dfRoutes)
	for i, offer := range dfOffers {
		for j, p := range dfPolicies {
			t.Run(p.name+"/"+offer, func(t *testing.T) {
				_, ans := dialRaw(t, addr, p.path, offer)
				if want := dfAnswers[i][j]; ans != want {
					t.Fatalf("answer %q, want %q", ans, want)
				}
			})
		}
	}
	for _, tc := range []struct {
		name, path string
		offers     []string
		want       string
	}{
		{"no offer", "/d", nil, ""},
		{"route without compression", "/plain", []string{"permessage-deflate"}, ""},
		{"other extension only", "/d", []string{"x-webkit-deflate-frame"}, ""},
		{"both no_context_takeover", "/sc", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, dfAnsNone},
		{"server_max_window_bits=15 echoed", "/d", []string{"permessage-deflate; server_max_window_bits=15"}, dfAnsNone + "; server_max_window_bits=15"},
		{"small server window accepted", "/d", []string{"permessage-deflate; server_max_window_bits=10"}, dfAnsNone + "; server_max_window_bits=10"},
		{"small server window first", "/sc", []string{"permessage-deflate; server_max_window_bits=10, permessage-deflate"}, dfAnsClient + "; server_max_window_bits=10"},
		{"small server window, server takeover route", "/s", []string{"permessage-deflate; server_max_window_bits=8"}, dfAnsNone + "; server_max_window_bits=8"},
		{"invalid server window falls back", "/sc", []string{"permessage-deflate; server_max_window_bits=16, permessage-deflate"}, dfAnsBoth},
		{"client_max_window_bits value", "/sc", []string{"permessage-deflate; client_max_window_bits=10"}, dfAnsBoth},
		{"unknown parameter falls back", "/d", []string{"permessage-deflate; foo=1", "permessage-deflate"}, dfAnsNone},
		{"after another extension", "/s", []string{"x-foo, permessage-deflate; client_max_window_bits"}, dfAnsServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ans := dialRaw(t, addr, tc.path, tc.offers...); ans != tc.want {
				t.Fatalf("offers %q on %s: answer %q, want %q", tc.offers, tc.path, ans, tc.want)
			}
		})
	}
}

// TestDeflateEcho is the Autobahn 12.x/13.x matrix: every offer on every policy, every size, text and
// binary, in one frame or fragmented (RSV1 on the first frame only; text and binary alternate), on one
// connection so that context takeover carries across all of them.
func TestDeflateEcho(t *testing.T) {
	_, addr := startApp(t, Config{MaxMessageSize: 4 << 20}, dfRoutes) // room for incompressible 1 MiB, a bit bigger compressed
	for i, offer := range dfOffers {
		for j, p := range dfPolicies {
			t.Run(p.name+"/"+offer, func(t *testing.T) {
				t.Parallel()
				r, d := dialDeflate(t, addr, p.path, offer, dfAnswers[i][j])
				for k, n := range dfSizes {
					for o, op := range []frame.Opcode{frame.OpText, frame.OpBinary} {
						frag := 0 // one frame, or five fragments: text and binary take turns
						if (k+o)%2 == 1 {
							frag = n/5 + 1
						}
						dfRoundTrip(t, r, d, op, abPayloadFor(op, n), frag)
					}
				}
				abCloseNormally(t, r)
			})
		}
	}
}

// TestDeflateFragmentedCompressed covers the shapes of fragmented compressed messages: tiny frames
// (every frame boundary inside a DEFLATE code), an empty first frame, pings between the fragments, a
// compressed message after a plain fragmented one, and plain messages between compressed ones (they
// are not part of either context).
func TestDeflateFragmentedCompressed(t *testing.T) {
	_, addr := startApp(t, Config{}, dfRoutes)
	for j, p := range dfPolicies {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			r, d := dialDeflate(t, addr, p.path, "permessage-deflate", dfAnswers[0][j])
			text := abTextPayload(3000)
			dfRoundTrip(t, r, d, frame.OpText, text, 1)
			dfRoundTrip(t, r, d, frame.OpBinary, abBinaryPayload(1000), 7)

			z := d.Compress(text)
			r.Write(abJoin(wstest.FrameRsv(false, frame.Rsv1, frame.OpText, nil), wstest.Frame(true, frame.OpContinuation, z)))
			r.ExpectDeflated(d, frame.OpText, text, true)

			z = d.Compress(text)
			r.Write(abJoin(wstest.FrameRsv(false, frame.Rsv1, frame.OpText, z[:10]), wstest.Frame(true, frame.OpPing, []byte("p1")),
				wstest.Frame(false, frame.OpContinuation, z[10:20]), wstest.Frame(true, frame.OpPing, []byte("p2")),
				wstest.Frame(true, frame.OpContinuation, z[20:])))
			abExpectPong(t, r, []byte("p1"))
			abExpectPong(t, r, []byte("p2"))
			r.ExpectDeflated(d, frame.OpText, text, true)

			plain := abTextPayload(700)
			r.Write(abFragments(frame.OpText, plain, 100))
			r.ExpectDeflated(d, frame.OpText, plain, true)
			dfRoundTrip(t, r, d, frame.OpText, text, 0)
			r.Send(true, frame.OpBinary, plain[:100])
			r.ExpectDeflated(d, frame.OpBinary, plain[:100], false)
			dfRoundTrip(t, r, d, frame.OpText, text, 0)
			abCloseNormally(t, r)
		})
	}
}

// TestDeflateThreshold checks that a route's Threshold decides which echoes are compressed, whatever
// the client sent: plain messages at or over it go out compressed, compressed ones under it go out
// plain.
func TestDeflateThreshold(t *testing.T) {
	_, addr := startApp(t, Config{}, func(a *App) {
		for _, p := range []struct {
			path string
			c    Compression
		}{
			{"/t1k", Compression{Enabled: true, Threshold: 1024}},
			{"/t1k-ct", Compression{Enabled: true, Threshold: 1024, ServerContextTakeover: true}},
			{"/t1", Compression{Enabled: true, Threshold: 1}},
		} {
			a.Route(p.path, Handlers{Open: echoOpen, Options: RouteOptions{Compression: &p.c}})
		}
	})
	for _, tc := range []struct {
		path, ans string
		limit     int
	}{{"/t1k", dfAnsNone, 1024}, {"/t1k-ct", dfAnsServer, 1024}, {"/t1", dfAnsNone, 1}} {
		t.Run(tc.path, func(t *testing.T) {
			r, d := dialDeflate(t, addr, tc.path, "permessage-deflate", tc.ans)
			for _, n := range []int{0, 1, 255, 256, 1023, 1024, 5000} {
				msg := abTextPayload(n)
				r.Write(d.Frames(frame.OpText, msg, 0))
				r.ExpectDeflated(d, frame.OpText, msg, n >= tc.limit)
				r.Send(true, frame.OpText, msg)
				r.ExpectDeflated(d, frame.OpText, msg, n >= tc.limit)
			}
			abCloseNormally(t, r)
		})
	}
}

// TestDeflateConfigCompression checks that Config.Compression applies to routes without their own, and
// that RouteOptions.Compression replaces it (a zero Compression turns it off for the route).
func TestDeflateConfigCompression(t *testing.T) {
	_, addr := startApp(t, Config{Compression: Compression{Enabled: true, Threshold: 1000}}, func(a *App) {
		a.WS("/inherit", echoOpen)
		a.Route("/off", Handlers{Open: echoOpen, Options: RouteOptions{Compression: &Compression{}}})
		a.Route("/own", Handlers{Open: echoOpen, Options: RouteOptions{Compression: &Compression{Enabled: true, ClientContextTakeover: true}}})
	})
	if _, ans := dialRaw(t, addr, "/off", "permessage-deflate"); ans != "" {
		t.Errorf("/off: answer %q, want none", ans)
	}
	for _, tc := range []struct {
		path, ans string
		threshold int
	}{{"/inherit", dfAnsNone, 1000}, {"/own", dfAnsClient, defaultThreshold}} {
		r, d := dialDeflate(t, addr, tc.path, "permessage-deflate", tc.ans)
		for _, n := range []int{500, 1500} {
			msg := abTextPayload(n)
			r.Write(d.Frames(frame.OpText, msg, 0))
			r.ExpectDeflated(d, frame.OpText, msg, n >= tc.threshold)
		}
		abCloseNormally(t, r)
	}
}

// TestDeflateSendFromGoroutine sends compressed messages from a goroutine while the loop echoes the
// client's: every message arrives once, in order per sender, and with server context takeover the
// client's single inflate context follows the wire order (the server compresses in queue order).
func TestDeflateSendFromGoroutine(t *testing.T) {
	const pushed, echoed = 100, 50
	var bg sync.WaitGroup
	open := func(ws *Conn, ctx *Context) {
		echoOpen(ws, ctx)
		bg.Add(1)
		go func() {
			defer bg.Done()
			for i := range pushed {
				_ = ws.Send(dfNumbered("g", i))
			}
		}()
	}
	t.Cleanup(bg.Wait) // after the App's shutdown, registered below
	_, addr := startApp(t, Config{}, func(a *App) {
		a.Route("/push", Handlers{Open: open, Options: RouteOptions{Compression: &Compression{Enabled: true}}})
		a.Route("/push-ct", Handlers{Open: open, Options: RouteOptions{Compression: &Compression{Enabled: true, ServerContextTakeover: true}}})
	})
	for _, tc := range []struct{ path, ans string }{{"/push", dfAnsNone}, {"/push-ct", dfAnsServer}} {
		r, d := dialDeflate(t, addr, tc.path, "permessage-deflate", tc.ans)
		for i := range echoed {
			r.Write(d.Frames(frame.OpText, []byte(dfNumbered("e", i)), 0))
		}
		next := map[byte]int{}
		for range pushed + echoed {
			op, rsv, p := r.ReadData()
			msg, err := d.Inflate(p)
			if op != frame.OpText || rsv != frame.Rsv1 || err != nil {
				t.Fatalf("%s: %v message, rsv %#x, inflate error %v", tc.path, op, rsv, err)
			}
			if want := dfNumbered(string(msg[:1]), next[msg[0]]); string(msg) != want {
				t.Fatalf("%s: got %.20q..., want %.20q...", tc.path, msg, want)
			}
			next[msg[0]]++
		}
		abCloseNormally(t, r)
	}
}

// dfNumbered is message i of a sender: its tag and number, padded to 600 bytes.
func dfNumbered(tag string, i int) string {
	s := fmt.Sprintf("%s-%03d ", tag, i)
	return s + strings.Repeat("padding ", (600-len(s))/8)
}

// TestDeflateNotNegotiatedPlain checks that the server never sets RSV1 toward a connection without the
// extension, even on a compression route.
func TestDeflateNotNegotiatedPlain(t *testing.T) {
	_, addr := startApp(t, Config{}, dfRoutes)
	for _, tc := range []struct{ path, offer string }{{"/d", ""}, {"/plain", "permessage-deflate"}} {
		r, ans := dialRaw(t, addr, tc.path, tc.offer)
		if ans != "" {
			t.Fatalf("%s: answer %q, want none", tc.path, ans)
		}
		msg := abTextPayload(4000)
		r.Send(true, frame.OpText, msg)
		abExpectEcho(t, r, frame.OpText, msg)
		abCloseNormally(t, r)
	}
}

// dfRFCHello are the compressed "Hello" payloads of RFC 7692 §7.2.3 that need no context: one block,
// the same in two frames, a stored block, two blocks, a block with BFINAL set; and the empty message.
var dfRFCHello = []struct {
	payload []byte
	frag    int
	want    string
}{
	{[]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, 0, "Hello"},
	{[]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, 3, "Hello"},
	{[]byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}, 0, "Hello"},
	{[]byte{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}, 0, "Hello"},
	{[]byte{0x00}, 0, ""},
	{[]byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, 0, "Hello"},
}

// dfRFCShared is the second message of RFC 7692 §7.2.3.2: "Hello" again, as a reference into the
// first one.
var dfRFCShared = []byte{0xf2, 0x00, 0x11, 0x00, 0x00}

// TestDeflateRFC7692Examples sends the example messages of RFC 7692 §7.2.3. The shared-window one
// decodes only where the client keeps its context; without client context takeover it refers to
// nothing and fails the connection with 1007.
func TestDeflateRFC7692Examples(t *testing.T) {
	_, addr := startApp(t, Config{}, dfRoutes)
	for _, tc := range []struct{ path, ans string }{{"/d", dfAnsNone}, {"/c", dfAnsClient}} {
		r, _ := dialDeflate(t, addr, tc.path, "permessage-deflate", tc.ans)
		for _, ex := range dfRFCHello {
			r.Write(wstest.CompressedFrames(frame.OpText, ex.payload, ex.frag))
			abExpectEcho(t, r, frame.OpText, []byte(ex.want))
		}
		msg := abTextPayload(1000) // compressed on its own: valid whatever the server's window holds
		r.Write(wstest.CompressedFrames(frame.OpText, wstest.NewDeflate(false, false).Compress(msg), 0))
		r.ExpectDeflated(wstest.NewDeflate(false, false), frame.OpText, msg, true)
		hello := wstest.CompressedFrames(frame.OpText, dfRFCHello[0].payload, 0)
		r.Write(abJoin(hello, wstest.CompressedFrames(frame.OpText, dfRFCShared, 0)))
		abExpectEcho(t, r, frame.OpText, []byte("Hello"))
		if tc.path == "/d" {
			abExpectFail(t, r, frame.CloseInvalidPayload)
			continue
		}
		abExpectEcho(t, r, frame.OpText, []byte("Hello"))
		abCloseNormally(t, r)
	}
}

// dfBadCase is a frame sequence the server must fail with code.
type dfBadCase struct {
	name, path, offer string
	frames            func(d *wstest.Deflate) []byte
	code              frame.CloseCode
}

// dfBadCases: RSV bits where they are not allowed (1002) and compressed data that does not inflate to
// a valid message (1007).
var dfBadCases = []dfBadCase{
	{"RSV1 not negotiated (no offer)", "/d", "", dfCompressedHello, frame.CloseProtocolError},
	{"RSV1 not negotiated (route off)", "/plain", "permessage-deflate", dfCompressedHello, frame.CloseProtocolError},
	{"RSV1 not negotiated (offer declined)", "/d", "permessage-deflate; server_max_window_bits=7", dfCompressedHello, frame.CloseProtocolError},
	{"RSV1 on ping", "/d", "permessage-deflate", func(*wstest.Deflate) []byte {
		return wstest.FrameRsv(true, frame.Rsv1, frame.OpPing, []byte("x"))
	}, frame.CloseProtocolError},
	{"RSV1 on pong", "/sc", "permessage-deflate", func(*wstest.Deflate) []byte {
		return wstest.FrameRsv(true, frame.Rsv1, frame.OpPong, nil)
	}, frame.CloseProtocolError},
	{"RSV1 on close", "/d", "permessage-deflate", func(*wstest.Deflate) []byte {
		return wstest.FrameRsv(true, frame.Rsv1, frame.OpClose, frame.AppendClose(nil, frame.CloseNormal, ""))
	}, frame.CloseProtocolError},
	{"RSV1 on continuation", "/d", "permessage-deflate", func(d *wstest.Deflate) []byte {
		z := d.Compress(abTextPayload(500))
		return abJoin(wstest.FrameRsv(false, frame.Rsv1, frame.OpText, z[:5]), wstest.FrameRsv(true, frame.Rsv1, frame.OpContinuation, z[5:]))
	}, frame.CloseProtocolError},
	{"RSV1 on continuation of plain", "/c", "permessage-deflate", func(d *wstest.Deflate) []byte {
		return abJoin(wstest.Frame(false, frame.OpBinary, []byte("ab")), wstest.FrameRsv(true, frame.Rsv1, frame.OpContinuation, d.Compress([]byte("cd"))))
	}, frame.CloseProtocolError},
	{"RSV2 negotiated", "/d", "permessage-deflate", func(*wstest.Deflate) []byte {
		return wstest.FrameRsv(true, frame.Rsv2, frame.OpText, []byte("x"))
	}, frame.CloseProtocolError},
	{"RSV1|RSV3 negotiated", "/s", "permessage-deflate", func(d *wstest.Deflate) []byte {
		return wstest.FrameRsv(true, frame.Rsv1|frame.Rsv3, frame.OpText, d.Compress([]byte("x")))
	}, frame.CloseProtocolError},
	{"corrupt: reserved block type", "/d", "permessage-deflate", dfRawDeflate([]byte{0x06, 0x01, 0x02}), frame.CloseInvalidPayload},
	{"corrupt: stored LEN/NLEN mismatch", "/d", "permessage-deflate", dfRawDeflate([]byte{0x00, 0x05, 0x00, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o'}), frame.CloseInvalidPayload},
	{"corrupt: distance before start", "/c", "permessage-deflate", dfRawDeflate(dfFarBackref()), frame.CloseInvalidPayload},
	{"corrupt: fragmented", "/sc", "permessage-deflate", func(*wstest.Deflate) []byte {
		return abJoin(wstest.FrameRsv(false, frame.Rsv1, frame.OpBinary, []byte{0x00, 0x05}), wstest.Frame(true, frame.OpContinuation, []byte{0x00, 0x00, 0x00}))
	}, frame.CloseInvalidPayload},
	{"inflates to invalid UTF-8", "/d", "permessage-deflate", func(d *wstest.Deflate) []byte {
		return d.Frames(frame.OpText, append(abTextPayload(300), 0xc3, 0x28), 0)
	}, frame.CloseInvalidPayload},
	{"inflates to invalid UTF-8, fragmented", "/c", "permessage-deflate", func(d *wstest.Deflate) []byte {
		return d.Frames(frame.OpText, append(abTextPayload(3000), 0xed, 0xa0, 0x80), 50)
	}, frame.CloseInvalidPayload},
}

func dfCompressedHello(d *wstest.Deflate) []byte {
	return wstest.CompressedFrames(frame.OpText, wstest.NewDeflate(false, false).Compress([]byte("hello")), 0)
}

// dfRawDeflate sends payload as one compressed binary message.
func dfRawDeflate(payload []byte) func(*wstest.Deflate) []byte {
	return func(*wstest.Deflate) []byte { return wstest.CompressedFrames(frame.OpBinary, payload, 0) }
}

// dfFarBackref is a final fixed-Huffman block whose first symbol copies 3 bytes from distance 1
// (length code 257, distance code 0) while nothing has been output yet.
func dfFarBackref() []byte { return []byte{0x03, 0x02, 0x00, 0x00} }

// TestDeflateProtocolErrors checks each dfBadCases entry, with a well-behaved compressed client on
// the same server checked before and after.
func TestDeflateProtocolErrors(t *testing.T) {
	_, addr := startApp(t, Config{}, dfRoutes)
	msg := abTextPayload(4000)
	for _, tc := range dfBadCases {
		t.Run(tc.name, func(t *testing.T) {
			good, gd := dialDeflate(t, addr, "/sc", "permessage-deflate", dfAnsBoth)
			dfRoundTrip(t, good, gd, frame.OpText, msg, 0)
			bad, ans := dialRaw(t, addr, tc.path, tc.offer)
			d := deflateCodec(ans)
			bad.Write(tc.frames(d))
			abExpectFail(t, bad, tc.code)
			dfRoundTrip(t, good, gd, frame.OpText, msg, 1000)
			abCloseNormally(t, good)
		})
	}
}

// TestDeflateIncompressibleAtLimit sends a message of exactly MaxMessageSize random bytes compressed,
// as python-websockets and gorilla do for every message: DEFLATE makes it a little longer on the wire,
// but the message is within the limit and must be echoed like its uncompressed form.
func TestDeflateIncompressibleAtLimit(t *testing.T) {
	const limit = 256 << 10
	_, addr := startApp(t, Config{MaxMessageSize: limit}, dfRoutes)
	msg := abBinaryPayload(limit)
	for _, tc := range []struct{ path, ans string }{{"/d", dfAnsNone}, {"/c", dfAnsClient}} {
		r, d := dialDeflate(t, addr, tc.path, "permessage-deflate", tc.ans)
		r.Send(true, frame.OpBinary, msg)
		r.ExpectDeflated(d, frame.OpBinary, msg, true)
		dfRoundTrip(t, r, d, frame.OpBinary, msg, 0)
		abCloseNormally(t, r)
	}
}

// dfCheckBomb checks wstest.DeflateBomb with compress/flate: a small one inflates to exactly its zeros, and the
// start of big inflates to zeros.
func dfCheckBomb(t *testing.T, big []byte) {
	t.Helper()
	const pairs = 5000
	got, err := wstest.NewDeflate(false, false).Inflate(wstest.DeflateBomb(1 + 258*pairs))
	if err != nil || len(got) != 1+258*pairs || bytes.IndexFunc(got, func(r rune) bool { return r != 0 }) >= 0 {
		t.Fatalf("small bomb: %d bytes, err %v; want %d zeros", len(got), err, 1+258*pairs)
	}
	fr := flate.NewReader(bytes.NewReader(big))
	head := make([]byte, 2<<20)
	if _, err := io.ReadFull(fr, head); err != nil || !bytes.Equal(head, make([]byte, len(head))) {
		t.Fatalf("big bomb: the first %d bytes are not zeros (err %v)", len(head), err)
	}
}

// TestDeflateBomb sends a compressed message of about 1 GiB of zeros, under 1 MiB on the wire, to a
// server with MaxMessageSize 1 MiB: it must close with 1009 after inflating about 1 MiB, so the
// process allocates nothing like 1 GiB, while a well-behaved client keeps being echoed.
func TestDeflateBomb(t *testing.T) {
	const limit = 1 << 20
	bomb := wstest.DeflateBomb(1 << 30)
	if len(bomb) >= limit {
		t.Fatalf("bomb is %d bytes compressed, want < %d", len(bomb), limit)
	}
	dfCheckBomb(t, bomb)
	_, addr := startApp(t, Config{MaxMessageSize: limit}, dfRoutes)
	for _, tc := range []struct{ path, ans string }{{"/d", dfAnsNone}, {"/c", dfAnsClient}} {
		r, d := dialDeflate(t, addr, tc.path, "permessage-deflate", tc.ans) // inflating exactly the limit is fine
		dfRoundTrip(t, r, d, frame.OpText, abTextPayload(limit), 0)
		r.Write(d.Frames(frame.OpText, abTextPayload(limit+1), 1000))
		abExpectFail(t, r, frame.CloseMessageTooBig)
	}
	msg := abTextPayload(4000)
	for _, tc := range []struct {
		name, path, ans string
		frag            int
	}{
		{"one frame", "/d", dfAnsNone, 0},
		{"fragmented", "/d", dfAnsNone, 300 << 10},
		{"client context takeover", "/c", dfAnsClient, 0},
		{"both context takeover", "/sc", dfAnsBoth, 100 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good, gd := dialDeflate(t, addr, "/d", "permessage-deflate", dfAnsNone)
			bad, _ := dialDeflate(t, addr, tc.path, "permessage-deflate", tc.ans)
			wire := wstest.CompressedFrames(frame.OpBinary, bomb, tc.frag)
			dfRoundTrip(t, good, gd, frame.OpText, msg, 0)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			stop, echoed := make(chan struct{}), make(chan error, 1)
			go func() { echoed <- good.EchoLoop([]byte("still here"), stop) }()
			bad.Write(wire)
			abExpectCloseNext(t, bad, frame.CloseMessageTooBig)
			close(stop)
			if err := <-echoed; err != nil {
				t.Fatalf("well-behaved client during the bomb: %v", err)
			}
			runtime.ReadMemStats(&after)
			grew := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %.1f MiB while the server read %d compressed bytes", float64(grew)/(1<<20), len(bomb))
			if grew > 16<<20 {
				t.Errorf("allocated %d bytes during the bomb, want < 16 MiB", grew)
			}
			abAnswerClose(t, bad)
			dfRoundTrip(t, good, gd, frame.OpText, msg, 0)
			abCloseNormally(t, good)
		})
	}
}
