package loadtest

import (
	"fmt"
	"time"
)

// StormConfig sizes the connection storm: Conns connections opened and upgraded as fast as the workers
// can, then closed again.
type StormConfig struct {
	Conns    int           // default 15000
	Rooms    int           // rooms for {room} in the URL; default 100
	DialConc int           // parallel dialers per worker; default 16
	Settle   time.Duration // pause after closing before the last memory sample; default 5 s
	Workers  int           // worker processes; default 4
}

func (c StormConfig) withDefaults() StormConfig {
	c.Conns = defInt(c.Conns, 15000)
	c.Rooms = defInt(c.Rooms, 100)
	c.DialConc = defInt(c.DialConc, 16)
	c.Workers = defInt(c.Workers, 4)
	if c.Settle <= 0 {
		c.Settle = 5 * time.Second
	}
	return c
}

// StormResult is the storm's outcome.
type StormResult struct {
	Conns        int     `json:"conns"`
	Failed       int     `json:"failed"`
	FirstErr     string  `json:"first_err,omitempty"`
	OpenSeconds  float64 `json:"open_s"`
	OpenRate     float64 `json:"open_rate"` // connections/s
	CloseSeconds float64 `json:"close_s"`   // until the server's descriptors are back (clients' time when unknown)
	CloseRate    float64 `json:"close_rate"`
	CleanCloses  int     `json:"clean_closes"` // closing handshakes completed
	RSSBefore    int64   `json:"rss_before"`
	RSSPeak      int64   `json:"rss_open"`
	RSSAfter     int64   `json:"rss_after"`
	FDsBefore    int     `json:"fds_before"`
	FDsAfter     int     `json:"fds_after"`
	HeapBefore   Num     `json:"heap_before"` // Go heap in use (after a GC when the target allows)
	HeapOpen     Num     `json:"heap_open"`
	HeapAfter    Num     `json:"heap_after"`
	GoroutinesB  Num     `json:"goroutines_before"`
	GoroutinesA  Num     `json:"goroutines_after"`
	ServerCPU    float64 `json:"server_cpu_s"`
}

// RunStorm opens the connections as fast as possible, then closes them all.
func RunStorm(env Env, cfg StormConfig) (*StormResult, error) {
	cfg = cfg.withDefaults()
	f, err := env.fleet(env.workers(cfg.Workers))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	before := env.Target.SampleAfterGC()
	res := &StormResult{Conns: cfg.Conns, RSSBefore: before.Proc.RSS, FDsBefore: before.Proc.FDs,
		GoroutinesB: Num(before.metric("go_goroutines")), HeapBefore: Num(before.metric(heapMetric))}
	cmds := make([]Cmd, f.Size())
	first := 0
	for i, s := range split(cfg.Conns, f.Size()) {
		cmds[i] = Cmd{Op: opDial, URL: env.Target.URL, Mode: modeIdle, N: s, First: first, Rooms: cfg.Rooms,
			Conc: cfg.DialConc}
		first += s
	}
	pr := env.progress(fmt.Sprintf("storm open %d", cfg.Conns), int64(cfg.Conns), f.Size())
	start := time.Now()
	replies, err := f.Do(cmds, pr.update)
	res.OpenSeconds = time.Since(start).Seconds()
	pr.done()
	for _, r := range replies {
		res.Failed += r.Failed
		if res.FirstErr == "" {
			res.FirstErr = r.FirstErr
		}
	}
	if err != nil {
		return res, err
	}
	res.OpenRate = float64(cfg.Conns-res.Failed) / res.OpenSeconds
	open := env.Target.SampleAfterGC()
	res.RSSPeak, res.HeapOpen = open.Proc.RSS, Num(open.metric(heapMetric))
	if err := stormClose(env, f, res); err != nil {
		return res, err
	}
	time.Sleep(cfg.Settle)
	after := env.Target.SampleAfterGC()
	res.RSSAfter, res.FDsAfter, res.HeapAfter = after.Proc.RSS, after.Proc.FDs, Num(after.metric(heapMetric))
	res.GoroutinesA = Num(after.metric("go_goroutines"))
	res.ServerCPU = (after.Proc.CPU - before.Proc.CPU).Seconds()
	return res, nil
}

const heapMetric = "go_memstats_heap_inuse_bytes"

// stormClose closes every connection and times it: until the server holds no more descriptors than
// before the storm (when its PID is known), else until the workers are done.
func stormClose(env Env, f *Fleet, res *StormResult) error {
	start := time.Now()
	watch := make(chan time.Duration, 1)
	if env.Target.PID > 0 && res.FDsBefore > 0 {
		go func() { watch <- waitFDs(env.Target.PID, res.FDsBefore+8, 60*time.Second) }()
	}
	replies, err := f.All(Cmd{Op: opClose}, nil)
	clientTime := time.Since(start)
	for _, r := range replies {
		res.CleanCloses += r.Closed
	}
	res.CloseSeconds = clientTime.Seconds()
	if env.Target.PID > 0 && res.FDsBefore > 0 {
		res.CloseSeconds = max(clientTime, <-watch).Seconds()
	}
	if res.CloseSeconds > 0 {
		res.CloseRate = float64(res.Conns-res.Failed) / res.CloseSeconds
	}
	return err
}

// waitFDs polls pid's descriptor count until it is at most limit, and returns how long that took.
func waitFDs(pid, limit int, timeout time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < timeout {
		st, err := ReadProc(pid)
		if err != nil || st.FDs <= limit {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}
