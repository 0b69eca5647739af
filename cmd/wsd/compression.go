package main

import "github.com/openspeed/wsd/engine"

// CompressionConfig is permessage-deflate (RFC 7692), engine.Compression in configuration form. The
// top-level block applies to every WebSocket route that does not override it; wsd's defaults turn
// it on for /chat and /ws only (routes.<name>.compression.enabled).
type CompressionConfig struct {
	// Enabled negotiates permessage-deflate with clients that offer it (browsers do).
	Enabled bool `yaml:"enabled"`
	// Threshold: messages shorter than this are sent uncompressed; 0 compresses every message.
	// Room broadcasts always use the top-level value (they are compressed once for all members).
	Threshold Size `yaml:"threshold"`
	// ServerContextTakeover keeps a compressor per connection (about 810 KiB once it sent a
	// message): better ratio on similar messages, much more memory. Off: nothing per connection.
	ServerContextTakeover bool `yaml:"server_context_takeover"`
	// ClientContextTakeover lets clients keep their context; the server then holds an inflater per
	// connection (about 37 KiB once it received a compressed message).
	ClientContextTakeover bool `yaml:"client_context_takeover"`
}

// RouteCompression overrides the top-level compression block for one route, key by key: an absent
// (nil) key inherits the top-level value.
type RouteCompression struct {
	Enabled               *bool `yaml:"enabled,omitempty"`
	Threshold             *Size `yaml:"threshold,omitempty"`
	ServerContextTakeover *bool `yaml:"server_context_takeover,omitempty"`
	ClientContextTakeover *bool `yaml:"client_context_takeover,omitempty"`
}

// isSet reports whether the route overrides any compression key.
func (r RouteCompression) isSet() bool {
	return r.Enabled != nil || r.Threshold != nil || r.ServerContextTakeover != nil ||
		r.ClientContextTakeover != nil
}

// over returns the top-level block c with the route's overrides applied.
func (r RouteCompression) over(c CompressionConfig) CompressionConfig {
	if r.Enabled != nil {
		c.Enabled = *r.Enabled
	}
	if r.Threshold != nil {
		c.Threshold = *r.Threshold
	}
	if r.ServerContextTakeover != nil {
		c.ServerContextTakeover = *r.ServerContextTakeover
	}
	if r.ClientContextTakeover != nil {
		c.ClientContextTakeover = *r.ClientContextTakeover
	}
	return c
}

// engine maps the block to engine.Compression. The engine reads a threshold of 0 as its default
// (256), so wsd's 0 ("compress everything") becomes 1: only the empty message stays uncompressed,
// where compressing gains nothing.
func (c CompressionConfig) engine() engine.Compression {
	return engine.Compression{
		Enabled:               c.Enabled,
		Threshold:             max(int(min(c.Threshold, Size(maxInt))), 1),
		ServerContextTakeover: c.ServerContextTakeover,
		ClientContextTakeover: c.ClientContextTakeover,
	}
}

// maxInt is the largest int (a threshold past it means "never compress").
const maxInt = int(^uint(0) >> 1)

// routeCompression is a route's engine.Compression when it overrides any key (nil: the route uses
// engine.Config.Compression, the top-level block).
func (c *Config) routeCompression(r *RouteConfig) *engine.Compression {
	if !r.Compression.isSet() {
		return nil
	}
	ec := r.Compression.over(c.Compression).engine()
	return &ec
}
