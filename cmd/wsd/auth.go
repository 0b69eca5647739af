package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/openspeed/wsd/engine"
)

// authConfig configures JWT authentication of WebSocket upgrades. With neither Secret nor KeyFile set,
// authentication is off.
type authConfig struct {
	Secret  string // HS256 shared secret
	KeyFile string // PEM public key for RS256 or ES256
}

// claims are the token claims wsd uses: sub is the user id; rooms, when present, lists the only rooms
// the user may join.
type claims struct {
	Rooms []string `json:"rooms,omitempty"`
	jwt.RegisteredClaims
}

// user is what an authenticated connection carries (Conn.Data).
type user struct {
	ID    string
	Rooms []string // nil: any room
}

// mayJoin reports whether the user may join room.
func (u *user) mayJoin(room string) bool {
	return u == nil || u.Rooms == nil || slices.Contains(u.Rooms, room)
}

// authenticator checks tokens from ?token= or Authorization: Bearer before the 101 answer.
type authenticator struct {
	key    any // []byte for HS256, *rsa.PublicKey or *ecdsa.PublicKey
	method []string
}

// newAuthenticator returns nil when authentication is off.
func newAuthenticator(cfg authConfig) (*authenticator, error) {
	switch {
	case cfg.Secret != "" && cfg.KeyFile != "":
		return nil, errors.New("auth: set either a JWT secret or a key file, not both")
	case cfg.Secret != "":
		return &authenticator{key: []byte(cfg.Secret), method: []string{"HS256"}}, nil
	case cfg.KeyFile != "":
		return loadPublicKey(cfg.KeyFile)
	}
	return nil, nil
}

func loadPublicKey(path string) (*authenticator, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if k, err := jwt.ParseRSAPublicKeyFromPEM(pem); err == nil {
		return &authenticator{key: k, method: []string{"RS256"}}, nil
	}
	k, err := jwt.ParseECPublicKeyFromPEM(pem)
	if err != nil {
		return nil, fmt.Errorf("auth: %s holds neither an RSA nor an EC public key", path)
	}
	return &authenticator{key: k, method: []string{"ES256"}}, nil
}

// upgrade is the RouteOptions.Upgrade hook: 401 for a missing, malformed, expired or wrongly signed
// token; 403 when the token's rooms claim does not include the route's room.
func (a *authenticator) upgrade(ctx *engine.Context) (any, error) {
	if a == nil {
		return nil, nil
	}
	raw := bearer(ctx)
	if raw == "" {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="wsd"`)
		return nil, engine.NewHTTPError(http.StatusUnauthorized, "missing token")
	}
	var c claims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return a.key, nil },
		jwt.WithValidMethods(a.method), jwt.WithExpirationRequired())
	if err != nil || c.Subject == "" {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="wsd", error="invalid_token"`)
		return nil, engine.NewHTTPError(http.StatusUnauthorized, "invalid token")
	}
	u := &user{ID: c.Subject, Rooms: c.Rooms}
	if room := ctx.Param("room"); room != "" && !u.mayJoin(room) {
		return nil, engine.NewHTTPError(http.StatusForbidden, "token does not allow room "+room)
	}
	return u, nil
}

// bearer returns the token of ?token= or of an Authorization: Bearer header.
func bearer(ctx *engine.Context) string {
	if t := ctx.Query("token"); t != "" {
		return t
	}
	h := ctx.Header("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
