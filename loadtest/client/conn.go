package client

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"github.com/openspeed/wsd/frame"
)

// CloseError is returned by reads after the server sent a close frame (which the Conn answered).
type CloseError struct {
	Code   frame.CloseCode
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("client: closed by server: %d %s", e.Code, e.Reason)
}

// ErrFrameTooLarge: a server frame announced more than MaxFrame bytes.
var ErrFrameTooLarge = errors.New("client: server frame too large")

// MaxFrame caps the payload of one server frame the Conn buffers.
const MaxFrame = 16 << 20

// Conn is one client WebSocket connection over a raw net.Conn. Reads and writes may run on two
// goroutines (one each); ReadFrame answers pings itself, so reader and writer then share the socket
// for writes: WriteMessage and the pong of ReadFrame must not race. Use Write with a prebuilt Message
// from the single writer, or read and write from one goroutine (as the echo and broadcast workers do).
type Conn struct {
	nc   net.Conn
	buf  []byte // read buffer: unread bytes are buf[r:w]
	r, w int
	key  [4]byte
	ctl  []byte // scratch for control frames
	msg  []byte // reassembled fragmented message

	closing atomic.Bool // SendClose ran: the server's close frame is the answer, not answered again
}

func newConn() *Conn {
	return &Conn{buf: make([]byte, 4096), key: NewKey()}
}

// NewKey returns a random masking key.
func NewKey() [4]byte {
	var k [4]byte
	binary.LittleEndian.PutUint32(k[:], rand.Uint32())
	return k
}

// Key is the connection's masking key (for prebuilt Messages).
func (c *Conn) Key() [4]byte { return c.key }

// NetConn is the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Write writes raw bytes (a prebuilt masked frame).
func (c *Conn) Write(b []byte) error {
	_, err := c.nc.Write(b)
	return err
}

// WriteMessage masks payload into a new frame and writes it (allocates only when the scratch grows).
func (c *Conn) WriteMessage(op frame.Opcode, payload []byte) error {
	c.ctl = AppendFrame(c.ctl[:0], op, payload, c.key)
	return c.Write(c.ctl)
}

// fill makes at least n unread bytes available in buf[r:w].
func (c *Conn) fill(n int) error {
	if c.w-c.r >= n {
		return nil
	}
	if c.r+n > len(c.buf) {
		if n > len(c.buf) {
			nb := make([]byte, max(n, 2*len(c.buf)))
			c.w = copy(nb, c.buf[c.r:c.w])
			c.buf = nb
		} else {
			c.w = copy(c.buf, c.buf[c.r:c.w])
		}
		c.r = 0
	}
	for c.w-c.r < n {
		m, err := c.nc.Read(c.buf[c.w:])
		c.w += m
		if err != nil && c.w-c.r < n {
			return err
		}
	}
	return nil
}

// ReadFrame returns the next data frame (text, binary or continuation); payload is valid until the next
// read. Pings are answered, pongs skipped; a close frame is answered and returned as *CloseError.
func (c *Conn) ReadFrame() (op frame.Opcode, fin bool, payload []byte, err error) {
	for {
		h, p, err := c.next()
		if err != nil {
			return 0, false, nil, err
		}
		switch h.op {
		case OpPing:
			if err := c.WriteMessage(OpPong, p); err != nil {
				return 0, false, nil, err
			}
		case OpPong:
		case OpClose:
			return 0, false, nil, c.answerClose(p)
		default:
			return h.op, h.fin, p, nil
		}
	}
}

// next reads one frame.
func (c *Conn) next() (header, []byte, error) {
	if err := c.fill(2); err != nil {
		return header{}, nil, err
	}
	h, ok, err := parseHeader(c.buf[c.r:c.w])
	for !ok && err == nil {
		if err = c.fill(c.w - c.r + 1); err != nil {
			return header{}, nil, err
		}
		h, ok, err = parseHeader(c.buf[c.r:c.w])
	}
	if err != nil {
		return header{}, nil, err
	}
	if h.n > MaxFrame {
		return header{}, nil, ErrFrameTooLarge
	}
	if err := c.fill(h.size + h.n); err != nil {
		return header{}, nil, err
	}
	p := c.buf[c.r+h.size : c.r+h.size+h.n]
	c.r += h.size + h.n
	return h, p, nil
}

// Frame is one server frame as NextFrame returns it.
type Frame struct {
	Op      frame.Opcode
	Fin     bool
	Payload []byte // valid until the next read
}

// NextFrame returns the next frame of any opcode as it came, answering nothing: for clients that
// decide themselves whether to answer pings and close frames (a peer that never answers, a flood).
// Call it from the connection's reading goroutine, like ReadFrame.
func (c *Conn) NextFrame() (Frame, error) {
	h, p, err := c.next()
	if err != nil {
		return Frame{}, err
	}
	return Frame{Op: h.op, Fin: h.fin, Payload: p}, nil
}

// ParseClose splits a close frame's payload into its code (CloseNoStatus when empty) and reason. Safe
// from any goroutine.
func ParseClose(p []byte) (frame.CloseCode, string) {
	if len(p) < 2 {
		return frame.CloseNoStatus, ""
	}
	return frame.CloseCode(binary.BigEndian.Uint16(p)), string(p[2:])
}

// ReadMessage returns the next whole message, reassembling fragments (payload valid until the next read).
func (c *Conn) ReadMessage() (frame.Opcode, []byte, error) {
	op, fin, p, err := c.ReadFrame()
	if err != nil || fin {
		return op, p, err
	}
	c.msg = append(c.msg[:0], p...)
	for !fin {
		_, fin, p, err = c.ReadFrame()
		if err != nil {
			return 0, nil, err
		}
		c.msg = append(c.msg, p...)
	}
	return op, c.msg, nil
}

// answerClose echoes the server's close code and returns it as a *CloseError.
func (c *Conn) answerClose(p []byte) error {
	ce := &CloseError{}
	ce.Code, ce.Reason = ParseClose(p)
	if c.closing.Load() {
		return ce
	}
	code := ce.Code
	if code == frame.CloseNoStatus {
		code = 0
	}
	c.ctl = AppendClose(c.ctl[:0], code, "", c.key)
	_ = c.Write(c.ctl)
	return ce
}

// Close runs the closing handshake: sends close 1000, waits up to timeout for the server's close frame
// or EOF, then closes the socket. Not concurrent with a reader goroutine.
func (c *Conn) Close(timeout time.Duration) error {
	c.ctl = AppendClose(c.ctl[:0], frame.CloseNormal, "", c.key)
	err := c.Write(c.ctl)
	if err == nil {
		_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
		for err == nil {
			_, _, err = c.next()
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	if cerr := c.nc.Close(); err == nil {
		err = cerr
	}
	return err
}

// SendClose sends a close frame (1000) and may run while another goroutine reads: that reader then gets
// the server's answering close frame as *CloseError (and does not answer it), or EOF.
func (c *Conn) SendClose() error {
	c.closing.Store(true)
	return c.Write(AppendClose(nil, frame.CloseNormal, "", c.key))
}

// Abort closes the socket without a closing handshake.
func (c *Conn) Abort() error { return c.nc.Close() }

// Reset closes the socket with an RST instead of a FIN (SO_LINGER 0): an abrupt peer death. Like
// Abort, from any goroutine.
func (c *Conn) Reset() error { return Reset(c.nc) }

// Reset closes nc with an RST (SO_LINGER 0) when it is a TCP connection, else just closes it. From
// any goroutine.
func Reset(nc net.Conn) error {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	return nc.Close()
}
