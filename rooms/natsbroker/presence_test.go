package natsbroker_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/rooms/natsbroker"
)

// dialPresence connects user to /p/room on n.
func dialPresence(tb testing.TB, n *node, room, user string) *client {
	tb.Helper()
	return dialURL(tb, "ws://"+n.addr+"/p/"+url.PathEscape(room)+"?user="+url.QueryEscape(user))
}

// users is the sorted user list of a presence list.
func users(cs []engine.Client) string {
	var us []string
	for _, c := range cs {
		us = append(us, c.User)
	}
	slices.Sort(us)
	return strings.Join(us, ",")
}

// converge waits until room's presence on every node is want and returns how long it took.
func converge(tb testing.TB, nodes []*node, room, want string) time.Duration {
	tb.Helper()
	began := time.Now()
	for _, n := range nodes {
		deadline := time.Now().Add(wait)
		for users(n.app.Presence(room)) != want {
			if time.Now().After(deadline) {
				tb.Fatalf("presence of %s on %s: %q, want %q", room, n.b.NodeID(), users(n.app.Presence(room)), want)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	return time.Since(began)
}

// expectEvent reads cl's messages until one starts with prefix (other presence events and messages
// may come first).
func expectEvent(tb testing.TB, cl *client, prefix string) {
	tb.Helper()
	for {
		if m := cl.next(tb); strings.HasPrefix(m, prefix) {
			return
		}
	}
}

// TestPresenceAcrossNodes: presence lists converge on every node, members receive join and leave
// events of the other nodes' members, a node started late learns the members already there, and a
// crashed node's members disappear within the presence TTL. It logs the convergence times.
func TestPresenceAcrossNodes(t *testing.T) {
	s := startNATS(t, -1)
	var nodes []*node
	for _, id := range []string{"a", "b", "c"} {
		nodes = append(nodes, startNode(t, s.ClientURL(), natsbroker.Options{NodeID: id}))
	}
	a, b, c := nodes[0], nodes[1], nodes[2]
	dialPresence(t, a, "lobby", "ann")
	bob := dialPresence(t, b, "lobby", "bob")
	dial(t, b, "lobby") // a member of another route: not in presence
	converge(t, nodes, "lobby", "ann,bob")

	began := time.Now()
	carl := dialPresence(t, a, "lobby", "carl")
	joinTook := time.Since(began) + converge(t, nodes, "lobby", "ann,bob,carl")
	expectEvent(t, bob, "join carl ")

	carl.close()
	leaveTook := converge(t, nodes, "lobby", "ann,bob")
	expectEvent(t, bob, "leave carl ")

	began = time.Now()
	late := startNode(t, s.ClientURL(), natsbroker.Options{NodeID: "d"})
	lateTook := time.Since(began) + converge(t, []*node{late}, "lobby", "ann,bob")
	nodes = append(nodes, late)

	dialPresence(t, c, "lobby", "dora")
	converge(t, nodes, "lobby", "ann,bob,dora")
	c.b.Crash()
	crashTook := converge(t, []*node{a, b, late}, "lobby", "ann,bob")
	expectEvent(t, bob, "leave dora ")
	t.Logf("presence converged: join %v, leave %v, late node (from its start) %v, crash %v (interval %v, TTL %v)",
		joinTook, leaveTook, lateTook, crashTook, testInterval, 3*testInterval)
}

// TestPresenceTrafficIsBounded: a room with many members costs the presence subjects nothing per
// interval once they joined (no member lists are repeated: one beat per node per interval).
func TestPresenceTrafficIsBounded(t *testing.T) {
	s := startNATS(t, -1)
	a := startNode(t, s.ClientURL(), natsbroker.Options{NodeID: "a"})
	b := startNode(t, s.ClientURL(), natsbroker.Options{NodeID: "b"})
	const members = 200
	want := make([]string, members)
	for i := range want {
		want[i] = fmt.Sprintf("u%03d", i)
		dialPresence(t, a, "big", want[i])
	}
	converge(t, []*node{a, b}, "big", strings.Join(want, ","))
	sent := a.b.Stats().PresenceSent
	time.Sleep(10 * testInterval)
	per := float64(a.b.Stats().PresenceSent-sent) / 10
	if per > 3 { // a counts report and a beat per interval, whatever the members
		t.Errorf("%.1f presence messages per interval with %d members, want at most 3", per, members)
	}
	if got := b.b.Stats().RemoteMembers; got != members {
		t.Errorf("b knows %d remote members, want %d", got, members)
	}
}
