// Command heartbeat shows both heartbeats of the seed's docs.
//
// The engine's own: a WebSocket that has sent nothing for PingInterval gets a ping frame, and one that
// has sent nothing at all, not even the pong every client answers a ping with, for IdleTimeout is closed
// with 1001 "idle timeout" (its close handler sees CloseInfo.Err == engine.ErrIdleTimeout). Browsers
// and client libraries answer pings by themselves, so only dead or stuck peers are dropped. The
// example sets them small (200 ms / 600 ms) so the effect shows within a second; the defaults (30 s /
// 60 s) suit production. There is no timer or goroutine per connection: one timing wheel per loop.
//
// The application's own, for clients that cannot see ping frames (browser JavaScript): the client
// sends {"type":"ping"} and the server answers {"type":"pong","time":<Unix milliseconds>}.
//
// Every close is logged to Config.Logger as "closed" with the peer's close code and whether the idle
// timeout caused it.
//
//	go run ./examples/heartbeat
//	websocat ws://localhost:3000/heartbeat
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/openspeed/wsd/engine"
)

// The example's heartbeat settings, used where the Config leaves them zero.
const (
	pingInterval = 200 * time.Millisecond
	idleTimeout  = 600 * time.Millisecond
)

type pong struct {
	Type string `json:"type"`
	Time int64  `json:"time"`
}

// newApp builds the example's server.
func newApp(cfg engine.Config) *engine.App {
	if cfg.PingInterval == 0 {
		cfg.PingInterval = pingInterval
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = idleTimeout
	}
	app := engine.New(cfg)
	logger := app.Config().Logger
	app.WS("/heartbeat", func(ws *engine.Conn, _ *engine.Context) {
		ws.On("ping", func(engine.Event) {
			_ = ws.Send(pong{Type: "pong", Time: time.Now().UnixMilli()})
		})
		ws.OnClose(func(c engine.CloseInfo) {
			logger.Info("closed", "code", int(c.Code), "idle", errors.Is(c.Err, engine.ErrIdleTimeout))
		})
	})
	return app
}

func main() {
	addr := flag.String("addr", ":3000", "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp(engine.Config{}).Run(ctx, *addr, 5*time.Second); err != nil {
		log.Print(err)
	}
}
