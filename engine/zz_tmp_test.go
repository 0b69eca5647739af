package engine

import (
	"testing"
	"time"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

func TestZZTiming(t *testing.T) {
	addr := abStartEchoApp(t, Config{Loops: 2, MaxMessageSize: 32 << 20})
	for _, fs := range []int{64 << 10, 0, 64 << 10, 0} {
		r := abDialEcho(t, addr)
		r.Timeout = time.Minute
		t0 := time.Now()
		msg := abPayloadFor(frame.OpBinary, 16<<20)
		wire := wstest.Frame(true, frame.OpBinary, msg)
		if fs > 0 {
			wire = abFragments(frame.OpBinary, msg, fs)
		}
		t1 := time.Now()
		r.Write(wire)
		t2 := time.Now()
		h, _ := abNextFrame(t, r)
		t3 := time.Now()
		t.Logf("fs=%d gen %v write %v read %v len %d", fs, t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), h.Length)
		abCloseNormally(t, r)
	}
}
