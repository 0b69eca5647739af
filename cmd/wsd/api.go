package main

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/openspeed/wsd/engine"
	"github.com/openspeed/wsd/frame"
)

// apiRoutes registers the HTTP API:
//
//	GET  /rooms                 [{"room","connections"}], sorted by room
//	GET  /rooms/:room/info      {"room","connections","messages":[...]} (the room's last messages)
//	POST /rooms/:room/publish   the body to every member; {"room","delivered"}
//
// Publishing needs the API key (Authorization: Bearer <key>, or X-API-Key: <key>); without a
// configured key it is refused (403) unless api.publish_without_key is set. api.protect_reads asks
// for the key on the two GET routes too.
func (s *server) apiRoutes() {
	read := func(h engine.HandlerFunc) engine.HandlerFunc {
		if !s.cfg.API.ProtectReads {
			return h
		}
		return s.withKey(h)
	}
	s.GET("/rooms", read(listRooms(s.App)))
	s.GET("/rooms/:room/info", read(roomInfo(s.App)))
	s.POST("/rooms/:room/publish", s.withKey(publish(s.App)))
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
		return engine.NewHTTPError(http.StatusForbidden, "the HTTP API needs api.key (or api.publish_without_key: true)")
	}
	got := apiKey(ctx)
	if got == "" {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="wsd-api"`)
		return engine.NewHTTPError(http.StatusUnauthorized, "missing API key")
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="wsd-api", error="invalid_token"`)
		return engine.NewHTTPError(http.StatusUnauthorized, "invalid API key")
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

// listRooms is GET /rooms: every live room with its connection count.
func listRooms(app *engine.App) engine.HandlerFunc {
	return func(ctx *engine.Context) error {
		return ctx.JSON(http.StatusOK, app.Rooms())
	}
}

// roomInfo is GET /rooms/:room/info: {"room","connections","messages":[...]}. A room nobody is in
// answers with 0 connections and no messages.
func roomInfo(app *engine.App) engine.HandlerFunc {
	return func(ctx *engine.Context) error {
		info, err := app.RoomInfo(ctx.Param("room"))
		if err != nil && !errors.Is(err, engine.ErrNoRoom) {
			return err
		}
		if ctx.Query("messages") == "0" {
			info.Messages = info.Messages[:0] // the count alone (the chat page polls it)
		}
		return ctx.JSON(http.StatusOK, info)
	}
}

// publish is POST /rooms/:room/publish: the request body goes to every member of the room, as text
// when it is valid UTF-8 and as binary otherwise. With ?envelope=1 the body must be JSON and goes
// out as the /ws protocol's {"type":"message","room":...,"data":<body>}. It answers
// {"room","delivered"}.
func publish(app *engine.App) engine.HandlerFunc {
	return func(ctx *engine.Context) error {
		room, body := ctx.Param("room"), ctx.Body()
		op := frame.OpText
		switch {
		case ctx.Query("envelope") == "1":
			if !json.Valid(body) {
				return engine.NewHTTPError(http.StatusBadRequest, "envelope=1 needs a JSON body")
			}
			body = appendMessage(nil, room, body)
		case !utf8.Valid(body):
			op = frame.OpBinary
		}
		n := app.PublishFrame(room, op, body)
		return ctx.JSON(http.StatusOK, map[string]any{"room": room, "delivered": n})
	}
}
