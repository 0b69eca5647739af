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
// methods blocks (they queue work for the broker's goroutines or read local state).
type Broker struct {
	opts      Options
	natsOpts  nats.Options
	roomPfx   string // "<prefix>.room." (relay)
	storedPfx string // "<prefix>.js." (JetStream: stored subjects)
	livePfx   string // "<prefix>.live." (JetStream: republished subjects)
	presSubj  string // "<prefix>.presence"
	membSubj  string // "<prefix>.members"
	pres      *presence
	local     localMembers
	remote    *remoteMembers
	stats     counters
	life      sync.Mutex  // serializes Start and Close
	started   bool        // Start was called (under life); it is not retried after an error
	ready     atomic.Bool // Start finished: nc and the goroutines exist
	closing   atomic.Bool
	silent    atomic.Bool // Close without goodbye (tests: a crash as the other nodes see it)
	connected atomic.Bool // maintained by the connection handlers
	sequenced atomic.Bool // JetStream mode (set by Start, constant afterwards)
	js        *jsMode     // JetStream mode's state (set by Start)
	subjects  sync.Map    // room → subject, for rooms this node is subscribed to
	hashed    sync.Map    // subject → room, for long (hashed) room names this node is subscribed to
	nc        *nats.Conn
	in        rooms.Inbound
	inbox     string // where other nodes send this node presence snapshots
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
	firstConn chan struct{} // closed at the first connection
	firstOnce sync.Once
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
		opts:      o,
		roomPfx:   o.Prefix + ".room.",
		storedPfx: o.Prefix + ".js.",
		livePfx:   o.Prefix + ".live.",
		presSubj:  o.Prefix + ".presence",
		membSubj:  o.Prefix + ".members",
		pres:      newPresence(o.NodeID, o.PresenceTTL),
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		ctlDone:   make(chan struct{}),
		wstop:     make(chan struct{}),
		natsGone:  make(chan struct{}),
		firstConn: make(chan struct{}),
	}
	b.local.rooms = make(map[string]map[string]string)
	b.remote = &remoteMembers{self: o.NodeID, ttl: o.PresenceTTL, nodes: make(map[string]*remoteNode), ask: b.askSnapshot}
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
		b.firstOnce.Do(func() { close(b.firstConn) })
		log.Info("natsbroker: connected", "node", b.opts.NodeID, "server", nc.ConnectedUrlRedacted())
		callConn(userConnected, nc)
	}
	no.ReconnectedCB = func(nc *nats.Conn) {
		b.connected.Store(true)
		b.stats.reconnects.Add(1)
		log.Info("natsbroker: reconnected", "node", b.opts.NodeID, "server", nc.ConnectedUrlRedacted())
		if b.ready.Load() && b.js != nil {
			b.recheckAll() // live messages were lost meanwhile: read them back from the stream
		}
		b.kick()
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
			if b.ready.Load() && b.js != nil {
				b.recheckAll()
			}
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

// Start connects to NATS, chooses the mode (Options.History) and starts the broker's goroutines;
// messages from other nodes go to in. Called once (by the engine), before any other method.
//
// With History off, Start does not wait: an unreachable server is retried in the background
// forever (nats.RetryOnFailedConnect), local delivery works meanwhile, and the subscriptions and
// presence reports queued in the meantime go out once connected. With History auto or jetstream,
// Start waits up to StartTimeout for the first connection and the stream, because the mode must be
// known before the first publication: auto then falls back to the relay (logged), jetstream
// returns an error. Start also fails when the connection cannot even be attempted (bad TLS or
// credential options...).
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
	b.nc = nc
	err = b.chooseMode()
	if err == nil {
		err = b.subscribeCluster()
	}
	if err != nil {
		if b.js != nil {
			b.js.rq.close()
		}
		nc.Close()
		<-b.natsGone
		return err
	}
	b.startWorkers()
	go b.control()
	b.ready.Store(true)
	return nil
}

// chooseMode decides between JetStream and the relay (Options.History) and logs it once.
func (b *Broker) chooseMode() error {
	log, o := b.logger(), b.opts
	if o.History == HistoryOff {
		log.Info("natsbroker: history off: live fan-out only: clients cannot recover across nodes", "node", o.NodeID)
		return nil
	}
	deadline := time.Now().Add(o.StartTimeout)
	var reason error
	select {
	case <-b.firstConn:
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		m, err := b.setupJetStream(ctx)
		cancel()
		if err == nil {
			b.js = m
			b.sequenced.Store(true)
			log.Info("natsbroker: JetStream history: offsets and history are cluster-wide", "node", o.NodeID,
				"stream", o.Stream, "storage", o.Storage, "history_size", o.HistorySize, "history_ttl", o.HistoryTTL)
			return nil
		}
		reason = err
	case <-time.After(o.StartTimeout):
		reason = fmt.Errorf("natsbroker: NATS not reachable within %v", o.StartTimeout)
	}
	if o.History == HistoryJetStream {
		return fmt.Errorf("natsbroker: History %q: %w", o.History, reason)
	}
	log.Warn("natsbroker: live fan-out only: clients cannot recover across nodes", "node", o.NodeID,
		"reason", reason.Error())
	return nil
}

// subscribeCluster subscribes to the counts reports, the presence messages and this node's
// snapshot inbox.
func (b *Broker) subscribeCluster() error {
	b.inbox = b.nc.NewInbox()
	subs := []struct {
		subj string
		fn   nats.MsgHandler
	}{{b.presSubj, b.onPresence}, {b.membSubj, b.onMembers}, {b.inbox, b.onMembers}}
	for _, s := range subs {
		sub, err := b.nc.Subscribe(s.subj, s.fn)
		if err != nil {
			return fmt.Errorf("natsbroker: subscribe %s: %w", s.subj, err)
		}
		_ = sub.SetPendingLimits(-1, 64<<20)
	}
	b.local.inc = randomInc()
	return nil
}

// startWorkers starts the receive workers: a room always maps to the same worker, so messages of one
// room are delivered in the order NATS delivered them.
func (b *Broker) startWorkers() {
	n := min(max(runtime.GOMAXPROCS(0), 1), 8)
	b.workers = make([]*worker, n)
	for i := range b.workers {
		w := &worker{b: b, ch: make(chan *nats.Msg, b.opts.InboundQueue), variants: make([][]byte, maxVariants),
			rooms: make(map[string]*liveRoom), mail: mailbox{ready: make(chan struct{}, 1)}}
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
	if m := b.js; m != nil {
		m.cancel()
		m.rq.close()
		m.seq.close()
		m.hwg.Wait()
	}
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

// Sequenced implements rooms.Broker: true in JetStream mode (the stream sequences publications),
// false for the core NATS relay (every node sequences what it delivers itself). Fixed by Start.
func (b *Broker) Sequenced() bool { return b.sequenced.Load() }

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
