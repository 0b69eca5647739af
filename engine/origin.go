package engine

import (
	"net/url"
	"path"
	"strings"
)

// originPolicy decides which browser origins may open a WebSocket on a route.
type originPolicy struct {
	custom        func(*Context) bool
	allowed       []string // lower-case glob patterns
	rejectMissing bool
}

func newOriginPolicy(custom func(*Context) bool, allowed []string, rejectMissing bool) originPolicy {
	p := originPolicy{custom: custom, rejectMissing: rejectMissing}
	for _, a := range allowed {
		p.allowed = append(p.allowed, strings.ToLower(strings.TrimSuffix(a, "/")))
	}
	return p
}

// check applies the policy: a custom CheckOrigin decides alone; otherwise a request without Origin
// passes unless RejectMissingOrigin, and a request with Origin passes when it is same-origin or matches
// one of AllowedOrigins.
func (p originPolicy) check(ctx *Context) bool {
	if p.custom != nil {
		return p.custom(ctx)
	}
	origin := ctx.Header("Origin")
	if origin == "" {
		return !p.rejectMissing
	}
	if sameOrigin(ctx) {
		return true
	}
	return matchOrigin(p.allowed, origin)
}

// matchOrigin reports whether origin matches one of the patterns: "*" matches any origin; otherwise a
// pattern is compared case-insensitively with path.Match, where '*' matches any run of characters
// except '/' ("https://*.example.com", "http://localhost:*").
func matchOrigin(patterns []string, origin string) bool {
	origin = strings.ToLower(origin)
	for _, p := range patterns {
		if p == "*" || p == origin {
			return true
		}
		if ok, err := path.Match(p, origin); ok && err == nil {
			return true
		}
	}
	return false
}

// sameOrigin is the default origin check: requests without Origin pass; with Origin, its host[:port]
// must equal the Host header (case-insensitive).
func sameOrigin(ctx *Context) bool {
	origin := ctx.Header("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, ctx.Header("Host"))
}
