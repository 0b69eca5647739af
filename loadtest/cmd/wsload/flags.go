package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/openspeed/wsd/loadtest"
)

func idleFlags(fs *flag.FlagSet) func(loadtest.Env, *loadtest.Results) error {
	var cfg loadtest.IdleConfig
	steps := fs.String("steps", "0,4000,8000,12000,16000,19000", "cumulative connection counts to sample at")
	fs.IntVar(&cfg.Rooms, "rooms", 100, "rooms the connections spread over ({room} in the URL)")
	fs.DurationVar(&cfg.Settle, "settle", 0, "pause after each step before sampling (0: 3s)")
	fs.IntVar(&cfg.DialConc, "dial-conc", 0, "parallel dialers per worker (0: 4)")
	fs.DurationVar(&cfg.Hold, "hold", 0, "keep the connections open this long after the last step")
	return func(env loadtest.Env, res *loadtest.Results) error {
		var err error
		if cfg.Steps, err = intList(*steps); err != nil {
			return err
		}
		res.Idle, err = loadtest.RunIdle(env, cfg)
		return err
	}
}

func echoFlags(fs *flag.FlagSet) func(loadtest.Env, *loadtest.Results) error {
	var cfg loadtest.EchoConfig
	sizes := fs.String("size", "64", "payload sizes in bytes, comma separated (one run each; >= 16 for latency)")
	fs.IntVar(&cfg.Conns, "conns", 100, "connections")
	fs.IntVar(&cfg.Depth, "depth", 1, "messages in flight per connection (pipelining)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured time per run")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "unmeasured time before each run (negative: none)")
	fs.BoolVar(&cfg.Binary, "binary", false, "binary messages instead of text")
	return func(env loadtest.Env, res *loadtest.Results) error {
		list, err := intList(*sizes)
		if err != nil {
			return err
		}
		for _, size := range list {
			cfg.Size = size
			r, err := loadtest.RunEcho(env, cfg)
			if err != nil {
				return err
			}
			res.Echo = append(res.Echo, r)
		}
		return nil
	}
}

func broadcastFlags(fs *flag.FlagSet) func(loadtest.Env, *loadtest.Results) error {
	var cfg loadtest.BroadcastConfig
	members := fs.String("members", "1000", "members per room, comma separated (one run each)")
	rates := fs.String("rate", "10", "messages/s per room, comma separated; max: as fast as -window allows")
	fs.IntVar(&cfg.Rooms, "rooms", 1, "rooms, one publisher each")
	fs.IntVar(&cfg.Size, "size", 64, "payload bytes (>= 16 for latency)")
	fs.IntVar(&cfg.Window, "window", 16, "max rate: messages in flight per room")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "publishing time per run")
	fs.DurationVar(&cfg.Drain, "drain", 3*time.Second, "wait this long without progress for missing deliveries")
	fs.BoolVar(&cfg.Binary, "binary", false, "binary messages instead of text")
	fs.IntVar(&cfg.DialConc, "dial-conc", 0, "parallel dialers per worker (0: 4)")
	return func(env loadtest.Env, res *loadtest.Results) error {
		ms, err := intList(*members)
		if err != nil {
			return err
		}
		rs, err := intList(*rates)
		if err != nil {
			return err
		}
		for _, m := range ms {
			for _, r := range rs {
				cfg.Members, cfg.Rate = m, float64(r)
				b, err := loadtest.RunBroadcast(env, cfg)
				if err != nil {
					return err
				}
				res.Broadcast = append(res.Broadcast, b)
			}
		}
		return nil
	}
}

func stormFlags(fs *flag.FlagSet) func(loadtest.Env, *loadtest.Results) error {
	var cfg loadtest.StormConfig
	fs.IntVar(&cfg.Conns, "conns", 15000, "connections to open, then close")
	fs.IntVar(&cfg.Rooms, "rooms", 100, "rooms for {room} in the URL")
	fs.IntVar(&cfg.DialConc, "dial-conc", 0, "parallel dialers per worker (0: 16)")
	fs.DurationVar(&cfg.Settle, "settle", 0, "pause after closing before the last sample (0: 5s)")
	return func(env loadtest.Env, res *loadtest.Results) error {
		var err error
		res.Storm, err = loadtest.RunStorm(env, cfg)
		return err
	}
}

func soakFlags(fs *flag.FlagSet) func(loadtest.Env, *loadtest.Results) error {
	var cfg loadtest.SoakConfig
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Minute, "load phase (warm-up, drift windows and sample interval scale with it)")
	fs.BoolVar(&cfg.NoPipeliner, "no-pipeliner", false, "leave out the HTTP pipeliner (its unread responses swamp the heap of a server without response budgets)")
	svg := fs.String("svg", "", "write the server's curves over time (memory, goroutines, connections, rates) to this SVG file")
	return func(env loadtest.Env, res *loadtest.Results) error {
		r, err := loadtest.RunSoak(env, cfg)
		if err != nil {
			return err
		}
		res.Soak = r
		if *svg != "" {
			if err := os.WriteFile(*svg, []byte(r.SVG()), 0o644); err != nil {
				return err
			}
		}
		if len(r.Failures) > 0 {
			return fmt.Errorf("soak: %d assertions failed (listed with the results)", len(r.Failures))
		}
		return nil
	}
}
