package main

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/openspeed/wsd/engine"
)

// web holds the chat page: index.html, app.css and app.js, hand-written, and wsd-client.js, the
// JavaScript client of the /ws protocol: an exact copy of clients/js/index.js (go:embed cannot reach
// outside the package), made by go generate; TestChatPageClientCopy fails when the two differ.
//
//go:generate cp ../../clients/js/index.js web/wsd-client.js
//go:embed web
var web embed.FS

// pageCSP lets the page load only its own scripts and styles and talk only to its own origin (CSP
// level 3 'self' covers ws: and wss: to the same host); nothing may frame it.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// pageTypes are the content types of the page's files, fixed here rather than taken from
// mime.TypeByExtension, which reads the system's tables. text/javascript is the type of classic
// scripts and ES modules alike (RFC 9239); browsers refuse a module served with another type.
var pageTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
}

// asset is one embedded file, ready to serve.
type asset struct {
	body  []byte
	ctype string
	etag  string // strong validator: a hash of body
}

// pageRoutes serves the chat page when the /ws route, which it speaks, is on: GET / is index.html
// and GET /static/<name> its other files. Responses carry an ETag and Cache-Control: no-cache, so browsers revalidate (a 304
// when unchanged) and never run a stale app.js against a newer server.
func (s *server) pageRoutes() {
	if !s.cfg.Routes.WS.Enabled {
		return
	}
	assets := loadAssets()
	index := assets["index.html"]
	s.GET("/", func(ctx *engine.Context) error { return serveAsset(ctx, index) })
	s.GET("/static/*", func(ctx *engine.Context) error {
		a, ok := assets[ctx.Param("*")]
		if !ok || a == index {
			return &engine.HTTPError{Status: http.StatusNotFound, Message: "not found"}
		}
		return serveAsset(ctx, a)
	})
}

// loadAssets reads the embedded files once, by base name.
func loadAssets() map[string]*asset {
	entries, err := fs.ReadDir(web, "web")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	assets := make(map[string]*asset, len(entries))
	for _, e := range entries {
		ctype, ok := pageTypes[path.Ext(e.Name())]
		if e.IsDir() || !ok {
			continue
		}
		body, err := web.ReadFile("web/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		assets[e.Name()] = &asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return assets
}

// serveAsset answers a with its validators and security headers, or 304 when the request's
// If-None-Match names its ETag.
func serveAsset(ctx *engine.Context, a *asset) error {
	ctx.SetHeader("Cache-Control", "no-cache")
	ctx.SetHeader("ETag", a.etag)
	ctx.SetHeader("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(a.ctype, "text/html") {
		ctx.SetHeader("Content-Security-Policy", pageCSP)
		ctx.SetHeader("Referrer-Policy", "no-referrer")
	}
	if etagMatch(ctx.Header("If-None-Match"), a.etag) {
		return ctx.Blob(http.StatusNotModified, "", nil)
	}
	return ctx.Blob(http.StatusOK, a.ctype, a.body)
}

// etagMatch reports whether an If-None-Match value (a list of entity tags, or *) names etag; weak
// tags (W/"...") match too, as RFC 9110 13.1.2 asks for If-None-Match.
func etagMatch(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
