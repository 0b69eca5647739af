// Command wsd is a WebSocket server: `go run ./cmd/wsd` serves on :3000 with in-process defaults.
//
// Routes:
//
//	GET  /echo                  WebSocket: every data message is sent back unchanged (same opcode)
//	GET  /rooms/:room           WebSocket raw relay: data messages go unchanged to the room's other members
//	GET  /chat/:room?user=      WebSocket chat: join/leave notices, messages as JSON {"user","message"}
//	GET  /rooms                 JSON list of rooms and their connection counts
//	GET  /rooms/:room/info      JSON {"room","connections","messages"} (the room's last messages)
//	POST /rooms/:room/publish   the request body is sent to every member of the room
//	GET  /healthz               200 "ok" while the server is up
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/openspeed/wsd/engine"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wsd:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("wsd", flag.ContinueOnError)
	addr := fs.String("addr", ":3000", "listen address (host:port)")
	grace := fs.Duration("shutdown-grace", 10*time.Second, "how long SIGTERM/SIGINT waits for connections to close")
	var ac authConfig
	fs.StringVar(&ac.Secret, "jwt-secret", "", "HS256 secret: WebSocket upgrades need a JWT (?token= or Authorization: Bearer)")
	fs.StringVar(&ac.KeyFile, "jwt-key", "", "PEM public key file (RS256 or ES256) for JWT authentication")
	if err := fs.Parse(args); err != nil {
		return err
	}
	auth, err := newAuthenticator(ac)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	app := newApp(engine.Config{Logger: logger, RoomHistory: 50}, auth)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	if err := app.Start(*addr); err != nil {
		return err
	}
	logger.Info("wsd listening", "addr", app.Addr().String())
	sig := <-sigs
	code, reason := engine.CloseGoingAway, "server shutting down"
	if sig == syscall.SIGUSR1 {
		code, reason = engine.CloseServiceRestart, "server restarting"
	}
	logger.Info("wsd draining", "signal", sig.String(), "code", int(code), "grace", *grace)
	ctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	rep, err := app.Drain(ctx, code, reason)
	logger.Info("wsd stopped", "connections", rep.Connections, "closed", rep.Closed, "dropped", rep.Dropped)
	if err != nil {
		logger.Warn("drain cut short by the grace period", "err", err)
	}
	return nil
}

// newApp builds the server with the built-in routes; auth (nil: off) guards the WebSocket upgrades.
func newApp(cfg engine.Config, auth *authenticator) *engine.App {
	app := engine.New(cfg)
	guard := engine.RouteOptions{ReleaseContext: true}
	if auth != nil {
		guard.Upgrade = auth.upgrade
	}
	echoOpts := guard
	app.Route("/echo", engine.Handlers{
		Message: func(ws *engine.Conn, m engine.Message) { _ = ws.SendMessage(m) },
		Options: echoOpts,
	})
	app.Route("/rooms/:room", roomsRelay(guard))
	app.WS("/chat/:room", chat, engine.RouteOptions{Upgrade: guard.Upgrade})
	app.GET("/rooms", listRooms(app))
	app.GET("/rooms/:room/info", roomInfo(app))
	app.POST("/rooms/:room/publish", publish(app))
	app.GET("/healthz", func(ctx *engine.Context) error { return ctx.String(200, "ok\n") })
	return app
}
