package engine

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/frame/deflate"
	"github.com/openspeed/wsd/rooms"
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
	"golang.org/x/sys/unix"
)

// App is a WebSocket and HTTP server: routes registered with WS, Route, GET, POST, ... are served on
// one port by gnet event loops. Register routes before Start or Listen; after that the route table is
// read-only. All other methods are safe from any goroutine.
type App struct {
	cfg    Config
	router router
	start  time.Time
	bg     context.Context

	bufs    frame.Pool          // outbound frames and HTTP responses (header room reserved)
	ctl     frame.Pool          // ping, pong and close frames: at most 139 bytes, so apart from bufs
	msgs    bytebufferpool.Pool // reassembled inbound messages
	readers sync.Pool           // *reader
	frames  *rooms.FramePool    // shared (broadcast) frames
	deflate deflate.Pools       // permessage-deflate compressors and inflaters
	table   *rooms.Table[member]
	renders []renderHook // the RouteOptions.Render of the routes that set one (set before Start)
	idBase  string       // starts every connection id (random, per App)
	ids     atomic.Uint64

	loopsMu sync.Mutex
	loops   atomic.Pointer[[]*loop]

	conns        atomic.Int64              // open sockets
	minThreshold atomic.Int64              // the smallest compression threshold of the routes that compress
	ips          *ipTable                  // sockets per IP, when MaxConnectionsPerIP is set
	codecConns   [len(codecs)]atomic.Int64 // upgraded connections per codec
	draining     atomic.Bool
	drained      chan struct{} // closed when draining and conns reach 0
	drainMu      sync.Mutex

	eng       gnet.Engine
	addr      atomic.Pointer[net.TCPAddr]
	started   atomic.Bool
	booted    chan error
	runDone   chan struct{} // closed once the engine has stopped and everything the App started is gone
	runErr    error         // set before runDone is closed
	stopAsked atomic.Bool   // stopEngine was called: the engine's end is not a failure
	gnetErrs  *errorTail    // gnet's last error lines: the account of an unasked stop
	stopOnce  sync.Once
	busy      []byte // the 503 answer to a socket refused at accept whose request has arrived

	lastSweep  time.Time // last history sweep (ticker goroutine only)
	poke       chan struct{}
	stopTicker chan struct{}
	tickerDone chan struct{}
}

// New creates an App with cfg (zero fields take their defaults). Safe from any goroutine.
func New(cfg Config) *App {
	a := &App{
		cfg:        cfg.withDefaults(),
		idBase:     randomID(),
		start:      time.Now(),
		bg:         context.Background(),
		drained:    make(chan struct{}),
		booted:     make(chan error, 1),
		runDone:    make(chan struct{}),
		poke:       make(chan struct{}, 1),
		stopTicker: make(chan struct{}),
		tickerDone: make(chan struct{}),
		gnetErrs:   &errorTail{},
	}
	a.busy = busyResponse(a.cfg.RetryAfter)
	if a.cfg.MaxConnectionsPerIP > 0 {
		a.ips = newIPTable()
	}
	a.frames = rooms.NewFramePool(&a.bufs)
	a.table = rooms.New(rooms.Options[member]{
		Loops:         a.cfg.Loops,
		Fanout:        fanout{a},
		Broker:        a.cfg.Broker,
		Frames:        a.frames,
		Defaults:      rooms.RoomOptions{Limit: max(a.cfg.MaxRoomMembers, 0), History: resolveHistory(a.cfg.History)},
		HistoryBudget: max(a.cfg.HistoryBudget, 0),
		MaxName:       max(a.cfg.MaxRoomName, 0),
	})
	return a
}

// randomID is 8 random base32 characters.
func randomID() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

// Config returns the effective configuration (defaults applied). Safe from any goroutine.
func (a *App) Config() Config { return a.cfg }

// ErrEngineStopped is returned (wrapped) by Run and Err when the event loops stopped without a Shutdown
// or Drain asking for it (an error gnet cannot recover from, such as a listening socket that fails).
// The message carries gnet's last error log lines (gnet itself returns no error). Every connection
// was dropped; the App cannot be started again.
var ErrEngineStopped = errors.New("engine: event loops stopped unexpectedly")

// Start binds addr (host:port; port 0 picks a free one) and serves in the background. It returns once
// the server is listening, or the bind error. Call it once, after registering routes. If the server
// later stops without a Shutdown, Done is closed and Err says why. Any goroutine may call it.
func (a *App) Start(addr string) error {
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("engine: App already started")
	}
	if err := a.table.Start(); err != nil {
		return fmt.Errorf("engine: broker: %w", err)
	}
	go a.runTicker()
	go a.run(addr)
	if err := <-a.booted; err != nil {
		<-a.runDone
		return err
	}
	return nil
}

// Done is closed once the server has stopped, after a Shutdown or Drain or on its own (then Err is
// not nil), and every goroutine the App started has returned. Safe from any goroutine.
func (a *App) Done() <-chan struct{} { return a.runDone }

// Err is nil while the server runs and after a Shutdown or Drain; once the server has stopped on its
// own it is the reason (wrapping ErrEngineStopped). Safe from any goroutine.
func (a *App) Err() error {
	select {
	case <-a.runDone:
		return a.runErr
	default:
		return nil
	}
}

// Run serves on addr until ctx is done, then shuts down gracefully (Shutdown, giving connections
// Config.ShutdownTimeout to close). It returns the bind error, the error that stopped the server
// (wrapping ErrEngineStopped when it stopped on its own), or the Shutdown's error. Call it once, after
// registering routes, from any goroutine.
func (a *App) Run(ctx context.Context, addr string) error {
	if err := a.Start(addr); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		defer cancel()
		return a.Shutdown(sctx)
	case <-a.runDone:
		return a.runErr
	}
}

// run runs gnet until its engine stops, then stops what the App started (the timer goroutine, the
// broker) and records why it stopped: gnet.Run returns nil even when an event loop failed, so an end
// nobody asked for (stopEngine) is reported as ErrEngineStopped.
func (a *App) run(addr string) {
	defer close(a.runDone)
	h := &handler{app: a}
	err := gnet.Run(h, "tcp://"+addr, a.gnetOptions()...)
	switch {
	case !h.booted.Load():
		if err == nil {
			err = errors.New("gnet did not start")
		}
		err = fmt.Errorf("engine: listen %s: %w", addr, err)
		a.booted <- err
	case !a.stopAsked.Load():
		cause := a.gnetErrs.String()
		if err != nil {
			cause = err.Error()
		}
		err = fmt.Errorf("%w: %s", ErrEngineStopped, cause)
		a.cfg.Logger.Error("engine stopped unexpectedly: every connection was dropped", "err", err)
	}
	a.stopOnce.Do(func() { close(a.stopTicker) })
	<-a.tickerDone
	_ = a.table.Close()
	a.runErr = err
}

func (a *App) gnetOptions() []gnet.Option {
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(a.cfg.Loops),
		gnet.WithReadBufferCap(a.cfg.ReadBufferSize),
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{l: a.cfg.Logger, errs: a.gnetErrs}),
		// ReusePort stays off: the main reactor accepts, and it is the acceptor that backs off when
		// descriptors run out (third_party/gnet/README.md); with ReusePort the event loops would accept.
	}
	if a.cfg.TCPKeepAlive > 0 {
		opts = append(opts, gnet.WithTCPKeepAlive(a.cfg.TCPKeepAlive))
	}
	return opts
}

// Addr is the bound listening address once the server listens (nil before). Safe from any goroutine.
func (a *App) Addr() net.Addr {
	if p := a.addr.Load(); p != nil {
		return p
	}
	return nil
}

// boot runs in gnet's OnBoot: it learns the bound address.
func (a *App) boot(eng gnet.Engine) {
	a.eng = eng
	fd, err := eng.Dup()
	if err == nil {
		if sa, err := unix.Getsockname(fd); err == nil {
			a.addr.Store(sockaddrToTCP(sa))
		}
		_ = unix.Close(fd)
	}
	a.booted <- nil
}

func sockaddrToTCP(sa unix.Sockaddr) *net.TCPAddr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
	}
	return nil
}

// loopList returns the loops seen so far. Safe from any goroutine.
func (a *App) loopList() []*loop {
	if p := a.loops.Load(); p != nil {
		return *p
	}
	return nil
}

// loopFor returns (creating on first use) the engine state of a gnet event loop. Called on that loop.
func (a *App) loopFor(el gnet.EventLoop) *loop {
	for _, l := range a.loopList() {
		if l.el == el {
			return l
		}
	}
	a.loopsMu.Lock()
	defer a.loopsMu.Unlock()
	list := a.loopList()
	for _, l := range list {
		if l.el == el {
			return l
		}
	}
	l := newLoop(a, el, len(list))
	next := append(append([]*loop(nil), list...), l)
	a.loops.Store(&next)
	return l
}

// connClosed signals Shutdown once the last connection of a draining server is gone.
func (a *App) connClosed() {
	if a.draining.Load() && a.conns.Load() == 0 {
		a.signalDrained()
	}
}

func (a *App) signalDrained() {
	a.drainMu.Lock()
	defer a.drainMu.Unlock()
	select {
	case <-a.drained:
	default:
		close(a.drained)
	}
}

// Shutdown stops the server gracefully: Drain with 1001 "server shutting down". It returns ctx.Err()
// when the deadline cut the drain short, else nil. Safe from any goroutine.
func (a *App) Shutdown(ctx context.Context) error {
	_, err := a.Drain(ctx, frame.CloseGoingAway, "server shutting down")
	return err
}

// DrainReport counts what a drain did.
type DrainReport struct {
	Connections int // sockets open when the drain started
	Closed      int // of those, closed before the deadline (closing handshake done, or HTTP answered)
	Dropped     int // still open at the deadline, dropped
}

// Drain stops the server gracefully: new connections are refused, every WebSocket gets a close frame
// with code (1001 going away, or 1012 service restart) after the messages already queued for it, idle
// HTTP connections are closed and requests in progress answered first, and it waits for the
// connections to finish until ctx is done; then the rest are dropped and the event loops stop. Later
// calls wait for the first to finish and report nothing. Safe from any goroutine.
func (a *App) Drain(ctx context.Context, code CloseCode, reason string) (DrainReport, error) {
	if !a.started.Load() {
		return DrainReport{}, nil
	}
	var rep DrainReport
	var err error
	if a.draining.CompareAndSwap(false, true) {
		rep.Connections = int(a.conns.Load())
		a.closeAll(code, reason)
		if a.conns.Load() == 0 {
			a.signalDrained()
		}
		select {
		case <-a.drained:
		case <-ctx.Done():
			err = ctx.Err()
		case <-a.runDone:
		}
		rep.Dropped = int(max(a.conns.Load(), 0))
		rep.Closed = rep.Connections - rep.Dropped
		a.stopEngine()
	}
	<-a.runDone // run has stopped the timer goroutine and closed the broker
	return rep, err
}

// closeAll asks every loop to close its connections: WebSockets with code, HTTP ones at once.
func (a *App) closeAll(code frame.CloseCode, reason string) {
	for _, l := range a.loopList() {
		l.execute(func() {
			for _, c := range l.wheel.all() {
				c.shutdown(code, reason)
			}
		})
	}
}

// stopEngine tells gnet to stop and does not wait (gnet's Stop polls every 500 ms; we wait on run).
func (a *App) stopEngine() {
	a.stopAsked.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = a.eng.Stop(ctx)
}

// gnetLogger routes gnet's log lines to the App's logger. gnet reports epoll events that arrive for a
// socket it closed earlier in the same batch as "stale connection" warnings; they are normal under
// churn and are dropped. The last error lines are kept in errs: when the engine stops on its own,
// gnet.Run returns nil and they are the only account of why.
type gnetLogger struct {
	l    *slog.Logger
	errs *errorTail
}

func (g gnetLogger) Debugf(string, ...any) {}
func (g gnetLogger) Infof(string, ...any)  {}
func (g gnetLogger) Warnf(f string, args ...any) {
	if strings.Contains(f, "stale connection") {
		return
	}
	g.l.Warn("gnet: " + strings.TrimSpace(fmt.Sprintf(f, args...)))
}
func (g gnetLogger) Errorf(f string, args ...any) {
	g.error("gnet: " + strings.TrimSpace(fmt.Sprintf(f, args...)))
}
func (g gnetLogger) Fatalf(f string, args ...any) {
	g.error("gnet fatal: " + strings.TrimSpace(fmt.Sprintf(f, args...)))
}
func (g gnetLogger) error(msg string) {
	g.errs.add(msg)
	g.l.Error(msg)
}

// errorTail keeps the last few lines of a log. Safe from any goroutine.
type errorTail struct {
	mu    sync.Mutex
	lines []string
}

const errorTailLines = 4

func (e *errorTail) add(line string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.lines) == errorTailLines {
		e.lines = append(e.lines[:0], e.lines[1:]...)
	}
	e.lines = append(e.lines, line)
}

// String joins the lines kept, oldest first.
func (e *errorTail) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.lines) == 0 {
		return "gnet logged no error"
	}
	return strings.Join(e.lines, "; ")
}
