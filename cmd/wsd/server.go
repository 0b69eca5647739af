package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/rooms/natsbroker"
)

// server is the engine App with wsd's built-in routes and what an operated server adds around it:
// readiness (GET /readyz turns 503 when a drain begins), the loop-lag probe behind
// wsd_loop_lag_seconds, the pprof listener, and the NATS broker of a cluster node. Start, Drain and
// Shutdown wrap the App's (the App starts and closes the broker).
type server struct {
	*engine.App
	cfg    *Config
	log    *slog.Logger
	broker *natsbroker.Broker // nil: single node
	auth   *authenticator     // nil: authentication off

	draining atomic.Bool  // set before the drain starts: /readyz answers 503
	lag      atomic.Int64 // nanoseconds, the last probe's worst loop lag

	pprof      *pprofServer
	stopProbe  context.CancelFunc
	probeDone  chan struct{}
	extrasOnce sync.Once
}

// newServer builds the server the configuration describes (routes registered, not started).
func newServer(c *Config, log *slog.Logger) (*server, error) {
	auth, err := newAuthenticator(authConfig{Secret: c.Auth.JWTSecret, KeyFile: c.Auth.JWTKeyFile,
		Audience: c.Auth.Audience, Issuer: c.Auth.Issuer})
	if err != nil {
		return nil, err
	}
	ec := c.engineConfig(log, newRejectLog(log, c.Log.RejectsPerSecond).hook())
	ec.OnRateLimit = newRateLog(log, c.Log.RejectsPerSecond).hook()
	var app *engine.App // set below, before the App (and so the broker) starts
	b, err := c.Cluster.broker(log, func(room string) int { return app.LocalCount(room) })
	if err != nil {
		return nil, err
	}
	if b != nil {
		ec.Broker = b
	}
	s := buildServer(ec, c, auth)
	app = s.App
	return s, nil
}

// buildServer registers the routes c turns on over an App made from ec; auth (nil: off) guards the
// WebSocket upgrades.
func buildServer(ec engine.Config, c *Config, auth *authenticator) *server {
	app := engine.New(ec)
	s := &server{App: app, cfg: c, log: app.Config().Logger, auth: auth}
	s.broker, _ = ec.Broker.(*natsbroker.Broker)
	s.wsRoutes(auth)
	s.pageRoutes()
	s.GET("/healthz", func(ctx *engine.Context) error { return ctx.String(http.StatusOK, "ok\n") })
	s.GET("/readyz", s.readyz)
	if c.API.Enabled {
		s.apiRoutes()
	}
	if c.Metrics.Enabled {
		s.GET("/metrics", newMetrics(s).serve)
	}
	return s
}

// readyz is GET /readyz: 200 while the server accepts connections, 503 from the moment a drain
// begins (drain_delay gives load balancers time to notice before connections are closed).
func (s *server) readyz(ctx *engine.Context) error {
	if s.draining.Load() {
		return ctx.String(http.StatusServiceUnavailable, "draining\n")
	}
	return ctx.String(http.StatusOK, "ready\n")
}

// Start starts the pprof listener when configured, then the App, then the lag probe.
func (s *server) Start(addr string) error {
	if s.cfg.Pprof.Addr != "" {
		p, err := startPprof(s.cfg.Pprof.Addr)
		if err != nil {
			return err
		}
		s.pprof = p
	}
	if err := s.App.Start(addr); err != nil {
		s.stopExtras()
		return err
	}
	if s.cfg.Metrics.Enabled {
		ctx, cancel := context.WithCancel(context.Background())
		s.stopProbe, s.probeDone = cancel, make(chan struct{})
		go s.probe(ctx, time.Duration(s.cfg.Metrics.LagInterval))
	}
	return nil
}

// Drain marks the server not ready, waits drain_delay (or until ctx is done) while still serving,
// then drains the App (see engine.App.Drain) and stops the probe and pprof. Later calls skip the
// delay and wait for the first drain, as App.Drain does.
func (s *server) Drain(ctx context.Context, code engine.CloseCode, reason string) (engine.DrainReport, error) {
	first := s.draining.CompareAndSwap(false, true)
	if d := time.Duration(s.cfg.DrainDelay); d > 0 && first {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	rep, err := s.App.Drain(ctx, code, reason)
	s.stopExtras()
	return rep, err
}

// Shutdown is Drain with 1001 "server shutting down".
func (s *server) Shutdown(ctx context.Context) error {
	_, err := s.Drain(ctx, engine.CloseGoingAway, "server shutting down")
	return err
}

// stopExtras stops the probe and the pprof server, once.
func (s *server) stopExtras() {
	s.extrasOnce.Do(func() {
		if s.stopProbe != nil {
			s.stopProbe()
			<-s.probeDone
		}
		if s.pprof != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			s.pprof.close(ctx)
		}
	})
}

// probe reads the event loops' lag (Stats.LoopLag: the wait of their last timer task) every interval
// and gives memory back after a drop in connections (reclaimer).
func (s *server) probe(ctx context.Context, every time.Duration) {
	defer close(s.probeDone)
	t := time.NewTicker(every)
	defer t.Stop()
	var rc reclaimer
	for {
		st := s.App.Stats()
		s.lag.Store(int64(st.LoopLag))
		rc.check(int(st.Connections))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// loopLag is the last probe's result (0 before the first).
func (s *server) loopLag() time.Duration { return time.Duration(s.lag.Load()) }
