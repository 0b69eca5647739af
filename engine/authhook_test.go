package engine

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/openspeed/wsd/frame"
	"github.com/openspeed/wsd/internal/wstest"
)

// The Upgrade hook (authentication before the 101) and the origin policy.

// ahUser is what the test hook attaches to a connection.
type ahUser struct {
	Room, Token, Agent, Remote string
}

// ahHook accepts or rejects by the ?mode= of the request.
func ahHook(ctx *Context) (any, error) {
	switch ctx.Query("mode") {
	case "401":
		ctx.SetHeader("WWW-Authenticate", "Bearer")
		return nil, &HTTPError{Status: http.StatusUnauthorized, Message: "who are you"}
	case "error":
		return nil, errors.New("no reason given")
	case "panic":
		panic("upgrade hook panic (expected by the test)")
	}
	ctx.SetHeader("X-Hook", "ran")
	return &ahUser{ctx.Param("room"), ctx.Query("token"), ctx.Header("X-Agent"), ctx.RemoteAddr().String()}, nil
}

// ahServer has an echo route and /hook/:room guarded by ahHook, whose Open reports ws.Data().
func ahServer(t *testing.T) (*App, string, *atomic.Int64) {
	var opens atomic.Int64
	app, addr := startApp(t, Config{}, func(a *App) {
		echoRoute(a)
		a.Route("/hook/:room", Handlers{Open: func(ws *Conn, ctx *Context) {
			opens.Add(1)
			u, ok := ws.Data().(*ahUser)
			if !ok {
				_ = ws.Send(fmt.Sprintf("no user data: %T", ws.Data()))
				return
			}
			_ = ws.Send(u.Room + " " + u.Token + " " + u.Agent + " " + u.Remote)
		}, Options: RouteOptions{Upgrade: ahHook}})
	})
	return app, addr, &opens
}

// The hook sees path parameters, query, headers and the remote address; what it returns is Conn.Data
// in Open, and its headers go into the 101.
func TestHookAttachesData(t *testing.T) {
	_, addr, opens := ahServer(t)
	k := ptKeep(t, addr, "/echo", nil)
	r := wstest.DialRaw(t, addr)
	resp := r.Upgrade("/hook/lobby?token=abc", "X-Agent: tester")
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("X-Hook") != "ran" {
		t.Fatalf("accepted upgrade: status %d, X-Hook %q; want 101 with the hook's header", resp.StatusCode, resp.Header.Get("X-Hook"))
	}
	r.ExpectMessage(frame.OpText, []byte("lobby abc tester "+r.Conn.LocalAddr().String()))
	if opens.Load() != 1 {
		t.Fatalf("Open ran %d times", opens.Load())
	}
	k.progress(t, "after the accepted upgrade")
	k.finish(t)
}

// Rejections by the hook: an *HTTPError answers its status, message and headers; another error 403; a
// panic 500. Open never runs, every answer closes the socket, and the server keeps serving (the
// keeper, and an accepted upgrade after the panic).
func TestHookRejects(t *testing.T) {
	app, addr, opens := ahServer(t)
	k := ptKeep(t, addr, "/echo", nil)
	for _, tc := range []struct {
		mode, body, auth string
		status           int
	}{
		{"401", "who are you\n", "Bearer", http.StatusUnauthorized},
		{"error", "forbidden\n", "", http.StatusForbidden},
		{"panic", "internal server error\n", "", http.StatusInternalServerError},
	} {
		r := wstest.DialRaw(t, addr)
		resp := r.Upgrade("/hook/lobby?mode=" + tc.mode)
		body := rawBody(t, resp)
		if resp.StatusCode != tc.status || body != tc.body || resp.Header.Get("WWW-Authenticate") != tc.auth {
			t.Fatalf("mode %s: %d %q WWW-Authenticate %q; want %d %q %q", tc.mode, resp.StatusCode, body,
				resp.Header.Get("WWW-Authenticate"), tc.status, tc.body, tc.auth)
		}
		if !resp.Close {
			t.Fatalf("mode %s: no Connection: close", tc.mode)
		}
		expectClosedAfter(t, r)
		k.progress(t, "after the hook answered "+tc.mode)
	}
	if opens.Load() != 0 {
		t.Fatalf("Open ran %d times for rejected upgrades", opens.Load())
	}
	r := wstest.Dial(t, addr, "/hook/after?token=t")
	r.ExpectMessage(frame.OpText, []byte("after t  "+r.Conn.LocalAddr().String()))
	st := ptStats(app)
	if st.Rejected[RejectUnauthorized] != 1 || st.Rejected[RejectForbidden] != 1 || st.Rejected[RejectOther] != 1 {
		t.Fatalf("Stats.Rejected: unauthorized %d, forbidden %d, other %d; want 1 each",
			st.Rejected[RejectUnauthorized], st.Rejected[RejectForbidden], st.Rejected[RejectOther])
	}
	k.finish(t)
}

// The seed's pattern still works: accept, send an error event, then close with 1008.
func TestHookSeedStyleErrorThenClose(t *testing.T) {
	_, addr := startApp(t, Config{}, func(a *App) {
		echoRoute(a)
		a.WS("/seed", func(ws *Conn, ctx *Context) {
			if ctx.Query("token") != "good" {
				_ = ws.Send(map[string]string{"type": "error", "error": "unauthorized"})
				ws.CloseWith(ClosePolicyViolation, "unauthorized")
				return
			}
			ws.OnMessage(func(m Message) { _ = ws.Send(m) })
		})
	})
	k := ptKeep(t, addr, "/echo", nil)
	r := wstest.Dial(t, addr, "/seed?token=bad")
	r.ExpectMessage(frame.OpText, []byte(`{"error":"unauthorized","type":"error"}`))
	ltExpectClose(t, r, frame.ClosePolicyViolation, "unauthorized")
	r.CloseHandshake(frame.ClosePolicyViolation)
	good := wstest.Dial(t, addr, "/seed?token=good")
	good.Send(true, frame.OpText, []byte("hi"))
	good.ExpectMessage(frame.OpText, []byte("hi"))
	k.progress(t, "after the rejected client")
	k.finish(t)
}

// ahOrigin upgrades path with an optional Origin (empty: none) and returns the status.
func ahOrigin(t *testing.T, addr, path, origin string) int {
	t.Helper()
	r := wstest.DialRaw(t, addr)
	var extra []string
	if origin != "" {
		extra = append(extra, "Origin: "+origin)
	}
	resp := r.Upgrade(path, extra...)
	if resp.StatusCode == http.StatusForbidden {
		if body := rawBody(t, resp); body != "origin not allowed\n" {
			t.Fatalf("origin %q: 403 body %q", origin, body)
		}
		expectClosedAfter(t, r)
	}
	return resp.StatusCode
}

// ahOriginCase is an Origin header (empty: none) and the status it should get.
type ahOriginCase struct {
	origin string
	status int
}

func ahCheckOrigins(t *testing.T, addr, path string, k *ptKeeper, cases []ahOriginCase) {
	t.Helper()
	for _, tc := range cases {
		if got := ahOrigin(t, addr, path, tc.origin); got != tc.status {
			t.Fatalf("%s with Origin %q: status %d, want %d", path, tc.origin, got, tc.status)
		}
	}
	k.progress(t, "after the origin checks of "+path)
}

// Default policy: same origin (the Origin's host equals Host, example.test in wstest's requests) or
// no Origin at all; anything else is 403.
func TestOriginDefaultsameOrigin(t *testing.T) {
	_, addr := startApp(t, Config{}, echoRoute)
	k := ptKeep(t, addr, "/echo", nil)
	ahCheckOrigins(t, addr, "/echo", k, []ahOriginCase{
		{"https://evil.test", http.StatusForbidden},
		{"http://example.test.evil.test", http.StatusForbidden},
		{"null", http.StatusForbidden},
		{"http://example.test", http.StatusSwitchingProtocols},
		{"https://EXAMPLE.test", http.StatusSwitchingProtocols},
		{"", http.StatusSwitchingProtocols},
	})
	k.finish(t)
}

// AllowedOrigins patterns: "https://*.example.com" admits subdomains over https only, never a host
// that merely starts with the pattern's text.
func TestOriginAllowList(t *testing.T) {
	_, addr := startApp(t, Config{AllowedOrigins: []string{"https://*.example.com"}}, echoRoute)
	k := ptKeep(t, addr, "/echo", nil)
	ahCheckOrigins(t, addr, "/echo", k, []ahOriginCase{
		{"https://a.example.com", http.StatusSwitchingProtocols},
		{"https://A.Example.COM", http.StatusSwitchingProtocols},
		{"https://example.com.evil.com", http.StatusForbidden},
		{"https://evil.com/.example.com", http.StatusForbidden},
		{"https://a.example.com.evil.com", http.StatusForbidden},
		{"http://a.example.com", http.StatusForbidden},
		{"https://example.com", http.StatusForbidden},
		{"https://evil.com", http.StatusForbidden},
		{"http://example.test", http.StatusSwitchingProtocols}, // same origin still passes
		{"", http.StatusSwitchingProtocols},
	})
	k.finish(t)
}

// RejectMissingOrigin (per route) refuses requests without Origin; same-origin ones pass, and other
// routes keep the default.
func TestOriginRejectMissing(t *testing.T) {
	app, addr := startApp(t, Config{}, func(a *App) {
		echoRoute(a)
		a.Route("/browser", Handlers{Open: echoOpen, Options: RouteOptions{RejectMissingOrigin: true}})
	})
	k := ptKeep(t, addr, "/echo", nil) // no Origin, on a route with the default policy
	ahCheckOrigins(t, addr, "/browser", k, []ahOriginCase{
		{"", http.StatusForbidden},
		{"https://evil.test", http.StatusForbidden},
		{"http://example.test", http.StatusSwitchingProtocols},
	})
	if got := ptStats(app).Rejected[RejectForbidden]; got != 2 {
		t.Fatalf("Stats.Rejected[forbidden] = %d, want 2", got)
	}
	k.finish(t)
}
