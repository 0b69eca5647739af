package rooms

import "sort"

// Client is a member as presence lists it: the user it authenticated as (or said it is) and the id
// of its connection (unique in the cluster).
type Client struct {
	User string `json:"user" msgpack:"user"`
	Conn string `json:"conn" msgpack:"conn"`
}

// PresenceChange is a member joining or leaving a room, as presence events carry it.
type PresenceChange struct {
	Room   string
	Client Client
	Joined bool // false: left
}

// LocalPresence lists the members of room name on this node that take part in presence, sorted by
// user then connection.
func (t *Table[M]) LocalPresence(name string) []Client {
	r := t.Lookup(name)
	out := []Client{}
	if r == nil {
		return out
	}
	r.mu.RLock()
	for _, list := range r.members {
		for _, m := range list {
			if c, ok := m.Presence(); ok {
				out = append(out, c)
			}
		}
	}
	r.mu.RUnlock()
	sortClients(out)
	return out
}

// Presence lists the members of room name in the cluster that take part in presence: this node's,
// plus what the broker knows of the other nodes' (eventually consistent), sorted.
func (t *Table[M]) Presence(name string) []Client {
	out := t.LocalPresence(name)
	if t.broker != nil {
		out = append(out, t.broker.RemotePresence(name)...)
		sortClients(out)
	}
	return out
}

func sortClients(cs []Client) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].User != cs[j].User {
			return cs[i].User < cs[j].User
		}
		return cs[i].Conn < cs[j].Conn
	})
}

// announce tells the room's members (those whose variant renders presence) and the other nodes that
// m joined or left. Called without room locks held.
func (t *Table[M]) announce(name string, m M, joined bool) {
	c, ok := m.Presence()
	if !ok {
		return
	}
	ch := PresenceChange{Room: name, Client: c, Joined: joined}
	t.signal(ch, m, true)
	if t.broker != nil {
		t.broker.Presence(ch)
	}
}

// PresenceEvent implements Inbound: a member of another node joined or left.
func (t *Table[M]) PresenceEvent(ch PresenceChange) {
	var none M
	t.signal(ch, none, false)
}

// signal delivers a presence change to the members of its room on this node but skip (the member
// that joined or left). It is not sequenced and not kept: presence events carry no offset.
func (t *Table[M]) signal(ch PresenceChange, skip M, hasSkip bool) {
	r := t.Lookup(ch.Room)
	if r == nil {
		return
	}
	p := t.NewPub(ch.Room)
	p.Presence = &ch
	r.mu.RLock()
	if r.count.Load() > 0 {
		t.fan.Prepare(p, r.variants(p.scratch[:0]))
		for loop, list := range r.members {
			if len(list) > 0 {
				t.fan.Deliver(loop, list, skip, hasSkip, p)
			}
		}
	}
	r.mu.RUnlock()
	p.Release()
}
