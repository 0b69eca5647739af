//go:build linux

package engine

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
	"golang.org/x/sys/unix"
)

// A peer that dies mid-write must not reorder what the others receive. The flush that writes to a
// member whose peer has reset the connection gets a write error; gnet then closes that connection
// synchronously, inside the flush, and the close handler runs there and queues more frames. Those
// frames must go out after everything the interrupted flush still had in hand, in call order.
//
// The test makes it deterministic with one loop: a message handler holds the loop while the test resets
// member B (SO_LINGER 0) and the kernel has delivered the RST, then queues for B (over its budget, so a
// drop is flagged) and publishes "m1" to the room. The flush writes B first (its queue was dirtied
// first), fails, and B's close handler publishes "B left" and closes the watcher A with 1000. A must read
// m1, "B left", then the close frame; B's drop handler must not run after its close handler.
func TestFlushOrderWhenPeerResetsMidWrite(t *testing.T) {
	var (
		app       *App
		mu        sync.Mutex
		events    []string // B's drop and close events, in order
		victim    atomic.Pointer[Conn]
		watcher   atomic.Pointer[Conn]
		triggered = make(chan struct{})
		reset     = make(chan struct{})
	)
	record := func(ev string) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}
	app, addr := startApp(t, Config{Loops: 1, MaxBackpressure: 1 << 10}, func(a *App) {
		a.Route("/member", Handlers{
			Open: func(ws *Conn, ctx *Context) {
				id := ctx.Query("id")
				ws.SetData(id)
				if id == "B" {
					victim.Store(ws)
				} else {
					watcher.Store(ws)
				}
				if err := ws.Join("r"); err != nil {
					panic(err)
				}
			},
			Drop: func(ws *Conn) {
				if ws.Data() == "B" {
					record("drop")
				}
			},
			Close: func(ws *Conn, info CloseInfo) {
				if ws.Data() != "B" {
					return
				}
				record("close")
				_ = app.Publish("r", "B left", nil)
				watcher.Load().CloseWith(frame.CloseNormal, "bye")
			},
		})
		a.Route("/trigger", Handlers{Message: func(ws *Conn, m Message) {
			close(triggered)
			<-reset // the test resets B meanwhile; the loop reads nothing until this handler returns
			b := victim.Load()
			if err := waitTCPClosed(b.gc.Fd()); err != nil {
				t.Error(err)
			}
			_ = b.Send(make([]byte, 2<<10)) // B's queue is now over MaxBackpressure:
			_ = b.Send("refused")           // refused, and a drop is flagged for B
			_ = app.Publish("r", "m1", nil)
		}})
	})
	b := wstest.Dial(t, addr, "/member?id=B")
	a := wstest.Dial(t, addr, "/member?id=A")
	trigger := wstest.Dial(t, addr, "/trigger")
	if victim.Load() == nil || watcher.Load() == nil {
		t.Fatal("members did not open")
	}
	trigger.Send(true, frame.OpText, []byte("go"))
	<-triggered
	if err := b.Conn.(interface{ SetLinger(int) error }).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	_ = b.Conn.Close() // RST
	close(reset)

	var got []string
	for {
		h, p, err := a.ReadFrame()
		if err != nil {
			t.Fatalf("A read after %q: %v", got, err)
		}
		if h.Op == frame.OpClose {
			code, _, _ := frame.ParseClose(p)
			got = append(got, "close "+code.String())
			break
		}
		got = append(got, string(p))
	}
	want := []string{"m1", "B left", "close " + frame.CloseNormal.String()}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("A received %q, want %q (call order)", got, want)
	}
	a.CloseHandshake(frame.CloseNormal)
	mu.Lock()
	defer mu.Unlock()
	if len(events) == 0 || events[len(events)-1] != "close" {
		t.Errorf("B's events %q, want close last (no drop after close)", events)
	}
}

// waitTCPClosed polls the socket's TCP state until the kernel has processed the peer's RST.
func waitTCPClosed(fd int) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return err
		}
		if info.State == 7 { // TCP_CLOSE
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the server socket did not see the RST")
		}
		time.Sleep(time.Millisecond)
	}
}
