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

// fill connects the plugin's 10 clients to room, each told its place.
func fill(t *testing.T, addr, room string) []*websocket.Conn {
	t.Helper()
	var cs []*websocket.Conn
	for i := 1; i <= 10; i++ {
		c := extest.Dial(t, addr, "/limited/"+room)
		extest.ExpectJSON(t, c, joined{Type: "joined", Room: room, Members: i, Max: 10})
		cs = append(cs, c)
	}
	return cs
}

func expectFull(t *testing.T, addr, room string) {
	t.Helper()
	c := extest.Dial(t, addr, "/limited/"+room)
	extest.Expect(t, c, `{"error":"Room is full"}`)
	extest.ExpectClose(t, c, websocket.CloseNormalClosure, "")
}

// TestLimitsRoomFull: 10 clients get in, the 11th gets {"error":"Room is full"} then a normal close;
// other rooms are not affected; a client that leaves frees a place.
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
	c := extest.Dial(t, addr, "/limited/small")
	extest.ExpectJSON(t, c, joined{Type: "joined", Room: "small", Members: maxMembers, Max: maxMembers})
	expectFull(t, addr, "small")
}

// TestLimitsConcurrentJoins: clients connecting at once never overshoot the limit: exactly maxMembers
// are let in, the rest get {"error":"Room is full"} and a close.
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
			got, c := outcome(addr, "/limited/busy")
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

// outcome connects to path and reports "joined", "full" (the error then close 1000) or what went wrong.
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
	case string(data) == `{"error":"Room is full"}`:
		_, _, err = c.ReadMessage()
		if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseNormalClosure {
			return fmt.Sprintf("want close 1000 after Room is full, got %v", err)
		}
		return "full"
	case json.Unmarshal(data, &first) == nil && first.Type == "joined" && first.Members >= 1 &&
		first.Members <= maxMembers:
		return "joined"
	}
	return "unexpected message " + string(data)
}
