// Command gorilla is the gorilla/websocket peer of the comparison: net/http with a websocket.Upgrader,
// one reader goroutine per connection (the HTTP handler's own), a write mutex per connection, and room
// broadcasts that iterate the members writing one websocket.PreparedMessage (gorilla's encode-once
// frame for many connections).
//
// Configuration as gorilla's documentation advises for many connections with messages up to 1 KiB:
// 1 KiB read and write buffers (the chat example) and a WriteBufferPool, so that a connection holds a
// write buffer only while writing ("Buffers" in the package documentation).
//
//	WS /echo          every data message back with the same opcode
//	WS /rooms/:room   raw relay: a member's data message goes unchanged to every other member
package main

import (
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/openspeed/wsd/bench/servers/internal/peer"
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 1024,
	WriteBufferPool: &sync.Pool{},
}

// client is a connection with the mutex gorilla requires around writes from several goroutines.
type client struct {
	ws *websocket.Conn
	mu sync.Mutex
}

var rooms = peer.NewRooms[*client]()

func main() {
	ln := peer.Listen()
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/rooms/", relay)
	peer.Ready("gorilla", ln.Addr())
	if err := (&http.Server{Handler: mux}).Serve(ln); err != nil {
		peer.Fatal("serve", err)
	}
}

func echo(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	for {
		mt, p, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if err := ws.WriteMessage(mt, p); err != nil {
			return
		}
	}
}

func relay(w http.ResponseWriter, r *http.Request) {
	name, ok := peer.RoomOf(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &client{ws: ws}
	room := rooms.Join(name, c)
	defer func() {
		rooms.Leave(room, c)
		_ = ws.Close()
	}()
	for {
		mt, p, err := ws.ReadMessage()
		if err != nil {
			return
		}
		pm, err := websocket.NewPreparedMessage(mt, p)
		if err != nil {
			return
		}
		room.Others(c, func(m *client) {
			m.mu.Lock()
			_ = m.ws.WritePreparedMessage(pm)
			m.mu.Unlock()
		})
	}
}
