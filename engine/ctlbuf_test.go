package engine

import (
	"bytes"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/valyala/bytebufferpool"
)

// bigFrame is the size of the frames that calibrate the outbound pool in TestControlFramesTakeSmallBuffers:
// a server that also sends 16 KiB publications or static files.
const bigFrame = 32 << 10

// TestControlFramesTakeSmallBuffers: a ping, pong or close frame is at most 139 bytes on the wire, but
// it used to take its buffer from the pool of data frames, whose new buffers are as large as the
// frames it usually sees. On a server that also sends large frames every ping of a heartbeat round
// then held a 32 KiB buffer until written: 3,000 idle connections pinged in the same tick cost ~100 MB
// (found in the soak as a heap spike every 20 s). Control frames now take buffers sized for them.
func TestControlFramesTakeSmallBuffers(t *testing.T) {
	caps := make(chan [2]int, 1)
	app, addr := startApp(t, Config{Loops: 1}, func(a *App) {
		a.Route("/r", Handlers{Message: func(ws *Conn, _ Message) {
			_ = ws.Ping([]byte("p"))
			ping := queuedCap(ws)
			ws.Close()
			report(caps, [2]int{ping, queuedCap(ws)})
		}})
	})
	calibrateBig(t, app)
	ws, _ := dialGorilla(t, addr, "/r", gorillaOpts{})
	pinged := make(chan string, 1)
	ws.SetPingHandler(func(data string) error { report(pinged, data); return nil })
	if err := ws.WriteMessage(websocket.TextMessage, []byte("go")); err != nil {
		t.Fatal(err)
	}
	got := recv(t, caps, "the queued buffers' capacities")
	if got[0] > 512 || got[1] > 512 {
		t.Errorf("ping buffer %d bytes, close buffer %d bytes: want at most 512 for a control frame", got[0], got[1])
	}
	_, _, err := ws.ReadMessage() // runs the ping handler, then ends with the close frame
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("read: %v, want close 1000", err)
	}
	if p := recv(t, pinged, "the ping"); p != "p" {
		t.Fatalf("ping payload %q", p)
	}
}

// calibrateBig makes app's data-frame pool hand out bigFrame buffers, as a busy server's does: enough
// puts of that size for bytebufferpool to calibrate (42,000), then a check that new buffers (more
// than the pool holds) are that large.
func calibrateBig(t *testing.T, app *App) {
	payload := bytes.Repeat([]byte("x"), bigFrame)
	for range 45000 {
		b := app.bufs.Get()
		b.B = append(b.B, payload...)
		app.bufs.Put(b)
	}
	var held [8]int
	bufs := make([]*bytebufferpool.ByteBuffer, len(held))
	for i := range bufs {
		bufs[i] = app.bufs.Get()
		held[i] = cap(bufs[i].B)
	}
	for _, b := range bufs {
		app.bufs.Put(b)
	}
	for _, c := range held {
		if c < bigFrame {
			t.Fatalf("after calibration the data-frame pool hands out buffers of %v bytes, want at least %d", held, bigFrame)
		}
	}
}

// queuedCap is the capacity of the buffer of the frame queued last for c. On c's loop.
func queuedCap(c *Conn) int {
	l := c.loop
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.qflags&qDirty == 0 || l.dirty[c.qidx].head == nil || l.dirty[c.qidx].head.buf == nil {
		return -1
	}
	return cap(l.dirty[c.qidx].head.buf.B)
}
