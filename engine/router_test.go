package engine

import (
	"fmt"
	"strings"
	"testing"
)

// routerOf builds a router with a GET route for each pattern.
func routerOf(t *testing.T, patterns ...string) *router {
	t.Helper()
	r := new(router)
	for _, p := range patterns {
		r.add(&route{method: "GET", pattern: p, http: func(*Context) error { return nil }})
	}
	return r
}

// routeMatch is what matching one path produced: the GET route's pattern ("" for no match) and a
// Context that decodes its parameters.
type routeMatch struct {
	pattern string
	ctx     *Context
}

func matchPath(r *router, path string) routeMatch {
	ep, vals := r.match(path, nil)
	rt := ep.get("GET")
	if rt == nil {
		return routeMatch{}
	}
	return routeMatch{pattern: rt.pattern, ctx: &Context{rt: rt, params: vals}}
}

// expectRoute checks that path matches want (a pattern, "" for no match) with the given decoded
// parameters (name, value pairs).
func expectRoute(t *testing.T, r *router, path, want string, params ...string) {
	t.Helper()
	m := matchPath(r, path)
	if m.pattern != want {
		t.Fatalf("%q matched %q, want %q", path, m.pattern, want)
	}
	for i := 0; i+1 < len(params); i += 2 {
		if got := m.ctx.Param(params[i]); got != params[i+1] {
			t.Fatalf("%q: Param(%q) = %q, want %q", path, params[i], got, params[i+1])
		}
	}
}

// expectPanic runs fn and returns the panic message, failing the test when fn does not panic.
func expectPanic(t *testing.T, what string, fn func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatalf("%s: no panic", what)
		}
		msg = fmt.Sprint(r)
	}()
	fn()
	return ""
}

func TestRouterStaticBeatsParam(t *testing.T) {
	r := routerOf(t, "/a/:x", "/a/b", "/a/:x/c")
	expectRoute(t, r, "/a/b", "/a/b")
	expectRoute(t, r, "/a/z", "/a/:x", "x", "z")
	expectRoute(t, r, "/a/b/c", "/a/:x/c", "x", "b")
	expectRoute(t, r, "/a/z/c", "/a/:x/c", "x", "z")
	expectRoute(t, r, "/a", "")
	expectRoute(t, r, "/a/", "") // a parameter never matches an empty segment
	expectRoute(t, r, "/a/b/c/d", "")
}

func TestRouterBacktracking(t *testing.T) {
	r := routerOf(t, "/a/b/c", "/a/:x/d")
	expectRoute(t, r, "/a/b/c", "/a/b/c")
	expectRoute(t, r, "/a/b/d", "/a/:x/d", "x", "b")
	expectRoute(t, r, "/a/q/d", "/a/:x/d", "x", "q")
	expectRoute(t, r, "/a/b/e", "")
	expectRoute(t, r, "/a/q/c", "")
}

func TestRouterBacktrackingToCatchAll(t *testing.T) {
	r := routerOf(t, "/s/:x/end", "/s/*", "/s/fixed/deep")
	expectRoute(t, r, "/s/fixed/deep", "/s/fixed/deep")
	expectRoute(t, r, "/s/fixed/end", "/s/:x/end", "x", "fixed")
	expectRoute(t, r, "/s/fixed/other", "/s/*", "*", "fixed/other")
	expectRoute(t, r, "/s/one", "/s/*", "*", "one")
}

func TestRouterParamDecoding(t *testing.T) {
	r := routerOf(t, "/u/:name/:id", "/f/*")
	expectRoute(t, r, "/u/a%20b/42", "/u/:name/:id", "name", "a b", "id", "42")
	expectRoute(t, r, "/u/a%2Fb/%E2%82%AC", "/u/:name/:id", "name", "a/b", "id", "€")
	expectRoute(t, r, "/u/plus+sign/x", "/u/:name/:id", "name", "plus+sign") // '+' is not a space in a path
	expectRoute(t, r, "/u/bad%zz/x", "/u/:name/:id", "name", "bad%zz")       // undecodable: raw value
	expectRoute(t, r, "/f/a%20b/c%2Fd", "/f/*", "*", "a b/c/d")
	m := matchPath(r, "/u/x/y")
	if got := m.ctx.Param("missing"); got != "" {
		t.Fatalf("Param(missing) = %q", got)
	}
	if got := (&Context{}).Param("name"); got != "" {
		t.Fatalf("Param on a Context without route = %q", got)
	}
}

func TestRouterCatchAll(t *testing.T) {
	r := routerOf(t, "/files/*")
	expectRoute(t, r, "/files/", "/files/*", "*", "")
	expectRoute(t, r, "/files/a", "/files/*", "*", "a")
	expectRoute(t, r, "/files/a/b", "/files/*", "*", "a/b")
	expectRoute(t, r, "/files/a/b/", "/files/*", "*", "a/b/")
	expectRoute(t, r, "/files", "")
	expectRoute(t, r, "/filesx/a", "")
	expectRoute(t, r, "/", "")
}

func TestRouterRoot(t *testing.T) {
	r := routerOf(t, "/")
	expectRoute(t, r, "/", "/")
	expectRoute(t, r, "/a", "")
	expectRoute(t, r, "", "")
	expectRoute(t, r, "a", "")
	expectRoute(t, r, "*", "")
}

func TestRouterRootCatchAll(t *testing.T) {
	r := routerOf(t, "/*")
	expectRoute(t, r, "/", "/*", "*", "")
	expectRoute(t, r, "/a", "/*", "*", "a")
	expectRoute(t, r, "/a/b", "/*", "*", "a/b")

	both := routerOf(t, "/*", "/", "/x")
	expectRoute(t, both, "/", "/")
	expectRoute(t, both, "/x", "/x")
	expectRoute(t, both, "/y", "/*", "*", "y")
}

func TestRouterConflictNamesBoth(t *testing.T) {
	cases := [][2]string{
		{"/a/:x", "/a/:y"},
		{"/a/:x/b", "/a/:y/b"},
		{"/a/b", "/a/b"},
		{"/a/*", "/a/*"},
		{"/", "/"},
		{"/:p/*", "/:q/*"},
	}
	for _, tc := range cases {
		t.Run(tc[0]+" vs "+tc[1], func(t *testing.T) {
			r := routerOf(t, tc[0])
			msg := expectPanic(t, "registering "+tc[1], func() {
				r.add(&route{method: "GET", pattern: tc[1], http: func(*Context) error { return nil }})
			})
			named := strings.Contains(msg, tc[0]) && strings.Contains(msg, tc[1])
			if tc[0] == tc[1] {
				named = strings.Count(msg, " "+tc[0]) >= 2
			}
			if !named {
				t.Fatalf("panic %q does not name both %q and %q", msg, tc[0], tc[1])
			}
		})
	}
}

func TestRouterMalformedPatternsPanic(t *testing.T) {
	for _, p := range []string{
		"", "a/b", "a", "*", ":x",
		"/a/*/b", "/*/x",
		"/a/:x/:x", "/:id/b/:id",
		"/a/:", "/:/b",
		"/a/b:c", "/a/b*", "/a/**",
	} {
		t.Run(p, func(t *testing.T) {
			msg := expectPanic(t, "pattern "+p, func() { routerOf(t, p) })
			if !strings.Contains(msg, fmt.Sprintf("%q", p)) {
				t.Fatalf("panic %q does not name the pattern %q", msg, p)
			}
		})
	}
}

func TestRouterSameShapeDifferentMethods(t *testing.T) {
	var r router
	h := func(*Context) error { return nil }
	r.add(&route{method: "GET", pattern: "/chat/:room", http: h})
	r.add(&route{method: methodWS, pattern: "/chat/:room", ws: &wsRoute{pattern: "/chat/:room"}})
	r.add(&route{method: "POST", pattern: "/chat/:id", http: h})
	ep, vals := r.match("/chat/lobby", nil)
	if ep.get("GET") == nil || ep.get(methodWS) == nil || ep.get("POST") == nil {
		t.Fatalf("endpoint methods %v", ep.methods)
	}
	if len(vals) != 1 || vals[0] != "lobby" {
		t.Fatalf("params %q", vals)
	}
	if got, want := ep.allowed(), "GET, HEAD, POST"; got != want {
		t.Fatalf("allowed %q, want %q", got, want)
	}
	ctx := &Context{rt: ep.get("POST"), params: vals}
	if got := ctx.Param("id"); got != "lobby" {
		t.Fatalf("POST route Param(id) = %q", got)
	}
}

func TestRouterAllowedWSOnly(t *testing.T) {
	var r router
	r.add(&route{method: methodWS, pattern: "/ws", ws: &wsRoute{pattern: "/ws"}})
	r.add(&route{method: "DELETE", pattern: "/ws", http: func(*Context) error { return nil }})
	ep, _ := r.match("/ws", nil)
	if got, want := ep.allowed(), "DELETE, GET, HEAD"; got != want {
		t.Fatalf("allowed %q, want %q", got, want)
	}
}

func TestRouterMatchAppendsToVals(t *testing.T) {
	r := routerOf(t, "/a/:x/:y")
	buf := make([]string, 0, 4)
	ep, vals := r.match("/a/1/2", buf)
	if ep == nil || len(vals) != 2 || vals[0] != "1" || vals[1] != "2" {
		t.Fatalf("ep %v vals %q", ep, vals)
	}
	if &vals[0] != &buf[:1][0] {
		t.Fatal("match did not reuse the caller's buffer")
	}
}
