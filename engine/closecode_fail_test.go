package engine

import (
	"context"
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// TestPeerCloseCodeWhileFailing: the server fails a connection (invalid UTF-8, 1007) and the peer
// answers with its own close frame: CloseInfo (and Stats.Closes) report the peer's code, not 0.
func TestPeerCloseCodeWhileFailing(t *testing.T) {
	infos := make(chan CloseInfo, 1)
	app := New(Config{Loops: 1, Logger: discardLogger(), CloseTimeout: time.Minute})
	app.Route("/f", Handlers{Close: func(_ *Conn, info CloseInfo) { infos <- info }})
	if err := app.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer app.Shutdown(context.Background())
	r := wstest.Dial(t, app.Addr().String(), "/f")
	// The bad frame and the peer's close in one write: the close is read while the server fails.
	bad := wstest.Frame(true, frame.OpText, []byte{0xff})
	closing := wstest.Frame(true, frame.OpClose, frame.AppendClose(nil, 4001, "bye"))
	r.WriteOrClosed(append(bad, closing...))
	select {
	case info := <-infos:
		if info.Code != 4001 || info.Reason != "bye" {
			t.Fatalf("close info %+v, want the peer's 4001 bye", info)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no close")
	}
	if n := app.Stats().Closes[0]; n != 0 {
		t.Fatalf("%d closes counted under code 0 (other)", n)
	}
}
