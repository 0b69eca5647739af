//go:build !linux

package client

import (
	"errors"
	"io"
	"sync"
)

// goroutineImpl reads each connection on its own goroutine (no epoll outside Linux).
type goroutineImpl struct {
	p  *Poller
	wg sync.WaitGroup
}

func newPollImpl(p *Poller) (pollImpl, error) { return &goroutineImpl{p: p}, nil }

func (g *goroutineImpl) add(pc *pollConn) error {
	if len(pc.pend) > 0 && g.p.consume(pc, nil) {
		_ = pc.nc.Close()
		return nil
	}
	g.wg.Add(1)
	go g.read(pc)
	return nil
}

func (g *goroutineImpl) read(pc *pollConn) {
	defer g.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := pc.nc.Read(buf)
		if n > 0 && g.p.consume(pc, buf[:n]) {
			break
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			g.p.end(pc, err)
			break
		}
	}
	_ = pc.nc.Close()
}

// close waits for the readers, which end when Poller.Close closes their sockets.
func (g *goroutineImpl) close() {}
