// Command echo is the seed's basic WebSocket example: every message a client sends comes back to it
// unchanged, text as text and binary as binary.
//
//	go run ./examples/echo -addr :3000
//	websocat ws://localhost:3000/echo
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/openspeed/wsd/engine"
)

// newApp builds the example's server: one WebSocket route, /echo.
func newApp(cfg engine.Config) *engine.App {
	app := engine.New(cfg)
	app.WS("/echo", func(ws *engine.Conn, _ *engine.Context) {
		ws.OnMessage(func(m engine.Message) {
			_ = ws.SendMessage(m) // same opcode, bytes copied before the handler returns
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
