package client

import (
	"net"
	"sync"
	"syscall"
)

// Poller reads many connections with few goroutines: on Linux one goroutine waits in epoll for all of
// them and reads each readable socket once (a syscall per wake-up, no goroutine switch per message);
// elsewhere each connection gets a reader goroutine. Pings are answered and close frames echoed.
//
// onMessage gets every complete data message (payload valid during the call only) and onEnd the end
// of each connection (nil after a close handshake, else the error); both run on poller goroutines and
// must not block. tag is the caller's number for the connection.
type Poller struct {
	onMessage func(tag int, op Opcode, payload []byte)
	onEnd     func(tag int, err error)
	key       [4]byte

	mu    sync.Mutex
	conns []*pollConn // by tag
	impl  pollImpl
}

// pollConn is one polled connection.
type pollConn struct {
	nc      net.Conn
	rc      syscall.RawConn
	tag     int
	fd      int
	pend    []byte // bytes of an incomplete frame (nil when none)
	msg     []byte // a fragmented message being reassembled (nil when none)
	msgOp   Opcode
	closing bool // we sent a close frame: the server's close is the answer
	ended   bool
}

// NewPoller starts a poller.
func NewPoller(onMessage func(tag int, op Opcode, payload []byte), onEnd func(tag int, err error)) (*Poller, error) {
	p := &Poller{onMessage: onMessage, onEnd: onEnd, key: NewKey()}
	impl, err := newPollImpl(p)
	if err != nil {
		return nil, err
	}
	p.impl = impl
	return p, nil
}

// pollImpl is the platform part.
type pollImpl interface {
	add(pc *pollConn) error
	close()
}

// Add polls an upgraded connection; leftover holds bytes already read after the 101 answer.
func (p *Poller) Add(nc net.Conn, leftover []byte, tag int) error {
	pc := &pollConn{nc: nc, tag: tag}
	if len(leftover) > 0 {
		pc.pend = append([]byte(nil), leftover...)
	}
	p.mu.Lock()
	for len(p.conns) <= tag {
		p.conns = append(p.conns, nil)
	}
	p.conns[tag] = pc
	p.mu.Unlock()
	return p.impl.add(pc)
}

// SendClose sends a close frame (1000) on connection tag; the poller ends it when the server answers.
func (p *Poller) SendClose(tag int) error {
	p.mu.Lock()
	pc := p.conns[tag]
	pc.closing = true
	p.mu.Unlock()
	_, err := pc.nc.Write(AppendClose(nil, 1000, "", p.key))
	return err
}

// Close stops polling and closes every connection still open.
func (p *Poller) Close() {
	p.impl.close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pc := range p.conns {
		if pc != nil {
			_ = pc.nc.Close()
		}
	}
}

// consume parses the frames in b (after any pending bytes) and acts on them. It reports whether the
// connection ended. Runs on the connection's poller goroutine only (or before it polls).
func (p *Poller) consume(pc *pollConn, b []byte) bool {
	if len(pc.pend) > 0 {
		pc.pend = append(pc.pend, b...)
		b, pc.pend = pc.pend, nil
	}
	for len(b) > 0 {
		h, ok, err := parseHeader(b)
		if err != nil {
			p.end(pc, err)
			return true
		}
		if !ok || len(b) < h.size+h.n {
			if h.n > MaxFrame {
				p.end(pc, ErrFrameTooLarge)
				return true
			}
			pc.pend = append(make([]byte, 0, max(len(b), h.size+h.n)), b...)
			return false
		}
		if p.frame(pc, h, b[h.size:h.size+h.n]) {
			return true
		}
		b = b[h.size+h.n:]
	}
	return false
}

// frame handles one complete frame; it reports whether the connection ended.
func (p *Poller) frame(pc *pollConn, h header, payload []byte) bool {
	switch h.op {
	case OpPing:
		_, _ = pc.nc.Write(AppendFrame(nil, OpPong, payload, p.key))
	case OpPong:
	case OpClose:
		p.mu.Lock()
		closing := pc.closing
		p.mu.Unlock()
		if !closing {
			_, _ = pc.nc.Write(AppendClose(nil, 1000, "", p.key))
		}
		p.end(pc, nil)
		return true
	case OpContinuation:
		pc.msg = append(pc.msg, payload...)
		if h.fin {
			p.onMessage(pc.tag, pc.msgOp, pc.msg)
			pc.msg = nil
		}
	default:
		if h.fin {
			p.onMessage(pc.tag, h.op, payload)
			return false
		}
		pc.msgOp, pc.msg = h.op, append([]byte(nil), payload...)
	}
	return false
}

// end reports the connection's end once; the platform part then stops polling it and closes it.
func (p *Poller) end(pc *pollConn, err error) {
	if pc.ended {
		return
	}
	pc.ended = true
	p.onEnd(pc.tag, err)
}
