// Command nbio is the lesismal/nbio peer of the comparison in nbio's recommended non-blocking mode:
// nbhttp.NewEngine with IOModNonBlocking (epoll pollers, handlers on nbio's task pool) and
// websocket.NewUpgrader, with ReleaseWebsocketPayload on and the read deadline cleared after the
// upgrade, as nbio's author configures it in go-websocket-benchmark (frameworks/nbio_nonblocking).
// Everything else is nbio's default (pollers: NumCPU/4, at least 1). nbio has no broadcaster: a room
// broadcast writes the message to every other member with WriteMessage (non-blocking: what the
// socket does not take is buffered by nbio).
//
//	WS /echo          every data message back with the same opcode
//	WS /rooms/:room   raw relay: a member's data message goes unchanged to every other member
package main

import (
	"net"
	"net/http"
	"time"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/openspeed/wsd/bench/servers/internal/peer"
)

var rooms = peer.NewRooms[*websocket.Conn]()

func main() {
	ln := peer.Listen()
	echoUp := websocket.NewUpgrader()
	echoUp.OnMessage(func(c *websocket.Conn, mt websocket.MessageType, p []byte) { _ = c.WriteMessage(mt, p) })
	relayUp := websocket.NewUpgrader()
	relayUp.OnMessage(relay)
	relayUp.OnClose(func(c *websocket.Conn, _ error) {
		if r := roomOf(c); r != nil {
			rooms.Leave(r, c)
		}
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) { upgrade(echoUp, w, r) })
	mux.HandleFunc("/rooms/", func(w http.ResponseWriter, r *http.Request) {
		name, ok := peer.RoomOf(r.URL.Path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		if c := upgrade(relayUp, w, r); c != nil {
			// The handler runs on the connection's serial executor: no message is handled before this.
			c.SetSession(rooms.Join(name, c))
		}
	})
	// nbio listens itself; hand it the listener that is already bound (-addr 127.0.0.1:0).
	listen := func(string, string) (net.Listener, error) { return ln, nil }
	engine := nbhttp.NewEngine(nbhttp.Config{
		Network:                 "tcp",
		Addrs:                   []string{ln.Addr().String()},
		Handler:                 mux,
		IOMod:                   nbhttp.IOModNonBlocking,
		ReleaseWebsocketPayload: true,
		Listen:                  listen,
	})
	if err := engine.Start(); err != nil {
		peer.Fatal("start", err)
	}
	peer.Ready("nbio", ln.Addr())
	select {}
}

func upgrade(u *websocket.Upgrader, w http.ResponseWriter, r *http.Request) *websocket.Conn {
	c, err := u.Upgrade(w, r, nil)
	if err != nil {
		return nil
	}
	_ = c.SetReadDeadline(time.Time{})
	return c
}

func roomOf(c *websocket.Conn) *peer.Room[*websocket.Conn] {
	r, _ := c.Session().(*peer.Room[*websocket.Conn])
	return r
}

func relay(c *websocket.Conn, mt websocket.MessageType, p []byte) {
	if r := roomOf(c); r != nil {
		r.Others(c, func(o *websocket.Conn) { _ = o.WriteMessage(mt, p) })
	}
}
