package client

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Endpoint is a parsed ws:// URL. Its path may hold the placeholder {room}, replaced by a room number
// at each dial (RoomPath).
type Endpoint struct {
	Addr string // host:port to connect to
	Host string // Host header
	Path string // path and query, possibly with {room}
}

// RoomPlaceholder in an endpoint path is replaced by the room number of each connection.
const RoomPlaceholder = "{room}"

// ParseURL parses a ws:// URL (wss is not supported: terminate TLS in front of the server).
func ParseURL(raw string) (Endpoint, error) {
	raw = strings.ReplaceAll(raw, RoomPlaceholder, "__ROOM__")
	u, err := url.Parse(raw)
	if err != nil {
		return Endpoint{}, err
	}
	if u.Scheme != "ws" && u.Scheme != "http" {
		return Endpoint{}, fmt.Errorf("client: scheme %q: only ws:// is supported", u.Scheme)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	path = strings.ReplaceAll(path, "__ROOM__", RoomPlaceholder)
	return Endpoint{Addr: addr, Host: u.Host, Path: path}, nil
}

// RoomPath is the path with {room} replaced by room.
func (e Endpoint) RoomPath(room int) string {
	if !strings.Contains(e.Path, RoomPlaceholder) {
		return e.Path
	}
	return strings.ReplaceAll(e.Path, RoomPlaceholder, strconv.Itoa(room))
}

// String is the URL.
func (e Endpoint) String() string { return "ws://" + e.Host + e.Path }

// The handshake uses one fixed key: a load client does not need unpredictable keys, and the expected
// accept value is then computed once.
const handshakeKey = "dGhlIHNhbXBsZSBub25jZQ=="

var handshakeAccept = func() string {
	h := sha1.Sum([]byte(handshakeKey + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}()

// Dialer opens upgraded WebSocket connections.
type Dialer struct {
	// LocalIP is the source address (nil: chosen by the kernel). Each source address has its own
	// ephemeral port range, so 127.0.0.2, 127.0.0.3, ... get a load client past 64k connections.
	LocalIP net.IP
	// Timeout bounds connect plus handshake. Default 10 s.
	Timeout time.Duration
	// Header holds extra request header lines, each ending in "\r\n".
	Header string
	// ReadBuffer, when positive, sets the socket's receive buffer (SO_RCVBUF) before it connects: a
	// small one makes a client that stops reading fill the server's send path quickly (a slow
	// consumer).
	ReadBuffer int
}

// ErrHandshake wraps a refused upgrade; the message holds the status line.
var ErrHandshake = errors.New("client: upgrade refused")

// DialRaw connects and upgrades, returning the raw connection and the bytes the server sent after the
// 101 answer (copied into scratch[:n], which must hold at least 4 KiB). The connection has no deadline
// set when DialRaw returns.
func (d *Dialer) DialRaw(ctx context.Context, e Endpoint, path string, scratch []byte) (net.Conn, int, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	nc, err := d.Connect(ctx, e)
	if err != nil {
		return nil, 0, err
	}
	_ = nc.SetDeadline(time.Now().Add(timeout))
	n, err := upgrade(nc, e.Host, path, d.Header, scratch)
	if err != nil {
		_ = nc.Close()
		return nil, 0, err
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, n, nil
}

// Dial connects, upgrades and wraps the connection in a Conn.
func (d *Dialer) Dial(ctx context.Context, e Endpoint, path string) (*Conn, error) {
	c := newConn()
	nc, n, err := d.DialRaw(ctx, e, path, c.buf)
	if err != nil {
		return nil, err
	}
	c.nc, c.w = nc, n
	return c, nil
}

// Connect opens a TCP connection to e without any request, from LocalIP, with ReadBuffer applied:
// for clients that speak (or garble) HTTP themselves. Safe from any goroutine, like Dial.
func (d *Dialer) Connect(ctx context.Context, e Endpoint) (net.Conn, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	nd := net.Dialer{Timeout: timeout, Control: dialControl}
	if d.ReadBuffer > 0 {
		nd.Control = func(network, address string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, d.ReadBuffer)
			}); err != nil {
				return err
			}
			if serr != nil {
				return serr
			}
			return dialControl(network, address, rc)
		}
	}
	if d.LocalIP != nil {
		nd.LocalAddr = &net.TCPAddr{IP: d.LocalIP}
	}
	return nd.DialContext(ctx, "tcp", e.Addr)
}

// upgrade writes the upgrade request and reads the answer; leftover bytes after the header block end
// up at scratch[:n].
func upgrade(nc net.Conn, host, path, extra string, scratch []byte) (int, error) {
	req := append(scratch[:0], "GET "...)
	req = append(req, path...)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, host...)
	req = append(req, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Key: "+handshakeKey+"\r\n"...)
	req = append(req, extra...)
	req = append(req, "\r\n"...)
	if _, err := nc.Write(req); err != nil {
		return 0, err
	}
	got := 0
	for {
		m, err := nc.Read(scratch[got:])
		got += m
		if end := bytes.Index(scratch[:got], []byte("\r\n\r\n")); end >= 0 {
			if err := checkAnswer(scratch[:end]); err != nil {
				return 0, err
			}
			return copy(scratch, scratch[end+4:got]), nil
		}
		if err != nil {
			return 0, err
		}
		if got == len(scratch) {
			return 0, errors.New("client: upgrade answer header too large")
		}
	}
}

// checkAnswer checks the status line and the accept header of the answer.
func checkAnswer(head []byte) error {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 101")) {
		return fmt.Errorf("%w: %s", ErrHandshake, line)
	}
	for _, h := range bytes.Split(rest, []byte("\r\n")) {
		k, v, _ := bytes.Cut(h, []byte(":"))
		if strings.EqualFold(string(k), "Sec-WebSocket-Accept") {
			if string(bytes.TrimSpace(v)) != handshakeAccept {
				return fmt.Errorf("%w: wrong Sec-WebSocket-Accept %q", ErrHandshake, v)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: no Sec-WebSocket-Accept", ErrHandshake)
}
