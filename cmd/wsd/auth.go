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
	Secret   string // HS256 shared secret, at least minHS256Secret bytes
	KeyFile  string // PEM public key for RS256 or ES256
	Audience string // when set, a token's aud claim (a string or an array) must contain it
	Issuer   string // when set, a token's iss claim must equal it
}

// minHS256Secret is the shortest HS256 secret wsd accepts, in bytes: RFC 7518 §3.2 requires a key
// of at least the hash's size (256 bits); a shorter one can be brute-forced from any token.
const minHS256Secret = 32

// errShortSecret is the problem of an HS256 secret under minHS256Secret bytes.
func errShortSecret(n int) error {
	return fmt.Errorf("an HS256 secret must be at least %d bytes (RFC 7518 §3.2), got %d", minHS256Secret, n)
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
	parser *jwt.Parser
}

// newAuthenticator returns nil when authentication is off.
func newAuthenticator(cfg authConfig) (*authenticator, error) {
	var (
		a   *authenticator
		err error
	)
	switch {
	case cfg.Secret != "" && cfg.KeyFile != "":
		return nil, errors.New("auth: set either a JWT secret or a key file, not both")
	case cfg.Secret != "":
		if len(cfg.Secret) < minHS256Secret {
			return nil, fmt.Errorf("auth: %w", errShortSecret(len(cfg.Secret)))
		}
		a = &authenticator{key: []byte(cfg.Secret)}
		a.parser = newParser(cfg, "HS256")
	case cfg.KeyFile != "":
		if a, err = loadPublicKey(cfg); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// newParser is the token parser of one algorithm: exp and sub are required, aud and iss checked
// when configured. A jwt.Parser only reads its options, so the loops share it.
func newParser(cfg authConfig, alg string) *jwt.Parser {
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{alg}), jwt.WithExpirationRequired()}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	return jwt.NewParser(opts...)
}

func loadPublicKey(cfg authConfig) (*authenticator, error) {
	pem, err := os.ReadFile(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if k, err := jwt.ParseRSAPublicKeyFromPEM(pem); err == nil {
		return &authenticator{key: k, parser: newParser(cfg, "RS256")}, nil
	}
	k, err := jwt.ParseECPublicKeyFromPEM(pem)
	if err != nil {
		return nil, fmt.Errorf("auth: %s holds neither an RSA nor an EC public key", cfg.KeyFile)
	}
	return &authenticator{key: k, parser: newParser(cfg, "ES256")}, nil
}

// upgrade is the RouteOptions.Upgrade hook: 401 for a missing, malformed, expired or wrongly signed
// token, or one without the configured audience or issuer; 403 when the token's rooms claim does not
// include the route's room.
func (a *authenticator) upgrade(ctx *engine.Context) (any, error) {
	if a == nil {
		return nil, nil
	}
	raw := bearer(ctx)
	if raw == "" {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="wsd"`)
		return nil, &engine.HTTPError{Status: http.StatusUnauthorized, Message: "missing token"}
	}
	var c claims
	_, err := a.parser.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return a.key, nil })
	if err != nil || c.Subject == "" {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="wsd", error="invalid_token"`)
		return nil, &engine.HTTPError{Status: http.StatusUnauthorized, Message: "invalid token"}
	}
	u := &user{ID: c.Subject, Rooms: c.Rooms}
	if room := ctx.Param("room"); room != "" && !u.mayJoin(room) {
		return nil, &engine.HTTPError{Status: http.StatusForbidden, Message: "token does not allow room " + room}
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
