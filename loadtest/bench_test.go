package loadtest

import (
	"fmt"
	"testing"
)

// The benchmarks run each scenario once at its configured size against a fresh wsd process:
//
//	cd loadtest && go test -run '^$' -bench . -benchtime 1x
//
// Sizes come from the flags in main_test.go (after -args, or directly: go test passes unknown flags on).

func BenchmarkIdle(b *testing.B) {
	s := startWSD(b)
	cfg := IdleConfig{Steps: ints(b, *flagIdleSteps), Rooms: *flagIdleRooms}
	res, err := RunIdle(env(s, "/rooms/idle-{room}"), cfg)
	if err != nil {
		b.Fatal(err)
	}
	record(func(r *Results) { r.Idle = res })
	report(b, map[string]Num{
		"B/conn-rss":       res.RSSPerConn,
		"B/conn-anon":      res.AnonPerConn,
		"B/conn-heap":      res.HeapPerConn,
		"B/conn-kernel":    res.KernelPerConn,
		"conns/s":          Num(res.ConnectRate),
		"goroutines-start": res.GoroutinesStart,
		"goroutines-end":   res.GoroutinesEnd,
		"conns-lost":       Num(res.Lost),
	})
}

func BenchmarkEcho(b *testing.B) {
	for _, size := range ints(b, *flagEchoSizes) {
		b.Run(fmt.Sprintf("conns=%d/size=%d/depth=%d", *flagEchoConns, size, *flagEchoDepth), func(b *testing.B) {
			s := startWSD(b)
			cfg := EchoConfig{Conns: *flagEchoConns, Size: size, Depth: *flagEchoDepth, Duration: *flagDuration}
			res, err := RunEcho(env(s, "/echo"), cfg)
			if err != nil {
				b.Fatal(err)
			}
			record(func(r *Results) { r.Echo = append(r.Echo, res) })
			report(b, map[string]Num{
				"msgs/s":       Num(res.MsgsPerSec),
				"p50-µs":       Num(res.Latency.P50),
				"p99-µs":       Num(res.Latency.P99),
				"p999-µs":      Num(res.Latency.P999),
				"max-µs":       Num(res.Latency.Max),
				"cpu-s/Mmsgs":  res.CPUPerMillion,
				"allocs/msg":   res.AllocsPerMsg,
				"dead-conns":   Num(res.Dead),
				"client-cpu-s": Num(res.ClientCPU),
				"server-cpu-s": Num(res.ServerCPU),
			})
		})
	}
}

func BenchmarkBroadcast(b *testing.B) {
	for _, members := range ints(b, *flagMembers) {
		for _, rate := range ints(b, *flagRates) {
			name := fmt.Sprintf("rooms=%d/members=%d/rate=%s", *flagRooms, members, rateName(rate))
			b.Run(name, func(b *testing.B) { benchBroadcast(b, members, rate) })
		}
	}
}

func rateName(rate int) string {
	if rate == 0 {
		return "max"
	}
	return fmt.Sprint(rate)
}

func benchBroadcast(b *testing.B, members, rate int) {
	s := startWSD(b)
	cfg := BroadcastConfig{Rooms: *flagRooms, Members: members, Rate: float64(rate), Size: *flagBSize,
		Duration: *flagDuration}
	res, err := RunBroadcast(env(s, "/rooms/bcast-{room}"), cfg)
	if err != nil {
		b.Fatal(err)
	}
	record(func(r *Results) { r.Broadcast = append(r.Broadcast, res) })
	report(b, map[string]Num{
		"deliveries/s":      Num(res.DeliveriesRate),
		"publish/s":         Num(res.PublishRate),
		"p50-µs":            Num(res.Latency.P50),
		"p99-µs":            Num(res.Latency.P99),
		"p999-µs":           Num(res.Latency.P999),
		"max-µs":            Num(res.Latency.Max),
		"lost":              Num(res.Lost),
		"server-drops":      res.ServerDropped,
		"cpu-s/Mdeliveries": res.CPUPerMillion,
		"allocs/delivery":   res.AllocsPerDeliv,
		"client-cpu-s":      Num(res.ClientCPU),
		"server-cpu-s":      Num(res.ServerCPU),
	})
	if res.Lost > 0 {
		b.Logf("%d of %d deliveries lost (server drops %v)", res.Lost, res.Expected, res.ServerDropped)
	}
}

func BenchmarkStorm(b *testing.B) {
	s := startWSD(b)
	res, err := RunStorm(env(s, "/rooms/storm-{room}"), StormConfig{Conns: *flagStorm})
	if err != nil {
		b.Fatal(err)
	}
	record(func(r *Results) { r.Storm = res })
	report(b, map[string]Num{
		"opens/s":          Num(res.OpenRate),
		"closes/s":         Num(res.CloseRate),
		"rss-before-MiB":   Num(mib(res.RSSBefore)),
		"rss-open-MiB":     Num(mib(res.RSSPeak)),
		"rss-after-MiB":    Num(mib(res.RSSAfter)),
		"fds-after":        Num(res.FDsAfter),
		"goroutines-after": res.GoroutinesA,
	})
}

// report sends the known metrics to b and drops the default ns/op (one run of a whole scenario).
func report(b *testing.B, m map[string]Num) {
	b.ReportMetric(0, "ns/op")
	for unit, v := range m {
		if v.Known() {
			b.ReportMetric(float64(v), unit)
		}
	}
}

// BenchmarkHeartbeat measures the server CPU per ping/pong exchange with 15k idle connections: wsd
// pings every 2 s (WSD_PING_INTERVAL, unless -wsd-env sets it) and the workers answer.
func BenchmarkHeartbeat(b *testing.B) {
	s := startWSDWith(b, "WSD_PING_INTERVAL=2s", "WSD_IDLE_TIMEOUT=60s")
	res, err := RunHeartbeat(env(s, "/rooms/hb-{room}"), HeartbeatConfig{Conns: *flagHBConns, Hold: *flagHBHold})
	if err != nil {
		b.Fatal(err)
	}
	report(b, map[string]Num{
		"conns":        Num(res.Conns),
		"server-cpu-s": Num(res.ServerCPU),
		"pings-out":    res.PingsOut,
		"µs/ping":      res.CPUPerPing,
		"pings-ans":    Num(res.Pings),
		"conns-lost":   Num(res.Lost),
	})
}
