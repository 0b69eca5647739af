package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/openspeed/wsd/engine"
)

// JWT authentication of WebSocket upgrades (HS256, RS256, ES256): every bad token is refused with 401
// before the upgrade, a token whose rooms claim excludes the room with 403, while an authenticated
// client on the same server keeps echoing.

// auWait bounds every wait: an upper bound for a hang, never a timing assertion.
const auWait = 10 * time.Second

// auKeys is one algorithm's signing material: the key tokens are signed with, the authenticator that
// checks them, and a second key of the same algorithm the server does not trust.
type auKeys struct {
	name   string
	method jwt.SigningMethod
	sign   any    // private key or HMAC secret
	other  any    // same algorithm, not trusted
	pub    []byte // PEM public key (nil for HS256)
	auth   authConfig
}

// auSecret is an HS256 secret of the minimum length (32 bytes, RFC 7518 §3.2).
const auSecret = "s3cret-for-tests-0123456789abcde"

func auHS256(t *testing.T) auKeys {
	return auKeys{name: "HS256", method: jwt.SigningMethodHS256, sign: []byte(auSecret),
		other: []byte("another-secret-0123456789abcdefg"), auth: authConfig{Secret: auSecret}}
}

func auRS256(t *testing.T) auKeys {
	k, other := auRSAKey(t), auRSAKey(t)
	pub, file := auWritePublic(t, &k.PublicKey)
	return auKeys{name: "RS256", method: jwt.SigningMethodRS256, sign: k, other: other, pub: pub,
		auth: authConfig{KeyFile: file}}
}

func auES256(t *testing.T) auKeys {
	k, other := auECKey(t), auECKey(t)
	pub, file := auWritePublic(t, &k.PublicKey)
	return auKeys{name: "ES256", method: jwt.SigningMethodES256, sign: k, other: other, pub: pub,
		auth: authConfig{KeyFile: file}}
}

func auRSAKey(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func auECKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// auWritePublic writes pub as a PEM "PUBLIC KEY" file in the test's temporary directory.
func auWritePublic(t *testing.T, pub crypto.PublicKey) ([]byte, string) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	file := filepath.Join(t.TempDir(), "jwt.pub.pem")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b, file
}

// auClaims are a token's claims: sub, exp (zero: none) and rooms (nil: none).
func auClaims(sub string, exp time.Time, rooms []string) claims {
	c := claims{Rooms: rooms, RegisteredClaims: jwt.RegisteredClaims{Subject: sub}}
	if !exp.IsZero() {
		c.ExpiresAt = jwt.NewNumericDate(exp)
	}
	return c
}

// auToken signs c with method and key.
func auToken(t *testing.T, method jwt.SigningMethod, key any, c claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// auStart starts the wsd routes guarded by an authenticator for keys.
func auStart(t *testing.T, keys auKeys) string {
	t.Helper()
	_, addr := auStartApp(t, keys)
	return addr
}

// auStartApp is auStart that also returns the App (for its counters).
func auStartApp(t *testing.T, keys auKeys) (*engine.App, string) {
	t.Helper()
	auth, err := newAuthenticator(keys.auth)
	if err != nil || auth == nil {
		t.Fatalf("newAuthenticator(%+v): %v %v", keys.auth, auth, err)
	}
	app := newApp(engine.Config{Loops: 2}, auth)
	if err := app.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), auWait)
		defer cancel()
		if err := app.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return app, app.Addr().String()
}

// auDial upgrades path with an optional bearer token in the Authorization header. It returns the
// connection (nil when refused), the status and the body of a refusal.
func auDial(t *testing.T, addr, path, bearer string) (*websocket.Conn, *http.Response, string) {
	t.Helper()
	var hdr http.Header
	if bearer != "" {
		hdr = http.Header{"Authorization": {"Bearer " + bearer}}
	}
	d := websocket.Dialer{HandshakeTimeout: auWait}
	c, resp, err := d.Dial("ws://"+addr+path, hdr)
	if resp == nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if c != nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, resp, string(body)
}

// auExpectRefused checks a refused upgrade: status, and for 401 a WWW-Authenticate challenge.
func auExpectRefused(t *testing.T, addr, path, bearer string, status int) {
	t.Helper()
	c, resp, body := auDial(t, addr, path, bearer)
	if c != nil || resp.StatusCode != status {
		t.Fatalf("%s: status %d %q, want %d before any upgrade", path, resp.StatusCode, body, status)
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("%s: 401 without a Bearer challenge (WWW-Authenticate %q)", path, resp.Header.Get("WWW-Authenticate"))
	}
}

// auExpectUpgraded checks an accepted upgrade and returns the connection.
func auExpectUpgraded(t *testing.T, addr, path, bearer string) *websocket.Conn {
	t.Helper()
	c, resp, body := auDial(t, addr, path, bearer)
	if c == nil {
		t.Fatalf("%s: status %d %q, want 101", path, resp.StatusCode, body)
	}
	return c
}

// auRoundTrip echoes msg on an /echo connection.
func auRoundTrip(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(auWait))
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("well-behaved client: write: %v", err)
	}
	if typ, p, err := c.ReadMessage(); err != nil || typ != websocket.TextMessage || string(p) != msg {
		t.Fatalf("well-behaved client: echo of %q: %d %q %v", msg, typ, p, err)
	}
}

// auBadTokens are tokens the server must refuse with 401, by name.
func auBadTokens(t *testing.T, k auKeys) map[string]string {
	hour := time.Now().Add(time.Hour)
	valid := auClaims("mallory", hour, nil)
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, valid).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"expired":      auToken(t, k.method, k.sign, auClaims("mallory", time.Now().Add(-time.Minute), nil)),
		"other key":    auToken(t, k.method, k.other, valid),
		"alg none":     none,
		"no exp":       auToken(t, k.method, k.sign, auClaims("mallory", time.Time{}, nil)),
		"no sub":       auToken(t, k.method, k.sign, auClaims("", hour, nil)),
		"garbage":      "not.a.jwt",
		"tampered sub": auTamper(t, auToken(t, k.method, k.sign, valid)),
	}
	if k.pub != nil {
		// Algorithm confusion: an HS256 token whose HMAC secret is the server's public key.
		bad["HS256 with the public key"] = auToken(t, jwt.SigningMethodHS256, k.pub, valid)
	} else {
		bad["RS256 against a secret"] = auToken(t, jwt.SigningMethodRS256, auRSAKey(t), valid)
	}
	return bad
}

// auTamper replaces the payload of a signed token with one naming another subject.
func auTamper(t *testing.T, token string) string {
	parts := strings.Split(token, ".")
	payload, err := json.Marshal(auClaims("admin", time.Now().Add(time.Hour), nil))
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func TestAuthJWT(t *testing.T) {
	for _, mk := range []func(*testing.T) auKeys{auHS256, auRS256, auES256} {
		k := mk(t)
		t.Run(k.name, func(t *testing.T) { auCheck(t, k) })
	}
}

func auCheck(t *testing.T, k auKeys) {
	addr := auStart(t, k)
	token := auToken(t, k.method, k.sign, auClaims("alice", time.Now().Add(time.Hour), nil))
	good := auExpectUpgraded(t, addr, "/echo", token) // Authorization: Bearer
	auRoundTrip(t, good, "before")

	auExpectRefused(t, addr, "/echo", "", http.StatusUnauthorized) // no token at all
	auRoundTrip(t, good, "after the missing token")
	for name, bad := range auBadTokens(t, k) {
		auExpectRefused(t, addr, "/echo?token="+bad, "", http.StatusUnauthorized)
		auExpectRefused(t, addr, "/echo", bad, http.StatusUnauthorized)
		auRoundTrip(t, good, "after "+name)
	}
	q := auExpectUpgraded(t, addr, "/echo?token="+token, "") // ?token=
	auRoundTrip(t, q, "query token")

	// The chat route speaks under the token's subject, whatever ?user= says.
	bob := auExpectUpgraded(t, addr, "/chat/lobby", auToken(t, k.method, k.sign, auClaims("bob", time.Now().Add(time.Hour), nil)))
	alice := auExpectUpgraded(t, addr, "/chat/lobby?user=mallory&token="+token, "")
	auExpectText(t, bob, "alice joined the room")
	if err := alice.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	rtExpectChat(t, bob, "alice", "hi")

	// A rooms claim restricts joins.
	onlyA := auToken(t, k.method, k.sign, auClaims("carol", time.Now().Add(time.Hour), []string{"a"}))
	auExpectRefused(t, addr, "/rooms/b", onlyA, http.StatusForbidden)
	auExpectRefused(t, addr, "/chat/b?token="+onlyA, "", http.StatusForbidden)
	auExpectUpgraded(t, addr, "/rooms/a", onlyA)
	// On /chat (no room yet) the claim applies to join-room.
	carol := auExpectUpgraded(t, addr, "/chat?token="+onlyA, "")
	for room, want := range map[string]string{"b": `{"error":"Not allowed in this room","room":"b"}`, "a": "Switched to room: a"} {
		if err := carol.WriteMessage(websocket.TextMessage, []byte(`{"type":"join-room","room":"`+room+`"}`)); err != nil {
			t.Fatal(err)
		}
		auExpectText(t, carol, want)
	}
	auRoundTrip(t, good, "after the rooms checks")
	closeGood(t, good)
}

func auExpectText(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(auWait))
	if typ, p, err := c.ReadMessage(); err != nil || typ != websocket.TextMessage || string(p) != want {
		t.Fatalf("got %d %q %v, want text %q", typ, p, err, want)
	}
}

// closeGood closes the well-behaved client with a clean handshake.
func closeGood(t *testing.T, c *websocket.Conn) {
	t.Helper()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(auWait)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(auWait))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("well-behaved client: close: %v, want the server's 1000", err)
	}
}

// Configuration errors: both a secret and a key file, a missing file, a file without a public key.
func TestAuthConfigErrors(t *testing.T) {
	junk := filepath.Join(t.TempDir(), "junk.pem")
	if err := os.WriteFile(junk, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []authConfig{
		{Secret: "s", KeyFile: junk},
		{KeyFile: filepath.Join(t.TempDir(), "missing.pem")},
		{KeyFile: junk},
	} {
		if a, err := newAuthenticator(cfg); err == nil {
			t.Errorf("newAuthenticator(%+v) = %v, want an error", cfg, a)
		}
	}
	if a, err := newAuthenticator(authConfig{}); a != nil || err != nil {
		t.Errorf("newAuthenticator(off) = %v, %v; want nil, nil", a, err)
	}
}

// TestAuthAudienceIssuer: with auth.audience and auth.issuer set, a token must carry that aud (a
// string, or an array containing it) and that iss: a missing or different one is refused with 401
// before the upgrade and counted as unauthorized, while a well-behaved client keeps echoing.
func TestAuthAudienceIssuer(t *testing.T) {
	for _, mk := range []func(*testing.T) auKeys{auHS256, auES256} {
		k := mk(t)
		t.Run(k.name, func(t *testing.T) { auCheckAudIss(t, k) })
	}
}

func auCheckAudIss(t *testing.T, k auKeys) {
	const aud, iss = "wsd-test", "https://issuer.example"
	k.auth.Audience, k.auth.Issuer = aud, iss
	app, addr := auStartApp(t, k)
	token := func(aud []string, iss string) string {
		c := auClaims("alice", time.Now().Add(time.Hour), nil)
		c.Audience, c.Issuer = aud, iss
		return auToken(t, k.method, k.sign, c)
	}
	good := auExpectUpgraded(t, addr, "/echo", token([]string{aud}, iss))
	auRoundTrip(t, good, "right aud and iss")
	auExpectUpgraded(t, addr, "/echo", token([]string{"other", aud}, iss)) // aud as an array

	bad := map[string]string{
		"no aud":               token(nil, iss),
		"wrong aud":            token([]string{"other"}, iss),
		"aud array without it": token([]string{"a", "b"}, iss),
		"aud differs in case":  token([]string{"WSD-TEST"}, iss),
		"no iss":               token([]string{aud}, ""),
		"wrong iss":            token([]string{aud}, "https://evil.example"),
		"neither":              token(nil, ""),
	}
	before := app.Stats().Rejected[engine.RejectUnauthorized]
	for name, tok := range bad {
		auExpectRefused(t, addr, "/echo", tok, http.StatusUnauthorized)
		auRoundTrip(t, good, "after "+name)
	}
	if got := app.Stats().Rejected[engine.RejectUnauthorized] - before; got != uint64(len(bad)) {
		t.Fatalf("%d refusals counted as unauthorized, want %d", got, len(bad))
	}
	closeGood(t, good)
}

// TestAuthAudienceOptional: without auth.audience and auth.issuer, tokens with any (or no) aud and
// iss are accepted, as before these keys existed.
func TestAuthAudienceOptional(t *testing.T) {
	k := auHS256(t)
	_, addr := auStartApp(t, k)
	c := auClaims("alice", time.Now().Add(time.Hour), nil)
	c.Audience, c.Issuer = []string{"anything"}, "anyone"
	auRoundTrip(t, auExpectUpgraded(t, addr, "/echo", auToken(t, k.method, k.sign, c)), "any aud")
}

// TestAuthShortSecret: an HS256 secret under 32 bytes (RFC 7518 §3.2) is refused, by the
// configuration check (naming the key and the minimum) and by newAuthenticator; 32 bytes are enough.
func TestAuthShortSecret(t *testing.T) {
	short := auSecret[:minHS256Secret-1]
	for _, tc := range []struct {
		name, file string
		env        []string
		source     string
	}{
		{"file", "auth: {jwt_secret: " + short + "}\n", nil, ""},
		{"env", "", []string{"WSD_AUTH_JWT_SECRET=" + short}, "environment WSD_AUTH_JWT_SECRET: "},
	} {
		file := ""
		if tc.file != "" {
			file = writeFile(t, "short.yaml", tc.file)
			tc.source = file + ": "
		}
		_, err := loadArgs(t, file, tc.env)
		want := tc.source + "auth.jwt_secret: an HS256 secret must be at least 32 bytes (RFC 7518 §3.2), got 31"
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", tc.name, err, want)
		}
	}
	if _, err := loadArgs(t, "", []string{"WSD_AUTH_JWT_SECRET=" + auSecret}); err != nil {
		t.Errorf("a 32-byte secret: %v", err)
	}
	if a, err := newAuthenticator(authConfig{Secret: short}); err == nil || !strings.Contains(err.Error(), "at least 32 bytes") {
		t.Errorf("newAuthenticator(31-byte secret) = %v, %v; want the minimum named", a, err)
	}
}
