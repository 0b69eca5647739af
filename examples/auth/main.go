// Command auth is the authentication example of the TypeScript plugin's documentation, and the better
// way to do the same in wsd.
//
// /protected?token=TOKEN is the plugin's example: the open handler checks the token from the query.
//
//   - A valid token: the client gets {"type":"welcome","user":NAME}, and every message it sends comes
//     back as {"user":NAME,"message":TEXT}. (The plugin's example leaves what an authenticated client
//     gets open; this shows that the user is known to later handlers.)
//   - A missing or invalid token: the client gets {"error":"Authentication required"} and then the
//     close the plugin's ws.close() sends, 1000 with no reason. The close is queued after the error
//     message, so the error always arrives first.
//
// The catch of that pattern: the WebSocket is already open when the check runs (the 101 answer has
// gone out), so an unauthenticated client costs an upgrade, and it is told with a close frame.
// /secure?token=TOKEN shows the better way: RouteOptions.Upgrade runs on the event loop before the
// 101 answer, so a missing or invalid token gets the HTTP answer 401 "Authentication required" (with
// WWW-Authenticate: Bearer) and no WebSocket at all; what the hook returns becomes ws.Data(). A valid
// client of /secure gets the same welcome and answers as one of /protected.
//
// The token table is a fixed map to keep the example small; a real server verifies a signed token
// (JWT, as wsd's -auth.jwt-* options do, or a session lookup) here. Browsers cannot set headers on a
// WebSocket, which is why the token travels in the query.
//
//	go run ./examples/auth
//	websocat 'ws://localhost:3000/protected?token=secret-ada'
//	curl -i -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
//	     -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' localhost:3000/secure     # 401
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/openspeed/wsd/engine"
)

// tokens maps the accepted tokens to user names.
var tokens = map[string]string{
	"secret-ada":   "ada",
	"secret-grace": "grace",
}

// required is the error text of both routes.
const required = "Authentication required"

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
	app.WS("/protected", func(ws *engine.Conn, ctx *engine.Context) {
		user, ok := tokens[ctx.Query("token")]
		if !ok {
			_ = ws.Send(failure{Error: required})
			ws.Close() // the plugin's ws.close()
			return
		}
		serve(ws, user)
	})
	app.Route("/secure", engine.Handlers{
		Open: func(ws *engine.Conn, _ *engine.Context) { serve(ws, ws.Data().(string)) },
		Options: engine.RouteOptions{
			Upgrade: func(ctx *engine.Context) (any, error) {
				user, ok := tokens[ctx.Query("token")]
				if !ok {
					ctx.SetHeader("WWW-Authenticate", "Bearer")
					return nil, &engine.HTTPError{Status: http.StatusUnauthorized, Message: required}
				}
				return user, nil // the connection's Data
			},
		},
	})
	return app
}

// serve welcomes an authenticated user and answers its messages.
func serve(ws *engine.Conn, user string) {
	_ = ws.Send(welcome{Type: "welcome", User: user})
	ws.OnMessage(func(m engine.Message) {
		_ = ws.Send(echoed{User: user, Message: m.Text()})
	})
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
