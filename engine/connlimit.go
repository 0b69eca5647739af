package engine

import (
	"hash/maphash"
	"net"
	"net/netip"
	"sync"
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

func (t *ipTable) count(ip netip.Addr) int32 {
	s := t.shard(ip)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[ip]
}

// remoteIP is the connection's peer address (the zero Addr for non-TCP peers).
func remoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// overLimit reports whether the connection is over MaxConnections or MaxConnectionsPerIP.
func (a *App) overLimit(c *Conn) bool {
	if m := a.cfg.MaxConnections; m > 0 && a.conns.Load() > int64(m) {
		return true
	}
	if a.ips != nil {
		return a.ips.count(remoteIP(c.gc.RemoteAddr())) > int32(a.cfg.MaxConnectionsPerIP)
	}
	return false
}

// shedding reports whether open sockets are so far over MaxConnections that a new one is closed at once,
// without reading its request: under a connection storm this gives file descriptors back fast. Between
// MaxConnections and this mark, requests are answered 503 with Retry-After.
func (a *App) shedding() bool {
	m := int64(a.cfg.MaxConnections)
	return m > 0 && a.conns.Load() >= m+m/64+64
}
