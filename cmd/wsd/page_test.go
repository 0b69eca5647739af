package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestChatPageServe checks what GET / and GET /static/* answer: types (an ES module for the scripts),
// validators, security headers, 304 on a matching If-None-Match, HEAD, 404 for anything else, and no
// page when the /ws route it speaks is off (the /chat route plays no part).
func TestChatPageServe(t *testing.T) {
	_, addr := svStart(t, svConfig(), nil)
	base := "http://" + addr
	resp, index := svHTTP(t, "GET", base+"/", "")
	checkAsset(t, resp, "text/html; charset=utf-8")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("GET /: Content-Security-Policy %q", csp)
	}
	if !strings.Contains(index, `<script type="module" src="/static/app.js">`) {
		t.Error("index.html does not load app.js as a module")
	}
	refs := regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`).FindAllStringSubmatch(index, -1)
	if len(refs) != 3 {
		t.Fatalf("index.html references %d static files, want 3 (app.css, wsd-client.js, app.js)", len(refs))
	}
	want := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
	bodies := map[string]string{}
	for _, ref := range refs {
		resp, body := svHTTP(t, "GET", base+ref[1], "")
		checkAsset(t, resp, want[filepath.Ext(ref[1])])
		if body == "" {
			t.Errorf("GET %s: empty body", ref[1])
		}
		bodies[ref[1]] = body
	}
	imports := regexp.MustCompile(`(?m)^import .* from "\./([^"]+)";$`).FindAllStringSubmatch(bodies["/static/app.js"], -1)
	if len(imports) != 1 || imports[0][1] != "wsd-client.js" {
		t.Fatalf("app.js imports %q, want ./wsd-client.js only", imports)
	}
	client, err := os.ReadFile(filepath.Join("..", "..", "clients", "js", "index.js"))
	if err != nil {
		t.Fatal(err)
	}
	if bodies["/static/wsd-client.js"] != string(client) {
		t.Error("GET /static/wsd-client.js is not clients/js/index.js: run go generate ./cmd/wsd")
	}
	resp, body := svHTTP(t, "GET", base+"/", "", "If-None-Match", `"x", `+etagOf(t, base))
	if resp.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("GET / with a matching If-None-Match: %d %q, want 304 and no body", resp.StatusCode, body)
	}
	resp, body = svHTTP(t, "HEAD", base+"/", "")
	if resp.StatusCode != http.StatusOK || body != "" || resp.ContentLength != int64(len(index)) {
		t.Errorf("HEAD /: %d, %d bytes, Content-Length %d; want 200, none, %d", resp.StatusCode, len(body), resp.ContentLength, len(index))
	}
	for _, p := range []string{"/static/index.html", "/static/", "/static/nope.js", "/static/../page.go", "/index.html"} {
		if resp, _ := svHTTP(t, "GET", base+p, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	c := svConfig()
	c.Routes.Chat.Enabled = false
	_, noChat := svStart(t, c, nil)
	if resp, _ := svHTTP(t, "GET", "http://"+noChat+"/", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET / with /chat off: %d, want 200", resp.StatusCode)
	}
	c = svConfig()
	c.Routes.WS.Enabled = false
	_, off := svStart(t, c, nil)
	if resp, _ := svHTTP(t, "GET", "http://"+off+"/", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET / with /ws off: %d, want 404", resp.StatusCode)
	}
}

// TestChatPageClientCopy fails when web/wsd-client.js, the copy of the JavaScript client the page
// loads, differs from clients/js/index.js (go generate ./cmd/wsd copies it), and when the client
// stops being one self-contained file (an import of its own would be missing from the page).
func TestChatPageClientCopy(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("..", "..", "clients", "js", "index.js"))
	if err != nil {
		t.Fatal(err)
	}
	copied, err := web.ReadFile("web/wsd-client.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(orig, copied) {
		t.Fatalf("cmd/wsd/web/wsd-client.js (%d bytes) differs from clients/js/index.js (%d bytes): run go generate ./cmd/wsd",
			len(copied), len(orig))
	}
	if m := regexp.MustCompile(`(?m)^\s*(import\s|export .* from )`).Find(orig); m != nil {
		t.Fatalf("clients/js/index.js imports another module (%q): the page embeds index.js only", m)
	}
}

func etagOf(t *testing.T, base string) string {
	t.Helper()
	resp, _ := svHTTP(t, "GET", base+"/", "")
	return resp.Header.Get("ETag")
}

func checkAsset(t *testing.T, resp *http.Response, ctype string) {
	t.Helper()
	h := resp.Header
	if resp.StatusCode != http.StatusOK || h.Get("Content-Type") != ctype || h.Get("Cache-Control") != "no-cache" ||
		!regexp.MustCompile(`^"[0-9a-f]{16}"$`).MatchString(h.Get("ETag")) || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: %d %v; want 200, %s, no-cache, an ETag, nosniff", resp.Request.URL.Path, resp.StatusCode, h, ctype)
	}
}
