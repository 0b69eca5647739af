package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// seedFrame encodes a client frame with a fixed mask key (seeds must be deterministic).
func seedFrame(fin bool, rsv uint8, op frame.Opcode, payload []byte) []byte {
	h := frame.Header{Fin: fin, Rsv: rsv, Op: op, Masked: true, Mask: [4]byte{0x37, 0xfa, 0x21, 0x3d}}
	return frame.AppendFrame(nil, h, payload)
}

func joinFrames(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// upgradeStreamSeeds are valid and invalid client streams, each with a split point.
func upgradeStreamSeeds() map[string][]byte {
	hugeLen := []byte{0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4} // 2^40 bytes announced
	return map[string][]byte{
		"empty":       nil,
		"text":        seedFrame(true, 0, frame.OpText, []byte("hello")),
		"fragmented":  joinFrames(seedFrame(false, 0, frame.OpText, []byte("hel")), seedFrame(true, 0, frame.OpPing, []byte("p")), seedFrame(true, 0, frame.OpContinuation, []byte("lo"))),
		"binary 16":   seedFrame(true, 0, frame.OpBinary, bytes.Repeat([]byte{7}, 300)),
		"close+data":  joinFrames(seedFrame(true, 0, frame.OpClose, frame.AppendClose(nil, frame.CloseNormal, "bye")), seedFrame(true, 0, frame.OpText, []byte("late"))),
		"unmasked":    wstest.Unmasked(true, frame.OpText, []byte("plain")),
		"rsv1":        seedFrame(true, frame.Rsv1, frame.OpText, []byte("x")),
		"frag ping":   seedFrame(false, 0, frame.OpPing, []byte("p")),
		"long ping":   seedFrame(true, 0, frame.OpPing, bytes.Repeat([]byte{1}, 126)),
		"lone cont":   seedFrame(true, 0, frame.OpContinuation, []byte("c")),
		"bad utf8":    seedFrame(true, 0, frame.OpText, []byte{'o', 'k', 0xff}),
		"close 1005":  seedFrame(true, 0, frame.OpClose, []byte{0x03, 0xed}),
		"close 1byte": seedFrame(true, 0, frame.OpClose, []byte{0x03}),
		"reserved op": seedFrame(true, 0, frame.Opcode(3), nil),
		"huge length": hugeLen,
		"http again":  []byte("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"),
		"text, pong":  joinFrames(seedFrame(true, 0, frame.OpText, []byte("a")), seedFrame(true, 0, frame.OpPong, nil)),
	}
}

func FuzzUpgradeStream(f *testing.F) {
	seeds := upgradeStreamSeeds()
	for _, name := range slices.Sorted(maps.Keys(seeds)) {
		data := seeds[name]
		f.Add(data, uint16(len(data)/2))
		f.Add(data, uint16(1))
	}
	cfg := Config{Loops: 2, MaxMessageSize: 64 << 10, CloseTimeout: 300 * time.Millisecond}
	_, addr := startApp(f, cfg, echoRoute)
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		out, clean := streamAfterUpgrade(t, addr, data, int(cut)%(len(data)+1))
		checkServerStream(t, out, clean)
		control := wstest.Dial(t, addr, "/echo")
		control.Send(true, frame.OpText, []byte("control"))
		control.ExpectMessage(frame.OpText, []byte("control"))
		_ = control.Conn.Close()
	})
}

// streamAfterUpgrade writes an upgrade request followed by data in two writes split at cut, half-closes
// the connection and returns what the server sent until it closed (clean: EOF rather than a reset or
// the deadline).
func streamAfterUpgrade(t *testing.T, addr string, data []byte, cut int) (out []byte, clean bool) {
	t.Helper()
	c := dialTCP(t, addr, nil)
	defer c.Close() // before the control client of this input
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	first := append([]byte(wstest.UpgradeRequest("/echo")), data[:cut]...)
	if _, err := c.Write(first); err == nil && cut < len(data) {
		_, _ = c.Write(data[cut:]) // the server may have closed already
	}
	_ = c.(*net.TCPConn).CloseWrite()
	var buf bytes.Buffer
	_, err := io.Copy(&buf, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Logf("server kept the connection open after the client's EOF (%d bytes read)", buf.Len())
	}
	return buf.Bytes(), err == nil
}

// checkServerStream checks the server's side of the conversation: a 101 answer, then well-formed
// frames (unmasked, no RSV bits, no reserved opcode, a valid close code) and nothing after a close
// frame. A truncated last frame is allowed only when the connection did not end cleanly.
func checkServerStream(t *testing.T, out []byte, clean bool) {
	t.Helper()
	head, rest, ok := bytes.Cut(out, []byte("\r\n\r\n"))
	if !ok || !strings.HasPrefix(string(head), "HTTP/1.1 101 ") {
		t.Fatalf("no 101 answer to a valid upgrade request: %.200q", out)
	}
	for closed := false; len(rest) > 0; {
		if closed {
			t.Fatalf("%d bytes after the server's close frame: %.64x", len(rest), rest)
		}
		h, size, _, err := frame.ParseHeader(rest)
		if err != nil {
			t.Fatalf("server frame header %x: %v", rest[:min(len(rest), 14)], err)
		}
		if size == 0 || int64(len(rest)-size) < h.Length {
			if clean {
				t.Fatalf("truncated server frame before a clean EOF: %x", rest)
			}
			return
		}
		if h.Masked || h.Rsv != 0 {
			t.Fatalf("server frame masked=%v rsv=%#x", h.Masked, h.Rsv)
		}
		payload := rest[size : size+int(h.Length)]
		if h.Op == frame.OpClose {
			checkServerClose(t, payload)
			closed = true
		}
		rest = rest[size+int(h.Length):]
	}
}

func checkServerClose(t *testing.T, p []byte) {
	t.Helper()
	if len(p) == 0 {
		return
	}
	if len(p) < 2 {
		t.Fatalf("server close payload of 1 byte")
	}
	if code := frame.CloseCode(binary.BigEndian.Uint16(p)); !code.ValidOnWire() {
		t.Fatalf("server close code %d is not valid on the wire", code)
	}
}
