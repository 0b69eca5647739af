package engine

import (
	"fmt"
	"sort"
	"strings"
)

// The router matches a request path segment by segment against a tree of patterns: static segments
// ("rooms"), parameters (":room") and a trailing catch-all ("*", captured as parameter "*").
// At each level a static segment wins over a parameter, which wins over the catch-all; when a branch
// fails further down, the matcher backtracks. Registering the same method on two patterns of the same
// shape ("/a/:x" and "/a/:y") panics at start-up naming both.

// methodWS is the pseudo-method of WebSocket routes (a GET with Upgrade: websocket).
const methodWS = "WS"

type node struct {
	static   map[string]*node
	param    *node
	catchAll *endpoint
	ep       *endpoint
}

// endpoint is what one route shape serves, per method.
type endpoint struct {
	methods map[string]*route
}

// route is one registered (method, pattern).
type route struct {
	method  string
	pattern string
	names   []string // parameter names in path order
	http    HandlerFunc
	ws      *wsRoute
}

type router struct {
	root node
}

// add registers a route; it panics on a malformed pattern or a conflict.
func (r *router) add(rt *route) {
	segs, names := parsePattern(rt.pattern)
	rt.names = names
	n := &r.root
	var ep **endpoint
	for i, s := range segs {
		switch {
		case s == "*":
			if i != len(segs)-1 {
				panic(fmt.Sprintf("engine: route %q: * must be the last segment", rt.pattern))
			}
			ep = &n.catchAll
		case s[0] == ':':
			if n.param == nil {
				n.param = new(node)
			}
			n = n.param
		default:
			if n.static == nil {
				n.static = make(map[string]*node)
			}
			child := n.static[s]
			if child == nil {
				child = new(node)
				n.static[s] = child
			}
			n = child
		}
	}
	if ep == nil {
		ep = &n.ep
	}
	if *ep == nil {
		*ep = &endpoint{methods: make(map[string]*route)}
	}
	if old := (*ep).methods[rt.method]; old != nil {
		panic(fmt.Sprintf("engine: route conflict: %s %s conflicts with %s %s",
			rt.method, rt.pattern, old.method, old.pattern))
	}
	(*ep).methods[rt.method] = rt
}

// parsePattern splits "/a/:b/*" into segments and parameter names, validating it.
func parsePattern(p string) (segs, names []string) {
	if !strings.HasPrefix(p, "/") {
		panic(fmt.Sprintf("engine: route %q must start with /", p))
	}
	if p == "/" {
		return nil, nil
	}
	segs = strings.Split(p[1:], "/")
	seen := map[string]bool{}
	for _, s := range segs {
		name := ""
		switch {
		case s == "*":
			name = "*"
		case strings.HasPrefix(s, ":"):
			name = s[1:]
			if name == "" {
				panic(fmt.Sprintf("engine: route %q: empty parameter name", p))
			}
		case strings.ContainsAny(s, ":*"):
			panic(fmt.Sprintf("engine: route %q: ':' and '*' only start a segment", p))
		default:
			continue
		}
		if seen[name] {
			panic(fmt.Sprintf("engine: route %q: parameter %q repeated", p, name))
		}
		seen[name] = true
		names = append(names, name)
	}
	return segs, names
}

// match finds the endpoint for path, appending raw (still escaped) parameter values to vals.
func (r *router) match(path string, vals []string) (*endpoint, []string) {
	if path == "" || path[0] != '/' {
		return nil, vals
	}
	return r.root.match(path[1:], path == "/", vals)
}

// match matches rest (path without the leading '/'); atRoot marks the path "/" itself.
func (n *node) match(rest string, atRoot bool, vals []string) (*endpoint, []string) {
	if atRoot {
		if n.ep == nil && n.catchAll != nil {
			return n.catchAll, append(vals, "")
		}
		return n.ep, vals
	}
	seg, tail, more := strings.Cut(rest, "/")
	if child := n.static[seg]; child != nil {
		if ep, v := child.next(tail, more, vals); ep != nil {
			return ep, v
		}
	}
	if n.param != nil && seg != "" {
		if ep, v := n.param.next(tail, more, append(vals, seg)); ep != nil {
			return ep, v
		}
	}
	if n.catchAll != nil {
		return n.catchAll, append(vals, rest)
	}
	return nil, vals
}

// next continues matching below n after a segment was consumed.
func (n *node) next(tail string, more bool, vals []string) (*endpoint, []string) {
	if !more {
		return n.ep, vals
	}
	return n.match(tail, false, vals)
}

// allowed lists the methods of an endpoint for a 405 Allow header (WS shows as GET).
func (e *endpoint) allowed() string {
	set := map[string]bool{}
	for m := range e.methods {
		if m == methodWS {
			m = "GET"
		}
		set[m] = true
		if m == "GET" {
			set["HEAD"] = true
		}
	}
	list := make([]string, 0, len(set))
	for m := range set {
		list = append(list, m)
	}
	sort.Strings(list)
	return strings.Join(list, ", ")
}
