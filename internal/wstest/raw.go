package wstest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
)

// Raw is a WebSocket client that writes whatever bytes a test wants (bad frames included) and reads the
// server's frames one by one, so a test can assert the exact reaction: an echo, a close code, a drop.
// Not safe for concurrent use.
type Raw struct {
	t    testing.TB
	Conn net.Conn
	br   *bufio.Reader
	// Timeout bounds each read; default 5 s.
	Timeout time.Duration
}

// DialRaw opens a TCP connection to addr without any handshake.
func DialRaw(t testing.TB, addr string) *Raw {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &Raw{t: t, Conn: c, br: bufio.NewReaderSize(c, 64<<10), Timeout: 5 * time.Second}
}

// Dial opens a connection and completes a WebSocket handshake on path; extra are header lines
// ("Name: value"). It fails the test unless the answer is 101.
func Dial(t testing.TB, addr, path string, extra ...string) *Raw {
	t.Helper()
	r := DialRaw(t, addr)
	resp := r.Upgrade(path, extra...)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade %s: status %d", path, resp.StatusCode)
	}
	return r
}

// UpgradeRequest is a valid upgrade request for path with extra header lines.
func UpgradeRequest(path string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path)
	b.WriteString("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// Upgrade sends an upgrade request and reads the HTTP answer (whatever its status).
func (r *Raw) Upgrade(path string, extra ...string) *http.Response {
	r.t.Helper()
	r.Write([]byte(UpgradeRequest(path, extra...)))
	return r.ReadResponse()
}

// ReadResponse reads one HTTP response (its body fully read).
func (r *Raw) ReadResponse() *http.Response {
	r.t.Helper()
	_ = r.Conn.SetReadDeadline(time.Now().Add(r.Timeout))
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		r.t.Fatalf("read response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}

// Write sends raw bytes.
func (r *Raw) Write(b []byte) {
	r.t.Helper()
	_ = r.Conn.SetWriteDeadline(time.Now().Add(r.Timeout))
	if _, err := r.Conn.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// WriteOrClosed writes b and reports whether the connection took it: false when the server has closed
// the socket (EPIPE, ECONNRESET), as it does right after failing a connection, while the client may
// still be sending the rest of a frame. Any other error fails the test.
func (r *Raw) WriteOrClosed(b []byte) bool {
	r.t.Helper()
	_ = r.Conn.SetWriteDeadline(time.Now().Add(r.Timeout))
	_, err := r.Conn.Write(b)
	switch {
	case err == nil:
		return true
	case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET):
		return false
	}
	r.t.Fatalf("write: %v", err)
	return false
}

// Frame encodes a masked client frame (random key).
func Frame(fin bool, op frame.Opcode, payload []byte) []byte {
	return FrameRsv(fin, 0, op, payload)
}

// FrameRsv is Frame with RSV bits.
func FrameRsv(fin bool, rsv uint8, op frame.Opcode, payload []byte) []byte {
	h := frame.Header{Fin: fin, Rsv: rsv, Op: op, Masked: true}
	_, _ = rand.Read(h.Mask[:])
	return frame.AppendFrame(nil, h, payload)
}

// Unmasked encodes a client frame without a mask (a protocol violation).
func Unmasked(fin bool, op frame.Opcode, payload []byte) []byte {
	return frame.AppendFrame(nil, frame.Header{Fin: fin, Op: op}, payload)
}

// Send writes one masked frame.
func (r *Raw) Send(fin bool, op frame.Opcode, payload []byte) {
	r.t.Helper()
	r.Write(Frame(fin, op, payload))
}

// ReadFrame reads one server frame. Server frames must be unmasked.
func (r *Raw) ReadFrame() (frame.Header, []byte, error) {
	_ = r.Conn.SetReadDeadline(time.Now().Add(r.Timeout))
	var hb [frame.MaxHeaderSize]byte
	n := 0
	for {
		h, size, need, err := frame.ParseHeader(hb[:n])
		if err != nil {
			return h, nil, err
		}
		if size > 0 {
			if h.Masked {
				return h, nil, errors.New("server frame is masked")
			}
			payload := make([]byte, h.Length)
			_, err := io.ReadFull(r.br, payload)
			return h, payload, err
		}
		if _, err := io.ReadFull(r.br, hb[n:n+need]); err != nil {
			return h, nil, err
		}
		n += need
	}
}

// ReadMessage reads frames until a whole data message (answering nothing), failing on a close frame.
func (r *Raw) ReadMessage() (frame.Opcode, []byte) {
	r.t.Helper()
	var op frame.Opcode
	var msg []byte
	for {
		h, p, err := r.ReadFrame()
		if err != nil {
			r.t.Fatalf("read frame: %v", err)
		}
		switch {
		case h.Op == frame.OpClose:
			code, reason, _ := frame.ParseClose(p)
			r.t.Fatalf("got close %d %q while waiting for a message", code, reason)
		case h.Op.IsControl():
			continue
		case h.Op != frame.OpContinuation:
			op = h.Op
		}
		msg = append(msg, p...)
		if h.Fin {
			return op, msg
		}
	}
}

// ExpectMessage reads the next data message and checks it.
func (r *Raw) ExpectMessage(op frame.Opcode, payload []byte) {
	r.t.Helper()
	gotOp, got := r.ReadMessage()
	if gotOp != op || !bytes.Equal(got, payload) {
		r.t.Fatalf("got %v message of %d bytes %.40q, want %v of %d bytes %.40q", gotOp, len(got), got, op, len(payload), payload)
	}
}

// ExpectClose reads frames until a close frame (skipping data and pongs) and checks its code.
func (r *Raw) ExpectClose(code frame.CloseCode) {
	r.t.Helper()
	got, _, err := r.ReadClose()
	if err != nil {
		r.t.Fatalf("waiting for close %d: %v", code, err)
	}
	if got != code {
		r.t.Fatalf("close code %d, want %d", got, code)
	}
}

// ReadClose reads frames until a close frame and returns its code and reason.
func (r *Raw) ReadClose() (frame.CloseCode, string, error) {
	for {
		h, p, err := r.ReadFrame()
		if err != nil {
			return 0, "", err
		}
		if h.Op == frame.OpClose {
			if len(p) < 2 {
				return frame.CloseNoStatus, "", nil
			}
			return frame.CloseCode(binary.BigEndian.Uint16(p)), string(p[2:]), nil
		}
	}
}

// ExpectEOF checks that the server closes the TCP connection (after anything still in flight).
func (r *Raw) ExpectEOF() {
	r.t.Helper()
	_ = r.Conn.SetReadDeadline(time.Now().Add(r.Timeout))
	_, err := io.Copy(io.Discard, r.br)
	if err != nil && !isReset(err) {
		r.t.Fatalf("waiting for the server to close: %v", err)
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// CloseHandshake answers the server's close (already read) with a close frame and expects EOF.
func (r *Raw) CloseHandshake(code frame.CloseCode) {
	r.t.Helper()
	r.Write(Frame(true, frame.OpClose, frame.AppendClose(nil, code, "")))
	r.ExpectEOF()
}
