package main

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/openspeed/wsd/engine"
)

// apiRoutes registers the HTTP API:
//
//	GET  /rooms                   [{"room","connections"}], sorted by room
//	GET  /rooms/:room/info        {"room","connections","offset","epoch","messages":[...]}: the room's
//	                              position and history (?after=<offset> and ?limit=<n> select)
//	GET  /rooms/:room/presence    {"room","clients":[{"user","conn"}]}
//	POST /rooms/:room/publish     the body to every member; {"room","offset","epoch","delivered"}
//
// Publishing needs the API key (Authorization: Bearer <key>, or X-API-Key: <key>); without a
// configured key it is refused (403) unless api.publish_without_key is set. The reads need the key, or
// a token (JWT) that allows the room, when authentication is on or api.protect_reads is set.
func (s *server) apiRoutes() {
	s.GET("/rooms", s.guard(listRooms(s.App)))
	s.GET("/rooms/:room/info", s.guard(roomInfo(s.App)))
	s.GET("/rooms/:room/presence", s.guard(roomPresence(s.App)))
	s.POST("/rooms/:room/publish", s.withKey(publish(s.App)))
}

// readHandler serves a read of the HTTP API; u is the token's user when the request was let in by a
// token (nil: by the API key, or no guard).
type readHandler func(ctx *engine.Context, u *user) error

// guard protects a read of the HTTP API when authentication is on (or api.protect_reads is set): it
// passes with the API key, or with a token that allows the request's room (for GET /rooms, the
// listing is then cut down to the rooms the token allows).
func (s *server) guard(h readHandler) engine.HandlerFunc {
	return func(ctx *engine.Context) error {
		if s.auth == nil && !s.cfg.API.ProtectReads {
			return h(ctx, nil)
		}
		if s.checkKey(ctx) == nil {
			return h(ctx, nil)
		}
		if s.auth == nil {
			return s.checkKey(ctx)
		}
		data, err := s.auth.upgrade(ctx) // the same checks as a WebSocket upgrade of that room
		if err != nil {
			return err
		}
		u, _ := data.(*user)
		return h(ctx, u)
	}
}

// withKey runs h only for a request that carries the API key.
func (s *server) withKey(h engine.HandlerFunc) engine.HandlerFunc {
	return func(ctx *engine.Context) error {
		if err := s.checkKey(ctx); err != nil {
			return err
		}
		return h(ctx)
	}
}

// checkKey answers 401 for a missing or wrong key, 403 when no key is configured (unless
// api.publish_without_key lets everyone in). The comparison takes constant time.
func (s *server) checkKey(ctx *engine.Context) error {
	want := s.cfg.API.Key
	if want == "" {
		if s.cfg.API.PublishWithoutKey {
			return nil
		}
		return &engine.HTTPError{Status: http.StatusForbidden, Message: "the HTTP API needs api.key (or api.publish_without_key: true)"}
	}
	got := apiKey(ctx)
	if got == "" {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="wsd-api"`)
		return &engine.HTTPError{Status: http.StatusUnauthorized, Message: "missing API key"}
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="wsd-api", error="invalid_token"`)
		return &engine.HTTPError{Status: http.StatusUnauthorized, Message: "invalid API key"}
	}
	return nil
}

// apiKey is the key of an X-API-Key header or of Authorization: Bearer.
func apiKey(ctx *engine.Context) string {
	if k := ctx.Header("X-API-Key"); k != "" {
		return strings.TrimSpace(k)
	}
	h := ctx.Header("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// listRooms is GET /rooms: every room with members and its connection count (with a token: the
// rooms it allows).
func listRooms(app *engine.App) readHandler {
	return func(ctx *engine.Context, u *user) error {
		list := app.Rooms()
		if u != nil && u.Rooms != nil {
			list = slices.DeleteFunc(list, func(rc engine.RoomCount) bool { return !u.mayJoin(rc.Name) })
		}
		return ctx.JSON(http.StatusOK, list)
	}
}

// roomInfo is GET /rooms/:room/info: the room's count, position and history (?after=, ?limit=;
// ?messages=0 leaves the messages out). A room nobody is in answers with 0 connections and no
// messages.
func roomInfo(app *engine.App) readHandler {
	return func(ctx *engine.Context, _ *user) error {
		after, err := queryUint(ctx, "after")
		if err != nil {
			return err
		}
		limit, err := queryUint(ctx, "limit")
		if err != nil {
			return err
		}
		if ctx.Query("messages") == "0" {
			after = ^uint64(0) // the count and position alone
		}
		info, err := app.RoomInfo(ctx.Param("room"), after, int(min(limit, 1<<20)))
		if err != nil && !errors.Is(err, engine.ErrNoRoom) {
			return err
		}
		return ctx.JSON(http.StatusOK, info)
	}
}

// queryUint reads an optional non-negative integer query parameter (400 when malformed).
func queryUint(ctx *engine.Context, key string) (uint64, error) {
	v := ctx.Query(key)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, &engine.HTTPError{Status: http.StatusBadRequest, Message: key + " must be a non-negative integer"}
	}
	return n, nil
}

// roomPresence is GET /rooms/:room/presence: who is in the room (users of /ws connections).
func roomPresence(app *engine.App) readHandler {
	return func(ctx *engine.Context, _ *user) error {
		room := ctx.Param("room")
		return ctx.JSON(http.StatusOK, presenceAck{Room: room, Clients: app.Presence(room)})
	}
}

// publishAnswer is the answer of POST /rooms/:room/publish.
type publishAnswer struct {
	Room      string `json:"room"`
	Offset    uint64 `json:"offset"`
	Epoch     string `json:"epoch,omitempty"`
	Delivered int    `json:"delivered"`
}

// publish is POST /rooms/:room/publish: the request body goes to every member of the room, as text
// when it is valid UTF-8 and as binary otherwise (/ws members receive it in their message envelope).
// It answers once the publication has its position (in a cluster, after the stream stored it).
func publish(app *engine.App) engine.HandlerFunc {
	return func(ctx *engine.Context) error {
		room, body := ctx.Param("room"), ctx.Body()
		op := engine.OpText
		if !utf8.Valid(body) {
			op = engine.OpBinary
		}
		room = strings.Clone(room) // the request's bytes are gone once the handler returns
		ctx.Defer()
		err := app.Publish(room, engine.NewMessage(op, body), func(r engine.PublishResult) {
			if r.Err != nil {
				_ = ctx.String(http.StatusServiceUnavailable, "publish failed: "+r.Err.Error()+"\n")
				return
			}
			_ = ctx.JSON(http.StatusOK, publishAnswer{Room: room, Offset: r.Position.Offset,
				Epoch: r.Position.Epoch, Delivered: r.Delivered})
		})
		switch {
		case errors.Is(err, engine.ErrRoomName):
			_ = ctx.String(http.StatusBadRequest, "invalid room name\n")
		case err != nil:
			_ = ctx.String(http.StatusInternalServerError, "publish failed: "+err.Error()+"\n")
		}
		return nil
	}
}
