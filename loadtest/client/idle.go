package client

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/openspeed/wsd/frame"
)

// IdlePool holds silent connections without a goroutine or a buffer per connection: only the socket.
// Sweep, called every few seconds, drains each socket without blocking and answers the server's pings,
// so heartbeat timeouts do not close the connections.
type IdlePool struct {
	mu    sync.Mutex
	conns []*idleConn
	key   [4]byte
}

type idleConn struct {
	nc   net.Conn
	rc   syscall.RawConn
	pend []byte // a frame split across sweeps (rare; nil otherwise)
	skip int    // data payload bytes still to discard
	dead bool
}

// NewIdlePool returns an empty pool.
func NewIdlePool() *IdlePool { return &IdlePool{key: NewKey()} }

// Add puts an upgraded connection into the pool. leftover holds bytes already read after the 101
// answer (parsed at the next sweep).
func (p *IdlePool) Add(nc net.Conn, leftover []byte) error {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return errors.New("client: idle pool needs a socket connection")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	ic := &idleConn{nc: nc, rc: rc}
	if len(leftover) > 0 {
		ic.pend = append([]byte(nil), leftover...)
	}
	p.mu.Lock()
	p.conns = append(p.conns, ic)
	p.mu.Unlock()
	return nil
}

// Len is the number of connections in the pool (including ones found dead but not yet removed).
func (p *IdlePool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// SweepStats counts what a sweep saw.
type SweepStats struct {
	Alive, Closed, Pings, Messages int
}

// Sweep reads whatever each connection has pending, without blocking: pings are answered, data
// messages counted and discarded; connections closed by the server are removed. buf is scratch
// (64 KiB is plenty).
func (p *IdlePool) Sweep(buf []byte) SweepStats {
	p.mu.Lock()
	conns := p.conns
	p.mu.Unlock()
	var st SweepStats
	out := []byte(nil)
	for _, c := range conns {
		out = c.sweep(buf, out[:0], p.key, &st)
	}
	p.mu.Lock()
	live := p.conns[:0]
	for _, c := range p.conns {
		if c.dead {
			st.Closed++
			continue
		}
		live = append(live, c)
	}
	clear(p.conns[len(live):])
	p.conns = live
	st.Alive = len(live)
	p.mu.Unlock()
	return st
}

// sweep drains one connection. out is scratch for replies.
func (c *idleConn) sweep(buf, out []byte, key [4]byte, st *SweepStats) []byte {
	for !c.dead {
		n, err := c.readNow(buf)
		if n > 0 {
			out = c.parse(buf[:n], out, key, st)
		}
		if err != nil || n < len(buf) {
			if err != nil && !errors.Is(err, syscall.EAGAIN) {
				c.kill()
			}
			break
		}
	}
	if len(out) > 0 && !c.dead {
		_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.nc.Write(out); err != nil {
			c.kill()
		}
	}
	return out
}

// readNow reads once without waiting; (0, EAGAIN) when nothing is pending, (0, io.EOF) at EOF.
func (c *idleConn) readNow(buf []byte) (int, error) {
	var n int
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), buf)
		return true
	})
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, rerr
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// parse consumes server frames from b, appending replies (pongs, a close answer) to out.
func (c *idleConn) parse(b, out []byte, key [4]byte, st *SweepStats) []byte {
	if c.skip > 0 {
		k := min(c.skip, len(b))
		c.skip -= k
		b = b[k:]
	}
	if len(c.pend) > 0 {
		c.pend = append(c.pend, b...)
		b, c.pend = c.pend, nil
	}
	for len(b) > 0 && !c.dead {
		h, ok, err := parseHeader(b)
		if err != nil {
			c.kill()
			break
		}
		if !ok || (h.op.IsControl() && len(b) < h.size+h.n) {
			c.pend = append([]byte(nil), b...)
			break
		}
		out = c.handle(h, b, out, key, st)
		if len(b) < h.size+h.n { // a data frame continues in later reads
			c.skip = h.size + h.n - len(b)
			break
		}
		b = b[h.size+h.n:]
	}
	return out
}

// handle acts on one frame whose control payload is complete in b.
func (c *idleConn) handle(h header, b, out []byte, key [4]byte, st *SweepStats) []byte {
	switch h.op {
	case OpPing:
		st.Pings++
		return AppendFrame(out, OpPong, b[h.size:h.size+h.n], key)
	case OpPong:
	case OpClose:
		out = AppendClose(out, frame.CloseNormal, "", key)
		_, _ = c.nc.Write(out)
		c.kill()
		return out[:0]
	default:
		if h.fin {
			st.Messages++
		}
	}
	return out
}

func (c *idleConn) kill() {
	c.dead = true
	_ = c.nc.Close()
}

// CloseAll closes every connection with a closing handshake, using workers goroutines: each sends
// close frames on its share first, then waits (at most timeout in all) for the server to close each.
// It returns how many connections closed cleanly.
func (p *IdlePool) CloseAll(workers int, timeout time.Duration) int {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	workers = max(1, min(workers, len(conns)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	clean := 0
	for w := range workers {
		share := conns[w*len(conns)/workers : (w+1)*len(conns)/workers]
		wg.Go(func() {
			n := closeShare(share, p.key, timeout)
			mu.Lock()
			clean += n
			mu.Unlock()
		})
	}
	wg.Wait()
	return clean
}

// closeShare sends close frames on all of conns, then reads each until EOF and closes it.
func closeShare(conns []*idleConn, key [4]byte, timeout time.Duration) int {
	msg := AppendClose(nil, frame.CloseNormal, "", key)
	deadline := time.Now().Add(timeout)
	for _, c := range conns {
		_ = c.nc.SetDeadline(deadline)
		if _, err := c.nc.Write(msg); err != nil {
			c.kill()
		}
	}
	buf := make([]byte, 512)
	clean := 0
	deadline = time.Now().Add(timeout)
	for _, c := range conns {
		if c.dead {
			continue
		}
		_ = c.nc.SetReadDeadline(deadline)
		var err error
		for err == nil {
			_, err = c.nc.Read(buf)
		}
		if errors.Is(err, io.EOF) {
			clean++
		}
		_ = c.nc.Close()
	}
	return clean
}
