package loadtest

import (
	"fmt"
	"time"

	"github.com/openspeed/wsd/loadtest/client"
)

// BroadcastConfig sizes the broadcast scenario: Rooms rooms of Members reading members each, and one
// publisher per room sending through the raw relay (/rooms/:room: a member's message goes to the others).
type BroadcastConfig struct {
	Rooms    int           // default 1
	Members  int           // reading members per room (one of them is the publisher's probe); default 1000
	Size     int           // payload bytes (>= 16 for latency); default 64
	Rate     float64       // messages/s per room; 0: max rate, paced by Window
	Window   int           // max rate: messages in flight per room (seen by the probe); default 16
	Duration time.Duration // publishing time; default 10 s
	Drain    time.Duration // wait this long without progress for missing deliveries; default 3 s
	Binary   bool          // binary messages (default text)
	Workers  int           // worker processes for the members (plus one for the publishers); default: one per 2500 members, at least 2
	DialConc int           // parallel dialers per worker; default 4
}

func (c BroadcastConfig) withDefaults() BroadcastConfig {
	c.Rooms = defInt(c.Rooms, 1)
	c.Members = defInt(c.Members, 1000)
	c.Size = defInt(c.Size, 64)
	c.Window = defInt(c.Window, 16)
	c.DialConc = defInt(c.DialConc, 4)
	c.Workers = defInt(c.Workers, max(2, (c.Rooms*c.Members+2499)/2500))
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Drain <= 0 {
		c.Drain = 3 * time.Second
	}
	return c
}

// BroadcastResult is the broadcast scenario's outcome.
type BroadcastResult struct {
	Rooms          int               `json:"rooms"`
	Members        int               `json:"members"`
	Size           int               `json:"size"`
	Rate           float64           `json:"rate"` // configured per room; 0: max
	Seconds        float64           `json:"seconds"`
	Sent           int64             `json:"sent"`         // messages published (all rooms)
	PublishRate    float64           `json:"publish_rate"` // messages/s per room achieved
	Deliveries     int64             `json:"deliveries"`   // received by members
	Expected       int64             `json:"expected"`     // sent × members
	Lost           int64             `json:"lost"`         // expected but never received
	Extra          int64             `json:"extra"`        // received beyond expected (duplicates)
	DeliveriesRate float64           `json:"deliveries_per_sec"`
	Latency        Latency           `json:"latency"` // publish to delivery
	CPUPerMillion  Num               `json:"cpu_s_per_million"`
	AllocsPerDeliv Num               `json:"allocs_per_delivery"`
	ServerDropped  Num               `json:"server_dropped"` // wsd_dropped_messages_total delta
	ServerCPU      float64           `json:"server_cpu_s"`
	ClientCPU      float64           `json:"client_cpu_s"` // all worker processes while publishing and collecting
	Dead           int               `json:"dead"`
	Hist           *client.Histogram `json:"hist,omitempty"`
}

// RunBroadcast joins the members, publishes for the configured duration, waits for the deliveries and
// reports rates, losses and latency.
func RunBroadcast(env Env, cfg BroadcastConfig) (*BroadcastResult, error) {
	cfg = cfg.withDefaults()
	f, err := env.fleet(env.workers(cfg.Workers) + 1)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	joined, err := joinMembers(env, f, cfg)
	if err != nil {
		return nil, err
	}
	before := env.Target.Sample()
	pub := make([]Cmd, f.Size())
	pub[0] = Cmd{Op: opPublish, URL: env.Target.URL, Rooms: cfg.Rooms, Rate: cfg.Rate, Window: cfg.Window,
		Size: cfg.Size, Duration: cfg.Duration, Binary: cfg.Binary}
	pr := env.timed(fmt.Sprintf("broadcast %dx%d", cfg.Rooms, cfg.Members), cfg.Duration, f.Size())
	replies, err := f.Do(pub, pr.update)
	pr.done()
	if err != nil {
		return nil, err
	}
	pubReply := replies[0]
	replies, err = f.All(Cmd{Op: opCollect, Expect: pubReply.Sent, Timeout: cfg.Drain}, nil)
	if err != nil {
		return nil, err
	}
	after := env.Target.Sample()
	res := broadcastResult(cfg, pubReply, replies)
	res.ClientCPU = cpuDelta(joined, replies)
	res.ServerCPU, res.CPUPerMillion, res.AllocsPerDeliv = serverCost(env.Target, before, after, float64(res.Deliveries))
	res.ServerDropped = Num(after.metric("wsd_dropped_messages_total") - before.metric("wsd_dropped_messages_total"))
	return res, nil
}

// joinMembers dials the members: worker 0 holds one probe per room (the publisher's window feedback),
// the other workers hold the rest, room = global index % Rooms.
func joinMembers(env Env, f *Fleet, cfg BroadcastConfig) ([]Reply, error) {
	cmds := make([]Cmd, f.Size())
	cmds[0] = Cmd{Op: opDial, URL: env.Target.URL, Mode: modeRead, N: cfg.Rooms, Rooms: cfg.Rooms, Conc: 1}
	rest := cfg.Rooms*cfg.Members - cfg.Rooms
	first := cfg.Rooms
	for i, s := range split(rest, f.Size()-1) {
		cmds[i+1] = Cmd{Op: opDial, URL: env.Target.URL, Mode: modeRead, N: s, First: first, Rooms: cfg.Rooms,
			Conc: cfg.DialConc}
		first += s
	}
	return dialCmds(env, f, cmds, fmt.Sprintf("join %d members", cfg.Rooms*cfg.Members), cfg.Rooms*cfg.Members)
}

func broadcastResult(cfg BroadcastConfig, pub Reply, members []Reply) *BroadcastResult {
	res := &BroadcastResult{Rooms: cfg.Rooms, Members: cfg.Members, Size: cfg.Size, Rate: cfg.Rate,
		Seconds: pub.Elapsed.Seconds(), Hist: &client.Histogram{}}
	for _, n := range pub.Sent {
		res.Sent += n
	}
	res.Expected = res.Sent * int64(cfg.Members)
	for _, r := range members {
		res.Deliveries += r.Received
		res.Lost += r.Lost
		res.Extra += r.Extra
		res.Dead += r.Dead
		res.Hist.Merge(r.Hist)
	}
	if res.Seconds > 0 {
		res.DeliveriesRate = float64(res.Deliveries) / res.Seconds
		res.PublishRate = float64(res.Sent) / float64(cfg.Rooms) / res.Seconds
	}
	res.Latency = latencyOf(res.Hist)
	return res
}
