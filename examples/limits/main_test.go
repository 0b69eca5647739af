package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/examples/internal/extest"
	"github.com/openspeed/wsd/internal/wstest"
)

func TestMain(m *testing.M) { wstest.VerifyTestMain(m) }

// fill connects maxMembers clients to room, each told its place.
func fill(t *testing.T, addr, room string) []*websocket.Conn {
	t.Helper()
	var cs []*websocket.Conn
	for i := 1; i <= maxMembers; i++ {
		c := extest.Dial(t, addr, "/limits/"+room)
		extest.ExpectJSON(t, c, joined{Type: "joined", Room: room, Members: i, Max: maxMembers})
		cs = append(cs, c)
	}
	return cs
}

func expectFull(t *testing.T, addr, room string) {
	t.Helper()
	c := extest.Dial(t, addr, "/limits/"+room)
	extest.Expect(t, c, "Room is full")
	extest.ExpectClose(t, c, websocket.CloseTryAgainLater, "room is full")
}

// TestLimitsRoomFull: N clients get in, the N+1th gets "Room is full" then 1013; other rooms are not
// affected; a client that leaves frees a place.
func TestLimitsRoomFull(t *testing.T) {
	app := newApp(engine.Config{Loops: 2})
	addr := extest.Start(t, app)
	cs := fill(t, addr, "small")
	expectFull(t, addr, "small")
	expectFull(t, addr, "small")
	if n := app.Count("small"); n != maxMembers {
		t.Fatalf("count %d, want %d", n, maxMembers)
	}
	fill(t, addr, "other")

	extest.CloseNormally(t, cs[0])
	extest.Eventually(t, "the room has a free place", func() bool { return app.Count("small") == maxMembers-1 })
	c := extest.Dial(t, addr, "/limits/small")
	extest.ExpectJSON(t, c, joined{Type: "joined", Room: "small", Members: maxMembers, Max: maxMembers})
	expectFull(t, addr, "small")
}

// TestLimitsConcurrentJoins: clients connecting at once never overshoot the limit: exactly maxMembers
// are let in, the rest get "Room is full" and 1013.
func TestLimitsConcurrentJoins(t *testing.T) {
	app := newApp(engine.Config{Loops: 2})
	addr := extest.Start(t, app)
	const clients = 2*maxMembers + 2
	results := make(chan string, clients)
	release := make(chan struct{}) // the clients stay connected until every outcome is in
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, c := outcome(addr, "/limits/busy")
			results <- got
			<-release
			if c != nil {
				_ = c.Close()
			}
		}()
	}
	count := map[string]int{}
	for range clients {
		count[<-results]++
	}
	close(release)
	wg.Wait()
	if count["joined"] != maxMembers || count["full"] != clients-maxMembers {
		t.Fatalf("outcomes %v, want %d joined and %d full", count, maxMembers, clients-maxMembers)
	}
}

// outcome connects to path and reports "joined", "full" (the text then close 1013) or what went wrong.
// The caller closes the connection it returns.
func outcome(addr, path string) (string, *websocket.Conn) {
	c, resp, err := extest.TryDial(addr, path)
	if err != nil {
		return "dial: " + err.Error(), nil
	}
	_ = resp.Body.Close()
	return classify(c), c
}

func classify(c *websocket.Conn) string {
	_ = c.SetReadDeadline(time.Now().Add(extest.Wait))
	var first joined
	_, data, err := c.ReadMessage()
	switch {
	case err != nil:
		return "read: " + err.Error()
	case string(data) == "Room is full":
		_, _, err = c.ReadMessage()
		if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseTryAgainLater {
			return fmt.Sprintf("want close 1013 after Room is full, got %v", err)
		}
		return "full"
	case json.Unmarshal(data, &first) == nil && first.Type == "joined" && first.Members >= 1 &&
		first.Members <= maxMembers:
		return "joined"
	}
	return "unexpected message " + string(data)
}
