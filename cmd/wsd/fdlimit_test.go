package main

import (
	"syscall"
	"testing"
)

// The default max_connections refuses sockets (closed at once, counted) before the descriptor limit
// is reached, at every limit from 1k to 16M and every loop count: the headroom holds the process's own
// descriptors and a storm's sockets in flight, and is not wasteful at large limits. (It used to be
// limit-512 with sockets shed only at m+m/64+64: above the limit for every limit over ~29k.)
func TestMaxConnectionsDefault(t *testing.T) {
	limits := []uint64{1024, 1500, 2048, 4096, 10000, 20000, 29000, 32768, 65536, 100000, 1 << 20, 3 << 20,
		1 << 24}
	for _, loops := range []int{1, 2, 8, 64, 256} {
		prev := 0
		for _, limit := range limits {
			m := maxConnectionsFor(limit, loops)
			room := limit - uint64(m)
			own := uint64(64 + 2*(loops+1)) // stdio, runtime poller, listener, epoll+eventfd per reactor, NATS, pprof
			switch {
			case m <= 0 || uint64(m) >= limit:
				t.Errorf("limit %d, %d loops: max_connections %d, want within (0, limit)", limit, loops, m)
			case room < min(own, limit/2):
				t.Errorf("limit %d, %d loops: headroom %d, want at least %d for the process's own descriptors",
					limit, loops, room, min(own, limit/2))
			case room < limit/64:
				t.Errorf("limit %d, %d loops: headroom %d, want at least limit/64 = %d for a storm's sockets in flight",
					limit, loops, room, limit/64)
			case uint64(m) < limit/2:
				t.Errorf("limit %d, %d loops: max_connections %d, less than half the limit", limit, loops, m)
			case limit >= 65536 && float64(m) < 0.97*float64(limit):
				t.Errorf("limit %d, %d loops: max_connections %d, wastes more than 3%% of the limit", limit, loops, m)
			case m < prev:
				t.Errorf("limit %d, %d loops: max_connections %d, less than %d at a lower limit", limit, loops, m, prev)
			}
			prev = m
		}
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if got, want := autoMaxConnections(2), maxConnectionsFor(min(uint64(rl.Cur), 1<<24), 2); got != want {
		t.Errorf("autoMaxConnections(2) = %d under RLIMIT_NOFILE %d, want %d", got, rl.Cur, want)
	}
}
