package main

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestHistoryBounded (issue 13.4): four /ws connections in 100 rooms each publish 60 KiB messages
// into all of them (117 MiB in all). Before, every room copied its last 50 payloads (+212 MB with four
// connections). Now what all rooms keep stays within history.budget, and the heap with it.
func TestHistoryBounded(t *testing.T) {
	c := svConfig()
	c.RateLimit.Messages, c.RateLimit.Bytes = 0, 0
	c.History.Budget = 8 << 20
	c.PubSub.MaxRooms = 100
	_, addr := svStart(t, c, nil)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	payload := `"` + strings.Repeat("h", 60<<10) + `"`
	conns := make([]*websocket.Conn, 4)
	for i := range conns {
		conns[i] = svDial(t, addr, "/ws", nil)
		for r := range 100 {
			svWrite(t, conns[i], fmt.Sprintf(`{"type":"join","room":"r%d","id":1}`, r))
			svReadJSON(t, conns[i])
		}
	}
	for _, ws := range conns { // drained (what a slow reader misses is dropped, not kept)
		go func() {
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	for round := range 5 {
		for i, ws := range conns {
			for r := range 100 {
				svWrite(t, ws, fmt.Sprintf(`{"type":"publish","room":"r%d","data":%s}`, (r+i+round)%100, payload))
			}
		}
	}
	eventuallyMetrics(t, addr, eq("wsd_broadcasts_total", 2000))
	fams := scrape(t, addr)
	kept, _ := metricValue(fams, "wsd_history_bytes")
	if kept > float64(c.History.Budget) || kept < float64(c.History.Budget)/2 {
		t.Fatalf("wsd_history_bytes = %g, want at most (and near) the budget %d", kept, c.History.Budget)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 48<<20 {
		t.Fatalf("heap grew by %d MiB for a history budget of 8 MiB", grown>>20)
	}
}
