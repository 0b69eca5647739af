// Command heartbeat is the heartbeat example of the TypeScript plugin's documentation: the server
// pings every client of /heartbeat every 30 seconds (ws.Ping, the plugin's ws.ping() from a
// setInterval) and handles the pongs (ws.OnPong, the plugin's ws.on('pong')): each pong is logged as
// "Received pong" to Config.Logger, and the interval stops when the connection closes.
//
// Clients answer a ping by themselves (browsers and client libraries do), so a live client sends a
// pong at least every 30 s. The route sets its IdleTimeout to three intervals: a client that has sent
// nothing, not even a pong, for that long (two pings in a row unanswered) is closed with 1001
// "idle timeout". The engine's own pings are off on this route (RouteOptions.PingInterval negative),
// since the application sends them.
//
// The engine can do all of this by itself, and at scale it should: Config.PingInterval (default 30 s)
// pings a WebSocket that has sent nothing for that long, and Config.IdleTimeout (default 2 ×
// PingInterval, 60 s) closes one that has sent nothing at all for that long, both from one timing
// wheel per event loop, with no timer or goroutine per connection. This example keeps one runtime
// timer per connection (time.AfterFunc, which runs its function on a goroutine of its own each time
// it fires), which is the plugin's setInterval but costs a timer per client.
//
//	go run ./examples/heartbeat
//	websocat ws://localhost:3000/heartbeat
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/openspeed/wsd/engine"
)

// pingInterval is the plugin's: a ping every 30 seconds.
const pingInterval = 30 * time.Second

// newApp builds the example's server, pinging every interval.
func newApp(cfg engine.Config, interval time.Duration) *engine.App {
	app := engine.New(cfg)
	logger := app.Config().Logger
	app.Route("/heartbeat", engine.Handlers{
		Open: func(ws *engine.Conn, _ *engine.Context) {
			h := startHeartbeat(ws, interval)
			ws.OnPong(func([]byte) { logger.Info("Received pong") })
			ws.OnClose(func(engine.CloseInfo) { h.stop() }) // the plugin's clearInterval
		},
		Options: engine.RouteOptions{PingInterval: -1, IdleTimeout: 3 * interval},
	})
	return app
}

// heartbeat pings one connection every interval until stopped: the plugin's setInterval.
type heartbeat struct {
	ws       *engine.Conn
	interval time.Duration
	mu       sync.Mutex // guards timer and stopped against a beat running as stop is called
	timer    *time.Timer
	stopped  bool
}

func startHeartbeat(ws *engine.Conn, interval time.Duration) *heartbeat {
	h := &heartbeat{ws: ws, interval: interval}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.timer = time.AfterFunc(interval, h.beat)
	return h
}

// beat runs on the timer's goroutine: Ping is safe from any goroutine.
func (h *heartbeat) beat() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	if err := h.ws.Ping(nil); err != nil { // closing: OnClose is on its way
		h.stopped = true
		return
	}
	h.timer.Reset(h.interval)
}

func (h *heartbeat) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	h.timer.Stop()
}

func main() {
	addr := flag.String("addr", ":3000", "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp(engine.Config{}, pingInterval).Run(ctx, *addr); err != nil {
		log.Print(err)
	}
}
