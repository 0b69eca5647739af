// Command errors is the error-handling example of the TypeScript plugin's documentation, on the
// plugin's route /robust, with route handlers (engine.Handlers).
//
// The protocol of /robust: {"type":"echo","text":"..."} is answered {"type":"echo","text":"..."}, and
// {"type":"crash"} makes its handler panic (standing in for a bug). (The plugin's example leaves the
// protocol open; these two events show a good message and a failing handler.)
//
// What happens on errors:
//
//   - A message the example does not understand (not JSON, JSON that is not an object, an object without
//     a string "type", a type nobody handles, a binary message) is not an event, so the engine hands it
//     to the message handler, which answers {"type":"error","error":"invalid message"} and keeps the
//     connection open. This answer is the example's choice: the engine itself never answers a message.
//   - A handler panic is recovered by the engine: the process and the other connections carry on, the
//     error handler receives an *engine.PanicError, and that one connection is closed with 1011
//     (internal error).
//   - A protocol violation by the client (say invalid UTF-8 in a text frame) reaches the error handler
//     as a *frame.ProtocolError, and the connection is closed with the code it implies (1007 here).
//
// The error handler logs "connection error" to Config.Logger (with whether it was a panic, and of which
// event), and the close handler logs "closed" with the peer's code and the error, if any.
//
//	go run ./examples/errors
//	websocat ws://localhost:3000/robust
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/openspeed/wsd/engine"
)

type echo struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type failure struct {
	Type  string `json:"type"`
	Error string `json:"error"`
}

var invalid = failure{Type: "error", Error: "invalid message"}

// newApp builds the example's server.
func newApp(cfg engine.Config) *engine.App {
	app := engine.New(cfg)
	logger := app.Config().Logger
	app.Route("/robust", engine.Handlers{
		Events: map[string]func(*engine.Conn, engine.Event){
			"echo": func(ws *engine.Conn, e engine.Event) {
				_ = ws.Send(echo{Type: "echo", Text: e.String("text")})
			},
			"crash": func(*engine.Conn, engine.Event) { panic("crash requested") },
		},
		Message: func(ws *engine.Conn, _ engine.Message) { _ = ws.Send(invalid) },
		Error: func(_ *engine.Conn, err error) {
			var pe *engine.PanicError
			isPanic := errors.As(err, &pe)
			event := ""
			if isPanic {
				event = pe.Event
			}
			logger.Error("connection error", "err", err.Error(), "panic", isPanic, "event", event)
		},
		Close: func(_ *engine.Conn, info engine.CloseInfo) {
			msg := ""
			if info.Err != nil {
				msg = info.Err.Error()
			}
			logger.Info("closed", "code", int(info.Code), "err", msg)
		},
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
