package loadtest

import (
	"time"

	"github.com/openspeed/wsd/loadtest/client"
)

// The parent talks to each worker process with JSON lines: one Cmd on the worker's stdin, any number
// of progress Replies, then one final Reply with the same Op on its stdout.

// Worker commands.
const (
	opDial     = "dial"     // open N connections (Mode idle, echo or read)
	opEcho     = "echo"     // run the echo load over the echo connections
	opPublish  = "publish"  // publish into Rooms rooms at Rate (0: as fast as Window allows)
	opCollect  = "collect"  // wait until readers got Expect messages, report counts and latency
	opClose    = "close"    // close every connection with a closing handshake
	opExit     = "exit"     // close and exit
	opSoak     = "soak"     // run the worker's share of the soak (Soak) and report
	opProgress = "progress" // (reply only) progress of a long command
)

// Dial modes.
const (
	modeIdle = "idle" // no goroutine per connection; pings answered by periodic sweeps
	modeEcho = "echo" // kept for echo runs
	modeRead = "read" // one reader goroutine per connection counting broadcast deliveries
)

// Cmd is one command to a worker.
type Cmd struct {
	Op       string        `json:"op"`
	URL      string        `json:"url,omitempty"`   // ws:// URL, {room} replaced by the room number
	N        int           `json:"n,omitempty"`     // dial: connections to open
	First    int           `json:"first,omitempty"` // dial: global index of the first one (room = index % Rooms)
	Mode     string        `json:"mode,omitempty"`
	Rooms    int           `json:"rooms,omitempty"`
	Conc     int           `json:"conc,omitempty"` // dial: parallel dialers
	Size     int           `json:"size,omitempty"` // payload bytes
	Depth    int           `json:"depth,omitempty"`
	Binary   bool          `json:"binary,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
	Rate     float64       `json:"rate,omitempty"`   // publish: messages/s per room; 0: max
	Window   int           `json:"window,omitempty"` // publish at max rate: messages in flight per room
	Expect   []int64       `json:"expect,omitempty"` // collect: messages per member, by room
	Timeout  time.Duration `json:"timeout,omitempty"`
	Soak     *SoakPlan     `json:"soak,omitempty"`
}

// Reply is a worker's answer (or progress report) to a Cmd.
type Reply struct {
	Op       string             `json:"op"`
	Err      string             `json:"err,omitempty"`
	Done     int64              `json:"done,omitempty"` // progress: connections, messages...
	Conns    int                `json:"conns,omitempty"`
	Failed   int                `json:"failed,omitempty"`
	FirstErr string             `json:"first_err,omitempty"`
	Elapsed  time.Duration      `json:"elapsed,omitempty"`
	Msgs     int64              `json:"msgs,omitempty"`
	Sent     []int64            `json:"sent,omitempty"` // publish: messages per room
	Received int64              `json:"received,omitempty"`
	Lost     int64              `json:"lost,omitempty"`
	Extra    int64              `json:"extra,omitempty"` // deliveries beyond the expected count
	Dead     int                `json:"dead,omitempty"`  // connections lost during the command
	Closed   int                `json:"closed,omitempty"`
	CPU      time.Duration      `json:"cpu,omitempty"` // the worker's CPU time (user + system) so far
	Hist     *client.Histogram  `json:"hist,omitempty"`
	Sweep    *client.SweepStats `json:"sweep,omitempty"`
	Soak     *SoakReport        `json:"soak,omitempty"`
}
