package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofServer serves net/http/pprof (/debug/pprof/...) on its own net/http server, bound to a
// loopback address only: profiles expose memory contents and cost CPU, so they are never on the
// public port. Reach them with an SSH tunnel or from the host itself.
type pprofServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// startPprof listens on addr (which must be a loopback address) and serves in the background.
func startPprof(addr string) (*pprofServer, error) {
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		_ = ln.Close() // "localhost" resolved to something else
		return nil, fmt.Errorf("pprof: %s is not a loopback address", ln.Addr())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	p := &pprofServer{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		ln:   ln,
		done: make(chan struct{}),
	}
	go p.serve()
	return p, nil
}

func (p *pprofServer) serve() {
	defer close(p.done)
	_ = p.srv.Serve(p.ln) // http.ErrServerClosed after close; a debugging aid has nothing to retry
}

// Addr is the bound address.
func (p *pprofServer) Addr() net.Addr { return p.ln.Addr() }

// close stops the server, waiting up to ctx for running requests (a CPU profile runs for its
// "seconds"), and then cuts them.
func (p *pprofServer) close(ctx context.Context) {
	if err := p.srv.Shutdown(ctx); err != nil {
		_ = p.srv.Close()
	}
	<-p.done
}
