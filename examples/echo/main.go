// Command echo is the basic example of the TypeScript plugin's documentation: a client connected to
// /echo gets every message it sends back as "Echo: <data>", and every closed connection is logged as
// "Connection closed".
//
// A text message is answered with a text message. A binary message is answered with a binary message,
// "Echo: " followed by its bytes: the plugin's `Echo: ${message}` would decode the bytes as UTF-8,
// and a text frame must not carry invalid UTF-8, so the example keeps the opcode (the engine's
// Message.Data gives the bytes whatever the opcode). The log goes to Config.Logger (slog.Default
// when nil), with the close code the peer sent.
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

	"github.com/openspeed/wsd/engine"
)

// prefix starts every answer.
const prefix = "Echo: "

// newApp builds the example's server: one WebSocket route, /echo.
func newApp(cfg engine.Config) *engine.App {
	app := engine.New(cfg)
	logger := app.Config().Logger
	app.WS("/echo", func(ws *engine.Conn, _ *engine.Context) {
		ws.OnMessage(func(m engine.Message) {
			if m.Opcode() == engine.OpText {
				_ = ws.Send(prefix + m.Text())
				return
			}
			_ = ws.Send(append([]byte(prefix), m.Data()...))
		})
		ws.OnClose(func(c engine.CloseInfo) {
			logger.Info("Connection closed", "code", int(c.Code))
		})
	})
	return app
}

func main() {
	addr := flag.String("addr", ":3000", "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp(engine.Config{}).Run(ctx, *addr); err != nil {
		log.Print(err)
	}
}
