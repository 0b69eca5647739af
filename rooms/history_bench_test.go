package rooms

import (
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/openspeed/wsd/frame"
)

// BenchmarkHistoryMemory measures what a room's history costs in memory per 1,000 publications kept
// (the Go heap after a collection, everything included: frames, buffers, ring entries), and what the
// table accounts for them (Stats.HistoryBytes), for chat-sized and larger publications. Frames come
// from the pool as the engine's do.
//
//	go test -run '^$' -bench HistoryMemory -benchtime 1x ./rooms/
func BenchmarkHistoryMemory(b *testing.B) {
	for _, size := range []int{100, 1024, 16 << 10} {
		b.Run("payload="+strconv.Itoa(size), func(b *testing.B) {
			for b.Loop() {
				heap, accounted := historyCost(size, 1000)
				b.ReportMetric(float64(heap), "heap-B/1000-entries")
				b.ReportMetric(float64(accounted), "accounted-B/1000-entries")
			}
		})
	}
}

func historyCost(size, entries int) (heap, accounted int64) {
	fp := NewFramePool(&frame.Pool{})
	tb := New(Options[*fakeConn]{Loops: 1, Fanout: &countingFan{}, Frames: fp,
		Defaults: RoomOptions{History: HistoryOptions{Size: entries}}})
	payload := strings.Repeat("p", size)
	publishN := func(room string, n int) {
		for range n {
			buf := fp.Buffer()
			buf.B = append(buf.B, payload...)
			p := tb.NewPub(room)
			p.Main = fp.Finish(buf, frame.OpText)
			tb.Publish(p)
		}
	}
	publishN("warm", entries) // the pools and the ring reach their sizes
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	publishN("measured", entries)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(tb)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc), tb.Stats().HistoryBytes / 2
}
