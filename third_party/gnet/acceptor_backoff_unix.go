// Copyright (c) 2026 The wsd authors. Licensed under the Apache License, Version 2.0, like the rest
// of this copy of gnet. Added by wsd's patch of gnet v2.9.7 (see README.md in this directory).

//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package gnet

import (
	"time"

	"golang.org/x/sys/unix"
)

// Backoff of the main reactor's acceptor when accept(2) fails for lack of a local resource (EMFILE,
// ENFILE, ENOBUFS, ENOMEM): the connections already open are not affected, so the engine keeps
// running and accept is retried after a pause, as net/http's Server.Serve does.
const (
	acceptBackoffMin  = 5 * time.Millisecond
	acceptBackoffMax  = 500 * time.Millisecond
	acceptLogInterval = 10 * time.Second
)

// acceptBackoff sleeps before accept0 retries: 5 ms after the first failure, doubling up to 500 ms
// while the failures go on (*delay carries the last pause; accept0 resets it when a socket is
// accepted). The error is logged at most once per acceptLogInterval. The pause ends early, returning
// false, when the engine is stopping, so Stop is never held up by it.
//
// Sleeping on the main reactor is what makes this work: its listener is edge-triggered, so returning
// without draining the accept queue would leave the queued sockets there until another one arrives,
// and a level-triggered one would spin. The main reactor does nothing but accept (ReusePort off), and
// the event loops keep serving the open connections meanwhile.
func (el *eventloop) acceptBackoff(err error, delay *time.Duration) bool {
	switch {
	case *delay < acceptBackoffMin:
		*delay = acceptBackoffMin
	case *delay < acceptBackoffMax/2:
		*delay *= 2
	default:
		*delay = acceptBackoffMax
	}
	if el.acceptLogDue() {
		el.getLogger().Errorf("Accept() failed due to error: %v; retrying with backoff (up to %v), "+
			"this is logged at most once per %v", err, acceptBackoffMax, acceptLogInterval)
	}
	t := time.NewTimer(*delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-el.engine.concurrency.ctx.Done():
		return false
	}
}

// acceptDropped reports whether err, from accept(2), is about the one connection it dequeued rather
// than the listener: the network errors accept(2)'s manual says to "treat like EAGAIN by retrying"
// (ENETDOWN, EPROTO, ENOPROTOOPT, EHOSTDOWN, EHOSTUNREACH, ENETUNREACH; EOPNOTSUPP is left out, it
// also means a listener that is not a stream socket) and EPERM ("firewall rules forbid connection").
// That connection is gone and accept0 goes on with the next one; the error is logged at most once per
// acceptLogInterval. Upstream treats these as fatal: the engine stopped.
func (el *eventloop) acceptDropped(err error) bool {
	switch err {
	case unix.ENETDOWN, unix.EPROTO, unix.ENOPROTOOPT, unix.EHOSTDOWN, unix.EHOSTUNREACH, unix.ENETUNREACH,
		unix.EPERM:
	default:
		return false
	}
	if el.acceptLogDue() {
		el.getLogger().Warnf("Accept() failed due to error: %v; the connection is dropped and accepting "+
			"goes on, this is logged at most once per %v", err, acceptLogInterval)
	}
	return true
}

// acceptLogDue reports whether an accept error may be logged now (at most once per acceptLogInterval,
// whichever kind) and, if so, records it.
func (el *eventloop) acceptLogDue() bool {
	now := time.Now()
	if now.Sub(el.acceptLogged) < acceptLogInterval {
		return false
	}
	el.acceptLogged = now
	return true
}
