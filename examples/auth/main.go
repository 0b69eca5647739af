// Command auth is the seed's authentication example: the client passes a token in the query,
// /ws?token=TOKEN, and the open handler checks it.
//
//   - A known token: the client gets {"type":"welcome","user":NAME}, and every message it sends comes
//     back as {"user":NAME,"message":TEXT}.
//   - A missing or unknown token: the seed's "send an error, then close" pattern. The client gets
//     {"error":"Unauthorized"} and then a close frame with 1008 (policy violation) "unauthorized";
//     the close is queued after the error message, so the error always arrives first.
//
// The token table is a fixed map to keep the example small; a real server would verify a signed token
// (JWT, session lookup) here. Checking in the open handler means the 101 answer has already been sent;
// to refuse before the upgrade with an HTTP 401/403, use RouteOptions.CheckOrigin or put the check in
// front of wsd.
//
//	go run ./examples/auth
//	websocat 'ws://localhost:3000/ws?token=secret-ada'
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

// tokens maps the accepted tokens to user names.
var tokens = map[string]string{
	"secret-ada":   "ada",
	"secret-grace": "grace",
}

type welcome struct {
	Type string `json:"type"`
	User string `json:"user"`
}

type echoed struct {
	User    string `json:"user"`
	Message string `json:"message"`
}

type failure struct {
	Error string `json:"error"`
}

// newApp builds the example's server.
func newApp(cfg engine.Config) *engine.App {
	app := engine.New(cfg)
	app.WS("/ws", func(ws *engine.Conn, ctx *engine.Context) {
		user, ok := tokens[ctx.Query("token")]
		if !ok {
			_ = ws.Send(failure{Error: "Unauthorized"})
			_ = ws.Close(engine.ClosePolicyViolation, "unauthorized")
			return
		}
		_ = ws.Send(welcome{Type: "welcome", User: user})
		ws.OnMessage(func(m engine.Message) {
			_ = ws.Send(echoed{User: user, Message: m.Text()})
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
