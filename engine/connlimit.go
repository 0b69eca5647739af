package engine

import (
	"hash/maphash"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// ipTable counts open sockets per client IP for MaxConnectionsPerIP: 32 shards, a map each, holding
// only addresses that have sockets open.
type ipTable struct {
	seed   maphash.Seed
	shards [32]ipShard
}

type ipShard struct {
	mu sync.Mutex
	n  map[netip.Addr]int32
}

func newIPTable() *ipTable {
	t := &ipTable{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].n = make(map[netip.Addr]int32)
	}
	return t
}

func (t *ipTable) shard(ip netip.Addr) *ipShard {
	b := ip.As16()
	return &t.shards[maphash.Bytes(t.seed, b[:])%uint64(len(t.shards))]
}

// add counts one more socket for ip and returns the new count.
func (t *ipTable) add(ip netip.Addr, d int32) int32 {
	s := t.shard(ip)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.n[ip] + d
	if n <= 0 {
		delete(s.n, ip)
		return 0
	}
	s.n[ip] = n
	return n
}

// remoteIP is the connection's peer address (the zero Addr for non-TCP peers).
func remoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// Connection limits are applied when gnet accepts a socket (OnOpen), not when its request arrives:
// a socket over MaxConnections or MaxConnectionsPerIP is closed at once, so a storm of sockets that
// never send anything cannot hold descriptors for HandshakeTimeout. The counts include every open
// socket, WebSocket or plain HTTP.

// admit counts a socket gnet has just accepted and reports whether it is within MaxConnections and
// MaxConnectionsPerIP; a refused socket is not counted. Counting first and checking the new total
// keeps the caps exact while several loops accept at once. On the socket's loop (OnOpen).
func (a *App) admit(gc gnet.Conn) bool {
	n := a.conns.Add(1)
	if m := a.cfg.MaxConnections; m > 0 && n > int64(m) {
		a.conns.Add(-1)
		a.connClosed()
		return false
	}
	if a.ips != nil {
		ip := remoteIP(gc.RemoteAddr())
		if a.ips.add(ip, 1) > int32(a.cfg.MaxConnectionsPerIP) {
			a.ips.add(ip, -1)
			a.conns.Add(-1)
			a.connClosed()
			return false
		}
	}
	return true
}

// refuse counts a socket admit turned away (Stats.Rejected too_many_connections, Config.OnReject
// with status 503 and no path) and returns what gnet writes to it before closing it: the 503 answer
// when the peer's first bytes have already arrived (a client that sent its request at once gets a
// Retry-After), nothing when it has sent nothing yet. On the socket's loop (OnOpen).
func (a *App) refuse(l *loop, gc gnet.Conn) []byte {
	l.stats.rejected[RejectTooMany].Add(1)
	if fn := a.cfg.OnReject; fn != nil {
		fn(RejectTooMany, http.StatusServiceUnavailable, gc.RemoteAddr(), "")
	}
	if !drainPending(gc.Fd()) {
		return nil
	}
	return a.busy
}

// drainPending reads (and discards) up to 4 KiB the peer has already sent on fd without waiting, and
// reports whether there was any. Reading the request means the close that follows the 503 sends a
// FIN rather than a reset (which could destroy the answer in flight).
func drainPending(fd int) bool {
	var buf [4096]byte
	n, _, err := unix.Recvfrom(fd, buf[:], unix.MSG_DONTWAIT)
	return err == nil && n > 0
}

// busyResponse is the 503 answer of refuse, built once (the bytes are never modified: gnet copies
// what it cannot write at once).
func busyResponse(retryAfter time.Duration) []byte {
	body := "too many connections\n"
	return []byte("HTTP/1.1 503 Service Unavailable\r\n" +
		"Retry-After: " + strconv.Itoa(int(max(retryAfter/time.Second, 1))) + "\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n" +
		"Connection: close\r\n\r\n" + body)
}
