package natsbroker

import (
	"sync"
	"time"

	"github.com/openspeed/wsd/rooms"
)

// remoteMembers is the presence of the other nodes' members. Safe from any goroutine: messages
// arrive on two nats.go goroutines (<prefix>.members and this node's snapshot inbox), readers call
// RemotePresence from anywhere. Presence events are collected under the lock and delivered after it.
type remoteMembers struct {
	self string
	ttl  time.Duration
	ask  func(node string) // asks node for a snapshot (queues a membersSync for the control goroutine; never blocks)

	mu    sync.RWMutex
	nodes map[string]*remoteNode
}

// event is a presence change to deliver to this node's members.
type event = rooms.PresenceChange

// list returns the members of room on the nodes seen within the TTL.
func (rm *remoteMembers) list(room string, now time.Time) []rooms.Client {
	rm.mu.RLock()
	defer rm.mu.RUnlock()
	var out []rooms.Client
	for _, n := range rm.nodes {
		if now.Sub(n.seen) > rm.ttl {
			continue
		}
		for conn, user := range n.rooms[room] {
			out = append(out, rooms.Client{User: user, Conn: conn})
		}
	}
	return out
}

// size is the number of remote members known.
func (rm *remoteMembers) size() int {
	rm.mu.RLock()
	defer rm.mu.RUnlock()
	n := 0
	for _, node := range rm.nodes {
		for _, m := range node.rooms {
			n += len(m)
		}
	}
	return n
}

// apply handles one message from another node and returns the presence events it causes.
func (rm *remoteMembers) apply(m membersMsg, now time.Time) []event {
	if m.origin == rm.self {
		return nil
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if m.kind == membersBye {
		return rm.drop(m.origin)
	}
	n := rm.nodes[m.origin]
	var evs []event
	if n == nil || n.inc != m.inc {
		evs = rm.drop(m.origin)
		n = &remoteNode{inc: m.inc, rooms: make(map[string]map[string]string)}
		rm.nodes[m.origin] = n
		if m.kind == membersDelta && m.seq == 1 {
			n.synced = true // nothing before its first delta
		}
	}
	n.seen = now
	switch m.kind {
	case membersDelta:
		evs = rm.delta(m.origin, n, m, evs, now)
	case membersState:
		evs = rm.state(m.origin, n, m, evs, now)
	case membersBeat:
		if !n.synced || m.seq > n.seq {
			rm.resync(m.origin, n, now)
		}
	}
	return evs
}

// delta applies a delta in order, or holds it until a snapshot fills the gap before it.
func (rm *remoteMembers) delta(origin string, n *remoteNode, m membersMsg, evs []event, now time.Time) []event {
	switch {
	case n.synced && m.seq <= n.seq:
		return evs
	case n.synced && m.seq == n.seq+1:
		n.seq = m.seq
		return applyEntries(n, origin, m.entries, evs)
	}
	if len(n.held) < maxHeld {
		n.held = append(n.held, m)
	}
	rm.resync(origin, n, now)
	return evs
}

// state collects a snapshot's chunks; the last one replaces the node's members.
func (rm *remoteMembers) state(origin string, n *remoteNode, m membersMsg, evs []event, now time.Time) []event {
	if n.building == nil {
		n.building = make(map[string]map[string]string)
	}
	for _, e := range m.entries {
		r := n.building[e.room]
		if r == nil {
			r = make(map[string]string)
			n.building[e.room] = r
		}
		r[e.c.Conn] = e.c.User
	}
	if !m.last {
		return evs
	}
	old := n.rooms
	n.rooms, n.building, n.seq, n.synced, n.asked = n.building, nil, m.seq, true, time.Time{}
	evs = diff(old, n.rooms, evs)
	held := n.held
	n.held = nil
	for _, d := range held {
		evs = rm.delta(origin, n, d, evs, now)
	}
	return evs
}

// resync asks the node for a snapshot, at most once per TTL while one is outstanding.
func (rm *remoteMembers) resync(origin string, n *remoteNode, now time.Time) {
	if now.Sub(n.asked) < rm.ttl {
		return
	}
	n.asked, n.synced, n.building = now, false, nil
	rm.ask(origin)
}

// applyEntries applies joins and leaves to a node's members.
func applyEntries(n *remoteNode, origin string, es []memberEntry, evs []event) []event {
	for _, e := range es {
		r := n.rooms[e.room]
		if e.joined {
			if r == nil {
				r = make(map[string]string)
				n.rooms[e.room] = r
			}
			r[e.c.Conn] = e.c.User
		} else if r != nil {
			delete(r, e.c.Conn)
			if len(r) == 0 {
				delete(n.rooms, e.room)
			}
		}
		evs = append(evs, event{Room: e.room, Client: e.c, Joined: e.joined})
	}
	return evs
}

// diff appends the events that turn old into cur.
func diff(old, cur map[string]map[string]string, evs []event) []event {
	for room, m := range old {
		for conn, user := range m {
			if _, ok := cur[room][conn]; !ok {
				evs = append(evs, event{Room: room, Client: rooms.Client{User: user, Conn: conn}})
			}
		}
	}
	for room, m := range cur {
		for conn, user := range m {
			if _, ok := old[room][conn]; !ok {
				evs = append(evs, event{Room: room, Client: rooms.Client{User: user, Conn: conn}, Joined: true})
			}
		}
	}
	return evs
}

// drop forgets a node and returns the leave events of its members. Caller holds rm.mu.
func (rm *remoteMembers) drop(origin string) []event {
	n := rm.nodes[origin]
	if n == nil {
		return nil
	}
	delete(rm.nodes, origin)
	return diff(n.rooms, nil, nil)
}

// sweep forgets the nodes not seen within the TTL and returns the leave events of their members.
func (rm *remoteMembers) sweep(now time.Time) []event {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	var evs []event
	for id, n := range rm.nodes {
		if now.Sub(n.seen) > rm.ttl {
			evs = append(evs, rm.drop(id)...)
		}
	}
	return evs
}
