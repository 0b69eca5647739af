package loadtest

import (
	"fmt"
	"time"
)

// HeartbeatConfig sizes the heartbeat scenario: Conns idle connections held for Hold while the server
// pings them (start wsd with a short ping_interval, e.g. WSD_PING_INTERVAL=2s) and the workers' idle
// sweeps answer every ping with a pong.
type HeartbeatConfig struct {
	Conns   int           // default 15,000
	Hold    time.Duration // how long CPU is measured; default 30 s
	Rooms   int           // default 100
	Workers int           // default 4
}

// HeartbeatResult is the server's cost of keeping idle connections alive.
type HeartbeatResult struct {
	Conns     int     `json:"conns"`
	Hold      float64 `json:"hold_s"`
	ServerCPU float64 `json:"server_cpu_s"` // during the hold
	Pings     int     `json:"pings"`        // pings the workers answered (during the whole run)
	PingsOut  Num     `json:"pings_out"`    // frames the server sent during the hold (all pings here)
	// CPUPerPing is server CPU microseconds per ping/pong exchange: the hold's CPU over the frames the
	// server sent during it (its pings), so it includes the timer checks that found nothing to do.
	CPUPerPing Num `json:"cpu_us_per_ping"`
	Lost       int `json:"lost"` // connections the server closed (idle timeout) before the end
}

// RunHeartbeat opens the connections, measures the server during the hold, and closes them.
func RunHeartbeat(env Env, cfg HeartbeatConfig) (*HeartbeatResult, error) {
	if cfg.Conns <= 0 {
		cfg.Conns = 15000
	}
	if cfg.Hold <= 0 {
		cfg.Hold = 30 * time.Second
	}
	icfg := IdleConfig{Rooms: cfg.Rooms, Workers: cfg.Workers}.withDefaults()
	f, err := env.fleet(env.workers(icfg.Workers))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var idle IdleResult
	if _, err := idleStep(env, f, icfg, 0, cfg.Conns, &idle); err != nil {
		return nil, err
	}
	time.Sleep(icfg.Settle)
	res := &HeartbeatResult{Conns: cfg.Conns, Hold: cfg.Hold.Seconds()}
	env.logf("heartbeat: holding %d connections for %v", cfg.Conns, cfg.Hold)
	before := env.Target.Sample()
	time.Sleep(cfg.Hold)
	after := env.Target.Sample()
	res.ServerCPU = (after.Proc.CPU - before.Proc.CPU).Seconds()
	res.PingsOut = NaN
	if b, a := before.metric("wsd_messages_sent_total"), after.metric("wsd_messages_sent_total"); a == a && b == b {
		res.PingsOut = Num(a - b)
	}
	res.CPUPerPing = NaN
	if res.PingsOut.Known() && res.PingsOut > 0 {
		res.CPUPerPing = Num(res.ServerCPU * 1e6 / float64(res.PingsOut))
	}
	replies, err := f.All(Cmd{Op: opClose}, nil)
	for _, r := range replies {
		if r.Sweep != nil {
			res.Lost += r.Sweep.Closed
			res.Pings += r.Sweep.Pings
		}
	}
	if err == nil && res.Pings == 0 {
		err = fmt.Errorf("heartbeat: the server sent no pings (start it with a short ping interval)")
	}
	return res, err
}
