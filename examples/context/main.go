// Command context shows what the TypeScript plugin's WebSocketContext offers, as wsd spells it: a
// client connected to /ctx/:room?key=value... sends {"type":"whoami"} (or any other message) and gets
//
//	{"room": ws.Room(), "readyState": 1, "state": "OPEN", "params": {"room": ...},
//	 "query": {"key": "value", ...}, "subprotocol": ..., "remoteAddr": "ip:port"}
//
// ws.Room() is the room joined at open (the path parameter); ws.ReadyState() is the browser's
// readyState (1 while open); params and query come from the upgrade request, which ws.Context() keeps
// for the connection's lifetime (unless RouteOptions.ReleaseContext is set). The close handler logs the
// final state (3, CLOSED) to Config.Logger.
//
//	go run ./examples/context
//	websocat 'ws://localhost:3000/ctx/lobby?user=ada'
package main

import (
	"context"
	"flag"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/openspeed/wsd/engine"
)

// info is the answer to whoami.
type info struct {
	Room        string            `json:"room"`
	ReadyState  int               `json:"readyState"`
	State       string            `json:"state"`
	Params      map[string]string `json:"params"`
	Query       map[string]string `json:"query"`
	Subprotocol string            `json:"subprotocol"`
	RemoteAddr  string            `json:"remoteAddr"`
}

// newApp builds the example's server.
func newApp(cfg engine.Config) *engine.App {
	app := engine.New(cfg)
	logger := app.Config().Logger
	app.WS("/ctx/:room", func(ws *engine.Conn, ctx *engine.Context) {
		_ = ws.Join(ctx.Param("room"))
		ws.On("whoami", func(engine.Event) { _ = ws.Send(describe(ws)) })
		ws.OnMessage(func(engine.Message) { _ = ws.Send(describe(ws)) })
		ws.OnClose(func(c engine.CloseInfo) {
			logger.Info("closed", "room", ws.Room(), "readyState", int(ws.ReadyState()), "code", int(c.Code))
		})
	})
	return app
}

// describe reads the connection's context.
func describe(ws *engine.Conn) info {
	ctx := ws.Context()
	query := map[string]string{}
	if vals, err := url.ParseQuery(ctx.RawQuery()); err == nil {
		for k, v := range vals {
			query[k] = v[0]
		}
	}
	return info{
		Room:        ws.Room(),
		ReadyState:  int(ws.ReadyState()),
		State:       ws.ReadyState().String(),
		Params:      map[string]string{"room": ctx.Param("room")},
		Query:       query,
		Subprotocol: ws.Subprotocol(),
		RemoteAddr:  ws.RemoteAddr().String(),
	}
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
