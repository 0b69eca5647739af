package engine

import (
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkAcceptRate measures how fast the server accepts sockets: 4 dialers open b.N TCP
// connections over loopback (from 127.0.1.0-63, so TIME_WAIT ports do not run out) and close each at
// once; the clock stops when the server has opened all of them. accepts/s is b.N over that time; it
// includes the dialers' connect(2) and close(2), which share the machine with the server, so compare
// runs of the same size on the same machine only. cpu-µs/accept is the CPU time of the whole process
// (dialers included) per socket, which a busy machine disturbs less than the rate. Run it with
// -benchtime 10000x or so.
func BenchmarkAcceptRate(b *testing.B) {
	app, addr := startApp(b, Config{Loops: 2}, echoRoute)
	const dialers = 4
	base := app.Stats().Opened
	b.ResetTimer()
	cpu0 := processCPU(b)
	start := time.Now()
	var wg sync.WaitGroup
	for d := range dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := d; i < b.N; i += dialers {
				src := &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(i%64))}
				nd := net.Dialer{LocalAddr: src, Timeout: 10 * time.Second}
				c, err := nd.Dial("tcp", addr)
				if err != nil {
					b.Error(err)
					return
				}
				_ = c.Close()
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for app.Stats().Opened-base < uint64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("the server opened %d of %d sockets", app.Stats().Opened-base, b.N)
		}
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	cpu := processCPU(b) - cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "accepts/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/accept")
}

// processCPU is the user+system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
