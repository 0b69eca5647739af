package natsbroker

import "github.com/openspeed/wsd/rooms"

// LEAD-TEMP: replaced by the natsbroker helper's cluster presence (branch h-nats) before landing.

// Presence implements rooms.Broker.
func (b *Broker) Presence(ch rooms.PresenceChange) {}

// RemotePresence implements rooms.Broker.
func (b *Broker) RemotePresence(room string) []rooms.Client { return nil }
