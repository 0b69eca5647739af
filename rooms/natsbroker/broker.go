package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openspeed/wsd/rooms"
)

// Broker is a rooms.Broker over NATS. Create it with New, hand it to engine.Config.Broker; the engine
// calls Start, and Close at shutdown. Every method is safe from any goroutine; none of the rooms.Broker
// methods blocks (they queue work for the broker's goroutine or read local state).
type Broker struct {
	opts      Options
	natsOpts  nats.Options
	roomPfx   string // "<prefix>.room."
	presSubj  string // "<prefix>.presence"
	pres      *presence
	stats     counters
	life      sync.Mutex  // serializes Start and Close
	started   bool        // Start was called (under life); it is not retried after an error
	ready     atomic.Bool // Start finished: nc and the goroutines exist
	closing   atomic.Bool
	connected atomic.Bool // maintained by the connection handlers
	subjects  sync.Map    // room → subject, for rooms this node is subscribed to
	hashed    sync.Map    // subject → room, for long (hashed) room names this node is subscribed to
	nc        *nats.Conn
	in        rooms.Inbound
	workers   []*worker
	queue     queue
	spare     []outMsg // the control goroutine's recycled publish slice
	wake      chan struct{}
	stop      chan struct{} // closed by Close: the control goroutine drains and exits
	ctlDone   chan struct{}
	wstop     chan struct{} // closed by Close after NATS is closed: the workers exit
	wg        sync.WaitGroup
	bufs      sync.Pool     // envelope buffers (*[]byte)
	natsGone  chan struct{} // closed by nats.go's ClosedHandler
}

// New checks opts, fills in its defaults and returns a Broker that is not connected yet (Start
// connects). It fails only on invalid options: a malformed URL, NodeID or Prefix, or a failing
// nats.Option.
func New(opts Options) (*Broker, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Broker{
		opts:     o,
		roomPfx:  o.Prefix + ".room.",
		presSubj: o.Prefix + ".presence",
		pres:     newPresence(o.NodeID, o.PresenceTTL),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		ctlDone:  make(chan struct{}),
		wstop:    make(chan struct{}),
		natsGone: make(chan struct{}),
	}
	b.queue.limit = o.PublishQueue
	b.bufs.New = func() any { p := make([]byte, 0, 512); return &p }
	if err := b.buildNATSOptions(); err != nil {
		return nil, err
	}
	return b, nil
}

// buildNATSOptions applies the broker's defaults, then the user's options, then wraps the connection
// handlers so the broker's bookkeeping runs before the user's.
func (b *Broker) buildNATSOptions() error {
	no := nats.GetDefaultOptions()
	servers, _ := parseURLs(b.opts.URL)
	no.Servers = servers
	defaults := []nats.Option{
		nats.Name("wsd " + b.opts.NodeID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(defaultReconnectWait),
		nats.RetryOnFailedConnect(true),
		nats.NoEcho(),
	}
	for _, opt := range append(defaults, b.opts.NATS...) {
		if err := opt(&no); err != nil {
			return fmt.Errorf("natsbroker: nats option: %w", err)
		}
	}
	b.wrapHandlers(&no)
	b.natsOpts = no
	return nil
}

func (b *Broker) wrapHandlers(no *nats.Options) {
	log := b.opts.Logger
	userConnected, userReconnected := no.ConnectedCB, no.ReconnectedCB
	userDisconnected, userDisconnectedErr := no.DisconnectedCB, no.DisconnectedErrCB
	userClosed, userAsyncErr := no.ClosedCB, no.AsyncErrorCB
	no.ConnectedCB = func(nc *nats.Conn) {
		b.connected.Store(true)
		log.Info("natsbroker: connected", "node", b.opts.NodeID, "server", nc.ConnectedUrlRedacted())
		callConn(userConnected, nc)
	}
	no.ReconnectedCB = func(nc *nats.Conn) {
		b.connected.Store(true)
		b.stats.reconnects.Add(1)
		log.Info("natsbroker: reconnected", "node", b.opts.NodeID, "server", nc.ConnectedUrlRedacted())
		callConn(userReconnected, nc)
	}
	no.DisconnectedCB = nil
	no.DisconnectedErrCB = func(nc *nats.Conn, err error) {
		b.connected.Store(false)
		if !b.closing.Load() {
			b.stats.disconnects.Add(1)
			log.Warn("natsbroker: disconnected; local delivery continues, cross-node messages may be lost",
				"node", b.opts.NodeID, "err", err)
		}
		if userDisconnectedErr != nil {
			userDisconnectedErr(nc, err)
		} else {
			callConn(userDisconnected, nc)
		}
	}
	no.ClosedCB = func(nc *nats.Conn) {
		b.connected.Store(false)
		callConn(userClosed, nc)
		close(b.natsGone)
	}
	no.AsyncErrorCB = func(nc *nats.Conn, sub *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrSlowConsumer) {
			b.stats.slowConsumer.Add(1)
		}
		log.Warn("natsbroker: async error", "node", b.opts.NodeID, "err", err)
		if userAsyncErr != nil {
			userAsyncErr(nc, sub, err)
		}
	}
}

func callConn(fn nats.ConnHandler, nc *nats.Conn) {
	if fn != nil {
		fn(nc)
	}
}

// NodeID is this node's id (Options.NodeID or the random default).
func (b *Broker) NodeID() string { return b.opts.NodeID }

// Subject is the NATS subject the broker uses for room.
func (b *Broker) Subject(room string) string {
	tok, _ := roomToken(room)
	return b.roomPfx + tok
}

// Start connects to NATS and starts the broker's goroutines; messages from other nodes go to in.
// Called once (by the engine), before any other method. It returns an error only when the connection
// cannot even be attempted (bad TLS or credential options...): an unreachable server is retried in the
// background forever (nats.RetryOnFailedConnect), local delivery works meanwhile, and the
// subscriptions and presence reports queued in the meantime go out once connected.
func (b *Broker) Start(in rooms.Inbound) error {
	b.life.Lock()
	defer b.life.Unlock()
	if b.started || b.closing.Load() {
		return errors.New("natsbroker: already started or closed")
	}
	b.started, b.in = true, in
	nc, err := b.natsOpts.Connect()
	if err != nil {
		return fmt.Errorf("natsbroker: connect: %w", err)
	}
	if _, err := nc.Subscribe(b.presSubj, b.onPresence); err != nil {
		nc.Close()
		return fmt.Errorf("natsbroker: subscribe presence: %w", err)
	}
	b.nc = nc
	b.startWorkers()
	go b.control()
	b.ready.Store(true)
	return nil
}

// startWorkers starts the receive workers: a room always maps to the same worker, so messages of one
// room are delivered in the order NATS delivered them.
func (b *Broker) startWorkers() {
	n := min(max(runtime.GOMAXPROCS(0), 1), 8)
	b.workers = make([]*worker, n)
	for i := range b.workers {
		w := &worker{b: b, ch: make(chan *nats.Msg, b.opts.InboundQueue), variants: make([][]byte, maxVariants)}
		b.workers[i] = w
		b.wg.Add(1)
		go w.run()
	}
}

// Connected reports whether the broker is connected to a NATS server (as of the last connection event
// nats.go reported). It does not block.
func (b *Broker) Connected() bool { return b.connected.Load() }

// Flush waits until every Interest and Publish call made before it has been handed to NATS, and the
// NATS server has processed them (a PING/PONG round trip): after it, the server knows this node's
// subscriptions. For tests and orderly hand-overs; it blocks, never call it from an event loop.
func (b *Broker) Flush(ctx context.Context) error {
	if !b.ready.Load() || b.closing.Load() {
		return errors.New("natsbroker: not running")
	}
	done := make(chan struct{})
	b.queue.mu.Lock()
	b.queue.flushers = append(b.queue.flushers, done)
	b.queue.mu.Unlock()
	b.kick()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.ctlDone:
		return errors.New("natsbroker: closed")
	}
	return b.nc.FlushWithContext(ctx)
}

// Close says goodbye to the other nodes (they drop this node's counts at once), hands the broadcasts
// still queued to NATS, closes the connection and stops the broker's goroutines. Broadcasts published
// after Close are not sent. Safe to call more than once.
func (b *Broker) Close() error {
	b.life.Lock()
	defer b.life.Unlock()
	if b.closing.Swap(true) || !b.ready.Load() {
		return nil
	}
	close(b.stop)
	<-b.ctlDone
	b.nc.Close() // flushes what is buffered
	close(b.wstop)
	b.wg.Wait()
	select {
	case <-b.natsGone:
	case <-time.After(5 * time.Second):
		b.opts.Logger.Warn("natsbroker: NATS close callback did not run", "node", b.opts.NodeID)
	}
	return nil
}

// Sequenced implements rooms.Broker: over core NATS the broker is a relay (every node sequences what it
// delivers itself).
func (b *Broker) Sequenced() bool { return false }

// errNotSequenced answers History: a relay keeps no history.
var errNotSequenced = errors.New("natsbroker: no cluster history (core NATS relay)")

// History implements rooms.Broker: a relay has no cluster history.
func (b *Broker) History(room string, since rooms.Position, limit int, done func(rooms.HistoryReply)) {
	done(rooms.HistoryReply{Err: errNotSequenced})
}

// RemoteCount is the number of members of room on the other nodes, as they last reported (within
// PresenceTTL). It reads local state under a read lock; safe from event loops with room locks held.
func (b *Broker) RemoteCount(room string) int { return b.pres.count(room, time.Now()) }

// RemoteRooms lists the rooms the other nodes reported members in, with their summed counts.
func (b *Broker) RemoteRooms() map[string]int { return b.pres.rooms(time.Now()) }

// onPresence handles a presence report (on nats.go's delivery goroutine for the presence subscription).
func (b *Broker) onPresence(m *nats.Msg) {
	h, entries, err := decodePresence(m.Data)
	if err != nil {
		b.stats.decodeErrors.Add(1)
		return
	}
	b.stats.presenceReceived.Add(1)
	b.pres.apply(h, entries, time.Now())
}

// logger returns the configured logger.
func (b *Broker) logger() *slog.Logger { return b.opts.Logger }

var _ rooms.Broker = (*Broker)(nil)
