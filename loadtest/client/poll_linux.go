package client

import (
	"errors"
	"io"
	"sync"
	"syscall"
)

// epollImpl waits for all connections in one epoll set and reads each readable socket once per
// wake-up (level-triggered: bytes left over wake it again).
type epollImpl struct {
	p      *Poller
	epfd   int
	mu     sync.Mutex
	byFD   []*pollConn
	buf    []byte
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
}

func newPollImpl(p *Poller) (pollImpl, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	e := &epollImpl{p: p, epfd: epfd, buf: make([]byte, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go e.loop()
	return e, nil
}

func (e *epollImpl) add(pc *pollConn) error {
	sc, ok := pc.nc.(syscall.Conn)
	if !ok {
		return errors.New("client: poller needs a socket connection")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	pc.rc = rc
	if err := rc.Control(func(fd uintptr) { pc.fd = int(fd) }); err != nil {
		return err
	}
	if len(pc.pend) > 0 && e.p.consume(pc, nil) { // frames that came with the 101 answer
		_ = pc.nc.Close()
		return nil
	}
	e.mu.Lock()
	for len(e.byFD) <= pc.fd {
		e.byFD = append(e.byFD, nil)
	}
	e.byFD[pc.fd] = pc
	e.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(pc.fd)}
	return syscall.EpollCtl(e.epfd, syscall.EPOLL_CTL_ADD, pc.fd, &ev)
}

func (e *epollImpl) loop() {
	defer close(e.done)
	events := make([]syscall.EpollEvent, 256)
	for {
		select {
		case <-e.stop:
			return
		default:
		}
		n, err := syscall.EpollWait(e.epfd, events, 100)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return
		}
		for _, ev := range events[:max(n, 0)] {
			e.mu.Lock()
			var pc *pollConn
			if int(ev.Fd) < len(e.byFD) {
				pc = e.byFD[ev.Fd]
			}
			e.mu.Unlock()
			if pc != nil {
				e.read(pc)
			}
		}
	}
}

// read reads the socket once and handles what came.
func (e *epollImpl) read(pc *pollConn) {
	var n int
	var rerr error
	err := pc.rc.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), e.buf)
		return true
	})
	switch {
	case err != nil:
		rerr = err
	case n > 0:
		if e.p.consume(pc, e.buf[:n]) {
			e.drop(pc)
		}
		return
	case errors.Is(rerr, syscall.EAGAIN):
		return
	case rerr == nil:
		rerr = io.ErrUnexpectedEOF
	}
	e.p.end(pc, rerr)
	e.drop(pc)
}

// drop stops polling pc and closes it.
func (e *epollImpl) drop(pc *pollConn) {
	_ = syscall.EpollCtl(e.epfd, syscall.EPOLL_CTL_DEL, pc.fd, nil)
	e.mu.Lock()
	if pc.fd < len(e.byFD) && e.byFD[pc.fd] == pc {
		e.byFD[pc.fd] = nil
	}
	e.mu.Unlock()
	_ = pc.nc.Close()
}

func (e *epollImpl) close() {
	e.closed.Do(func() {
		close(e.stop)
		<-e.done
		_ = syscall.Close(e.epfd)
	})
}
