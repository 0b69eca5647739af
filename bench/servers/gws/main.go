// Command gws is the lxzan/gws peer of the comparison, configured as gws's README ("Best Practice")
// shows: gws.NewUpgrader with ParallelEnabled and Recovery, net/http serving the upgrade, and the read
// loop on its own goroutine so the HTTP handler returns. Room broadcasts use gws.Broadcaster (one
// frame encoded once, queued on every member's write queue), as the README's Broadcast example does.
// Compression is left off: the load client does not offer it.
//
//	WS /echo          every data message back with the same opcode
//	WS /rooms/:room   raw relay: a member's data message goes unchanged to every other member
package main

import (
	"net/http"

	"github.com/lxzan/gws"
	"github.com/openspeed/wsd/bench/servers/internal/peer"
)

const roomKey = "room"

var rooms = peer.NewRooms[*gws.Conn]()

func main() {
	ln := peer.Listen()
	opts := &gws.ServerOption{ParallelEnabled: true, Recovery: gws.Recovery}
	echoUp := gws.NewUpgrader(echoHandler{}, opts)
	relayUp := gws.NewUpgrader(relayHandler{}, opts)
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) { serve(echoUp, w, r, nil) })
	mux.HandleFunc("/rooms/", func(w http.ResponseWriter, r *http.Request) {
		name, ok := peer.RoomOf(r.URL.Path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		serve(relayUp, w, r, func(c *gws.Conn) { c.Session().Store(roomKey, rooms.Join(name, c)) })
	})
	peer.Ready("gws", ln.Addr())
	if err := (&http.Server{Handler: mux}).Serve(ln); err != nil {
		peer.Fatal("serve", err)
	}
}

// serve upgrades, runs setup (before any message can arrive) and starts the read loop on its own
// goroutine ("Blocking prevents the context from being GC", gws README).
func serve(up *gws.Upgrader, w http.ResponseWriter, r *http.Request, setup func(*gws.Conn)) {
	c, err := up.Upgrade(w, r)
	if err != nil {
		return
	}
	if setup != nil {
		setup(c)
	}
	go c.ReadLoop()
}

type echoHandler struct{ gws.BuiltinEventHandler }

func (echoHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	_ = c.WriteMessage(m.Opcode, m.Bytes())
}

type relayHandler struct{ gws.BuiltinEventHandler }

func roomOf(c *gws.Conn) *peer.Room[*gws.Conn] {
	v, _ := c.Session().Load(roomKey)
	r, _ := v.(*peer.Room[*gws.Conn])
	return r
}

func (relayHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	r := roomOf(c)
	if r == nil {
		return
	}
	b := gws.NewBroadcaster(m.Opcode, m.Bytes())
	defer b.Close()
	r.Others(c, func(o *gws.Conn) { _ = b.Broadcast(o) })
}

func (relayHandler) OnClose(c *gws.Conn, _ error) {
	if r := roomOf(c); r != nil {
		rooms.Leave(r, c)
	}
}
