package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestAPIReadsGuardedWithAuth: with authentication on, the room reads (the listing, a room's info and
// history, its presence) need the API key or a token that allows the room: without either 401, with a
// token for another room 403, and the listing is cut down to the rooms the token allows.
func TestAPIReadsGuardedWithAuth(t *testing.T) {
	c := svConfig()
	c.Auth.JWTSecret = auSecret
	c.API.Key = "k3y"
	_, addr := svStart(t, c, nil)
	base := "http://" + addr
	tokA := psToken(t, auSecret, "ada", "a")
	for _, room := range []string{"a", "b"} {
		ws := svDial(t, addr, "/ws?token="+psToken(t, auSecret, "u-"+room, room), nil)
		svWrite(t, ws, `{"type":"join","room":"`+room+`","id":1}`)
		svReadJSON(t, ws)
		svWrite(t, ws, `{"type":"publish","room":"`+room+`","data":"secret of `+room+`","id":2}`)
		svReadJSON(t, ws)
		svReadJSON(t, ws)
	}
	for _, path := range []string{"/rooms", "/rooms/a/info", "/rooms/a/presence"} {
		resp, body := svHTTP(t, http.MethodGet, base+path, "")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d %q, want 401", path, resp.StatusCode, body)
		}
		svStatus(t, http.StatusOK, http.MethodGet, base+path, "", "X-API-Key", "k3y")
	}
	if got := svStatus(t, http.StatusOK, http.MethodGet, base+"/rooms", "", "Authorization", "Bearer "+tokA); got != `[{"room":"a","connections":1}]` {
		t.Errorf("GET /rooms with a token for room a: %s", got)
	}
	if got := svStatus(t, http.StatusOK, http.MethodGet, base+"/rooms/a/info?token="+tokA, ""); !strings.Contains(got, "secret of a") {
		t.Errorf("GET /rooms/a/info with its token: %s", got)
	}
	for _, path := range []string{"/rooms/b/info", "/rooms/b/presence"} {
		resp, body := svHTTP(t, http.MethodGet, base+path+"?token="+tokA, "")
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "secret of b") {
			t.Errorf("GET %s with a token for room a: %d %q, want 403", path, resp.StatusCode, body)
		}
	}
	if got := svStatus(t, http.StatusOK, http.MethodGet, base+"/rooms/b/presence", "", "X-API-Key", "k3y"); !strings.Contains(got, `"user":"u-b"`) {
		t.Errorf("GET /rooms/b/presence with the key: %s", got)
	}
}
