package http1

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// browserUpgrade is a typical ~400-byte WebSocket upgrade as Chrome sends it.
const browserUpgrade = "GET /chat/room1?token=abc HTTP/1.1\r\n" +
	"Host: example.com:8080\r\n" +
	"Connection: Upgrade\r\n" +
	"Pragma: no-cache\r\n" +
	"Cache-Control: no-cache\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n" +
	"Upgrade: websocket\r\n" +
	"Origin: https://example.com\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
	"\r\n"

// want is the expected outcome of a valid case; fields == nil skips the
// field comparison.
type want struct {
	method, target, path, query string
	minor                       int
	cl                          int64
	chunked, keepAlive          bool
	fields                      []Field
}

type validCase struct {
	name       string
	head, body string // the header block (as fed) and what follows it
	max        int    // Parser.MaxHeaderBytes, 0 for the default
	want       want
}

// get11 is the usual expectation for "GET <target> HTTP/1.1" with Host.
func get11(target, path, query string) want {
	return want{method: "GET", target: target, path: path, query: query, minor: 1, cl: -1, keepAlive: true}
}

// manyFields returns n field lines "X-<i>: v<i>" plus Host.
func manyFields(n int) string {
	var b strings.Builder
	b.WriteString("Host: h\r\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "X-%d: v%d\r\n", i, i)
	}
	return b.String()
}

func validCases() []validCase {
	hostA := []Field{{"Host", "a"}}
	return []validCase{
		{name: "browser upgrade", head: browserUpgrade,
			want: get11("/chat/room1?token=abc", "/chat/room1", "token=abc")},
		{name: "post with body",
			head: "POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\n",
			body: "hello world",
			want: want{method: "POST", target: "/api", path: "/api", minor: 1, cl: 11, keepAlive: true,
				fields: []Field{{"Host", "a"}, {"Content-Length", "11"}, {"Content-Type", "text/plain"}}}},
		{name: "post chunked",
			head: "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
			body: "5\r\nhello\r\n0\r\n\r\n",
			want: want{method: "POST", target: "/up", path: "/up", minor: 1, cl: -1, chunked: true, keepAlive: true}},
		{name: "gzip then chunked over two lines",
			head: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: , CHUNKED\r\n\r\n",
			want: want{method: "POST", target: "/", path: "/", minor: 1, cl: -1, chunked: true, keepAlive: true}},
		{name: "head", head: "HEAD /index.html HTTP/1.1\r\nHost: a\r\n\r\n",
			want: want{method: "HEAD", target: "/index.html", path: "/index.html", minor: 1, cl: -1, keepAlive: true, fields: hostA}},
		{name: "extension method", head: "M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n",
			want: want{method: "M-SEARCH", target: "*", path: "*", minor: 1, cl: -1, keepAlive: true}},
		{name: "connect authority-form", head: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
			want: want{method: "CONNECT", target: "example.com:443", path: "example.com:443", minor: 1, cl: -1, keepAlive: true}},
		{name: "absolute-form", head: "GET http://example.com:80/p/q?x=1&y=2#frag HTTP/1.1\r\nHost: a\r\n\r\n",
			want: get11("http://example.com:80/p/q?x=1&y=2#frag", "/p/q", "x=1&y=2")},
		{name: "absolute-form no path", head: "GET https://example.com HTTP/1.1\r\nHost: a\r\n\r\n",
			want: get11("https://example.com", "/", "")},
		{name: "absolute-form query only", head: "GET ws+x.1://h?q HTTP/1.1\r\nHost: a\r\n\r\n",
			want: get11("ws+x.1://h?q", "/", "q")},
		{name: "query", head: "GET /search?q=a+b&x=%20 HTTP/1.1\r\nHost: a\r\n\r\n",
			want: get11("/search?q=a+b&x=%20", "/search", "q=a+b&x=%20")},
		{name: "empty query", head: "GET /p? HTTP/1.1\r\nHost: a\r\n\r\n", want: get11("/p?", "/p", "")},
		{name: "question mark in query", head: "GET /p?a?b HTTP/1.1\r\nHost: a\r\n\r\n", want: get11("/p?a?b", "/p", "a?b")},
		{name: "fragment", head: "GET /p#f?x HTTP/1.1\r\nHost: a\r\n\r\n", want: get11("/p#f?x", "/p", "")},
		{name: "utf-8 target", head: "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", want: get11("/caf\xc3\xa9", "/caf\xc3\xa9", "")},
		{name: "repeated fields",
			head: "GET / HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\naccept: */*\r\nContent-Length: 0\r\ncontent-length: 0\r\n\r\n",
			want: want{method: "GET", target: "/", path: "/", minor: 1, cl: 0, keepAlive: true,
				fields: []Field{{"Host", "a"}, {"Accept", "text/html"}, {"accept", "*/*"}, {"Content-Length", "0"}, {"content-length", "0"}}}},
		{name: "lf only", head: "GET / HTTP/1.1\nHost: a\n\n", want: get11("/", "/", "")},
		{name: "mixed endings", head: "GET / HTTP/1.1\nHost: a\r\nX: y\n\r\n",
			want: want{method: "GET", target: "/", path: "/", minor: 1, cl: -1, keepAlive: true, fields: []Field{{"Host", "a"}, {"X", "y"}}}},
		{name: "leading empty lines", head: "\r\n\n\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", want: get11("/", "/", "")},
		{name: "ows trimmed",
			head: "GET / HTTP/1.1\r\nHost:a\r\nX: \t a \t b \t\r\nEmpty:\r\nSpaces:   \r\nUTF8: caf\xc3\xa9\r\n\r\n",
			want: want{method: "GET", target: "/", path: "/", minor: 1, cl: -1, keepAlive: true,
				fields: []Field{{"Host", "a"}, {"X", "a \t b"}, {"Empty", ""}, {"Spaces", ""}, {"UTF8", "caf\xc3\xa9"}}}},
		{name: "http/1.0", head: "GET / HTTP/1.0\r\n\r\n",
			want: want{method: "GET", target: "/", path: "/", minor: 0, cl: -1, fields: []Field{}}},
		{name: "http/1.0 keep-alive", head: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			want: want{method: "GET", target: "/", path: "/", minor: 0, cl: -1, keepAlive: true}},
		{name: "http/1.0 keep-alive and close", head: "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
			want: want{method: "GET", target: "/", path: "/", minor: 0, cl: -1}},
		{name: "http/1.1 close", head: "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n",
			want: want{method: "GET", target: "/", path: "/", minor: 1, cl: -1}},
		{name: "http/1.2 is 1.x", head: "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
			want: want{method: "GET", target: "/", path: "/", minor: 2, cl: -1, keepAlive: true}},
		{name: "empty host", head: "OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n",
			want: want{method: "OPTIONS", target: "*", path: "*", minor: 1, cl: -1, keepAlive: true, fields: []Field{{"Host", ""}}}},
		{name: "max content-length", head: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n",
			want: want{method: "PUT", target: "/", path: "/", minor: 1, cl: 1<<63 - 1, keepAlive: true}},
		{name: "leading zeros content-length", head: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\nContent-Length: 7\r\n\r\n",
			body: "1234567",
			want: want{method: "PUT", target: "/", path: "/", minor: 1, cl: 7, keepAlive: true}},
		{name: "20 fields overflow the inline array", head: "GET / HTTP/1.1\r\n" + manyFields(20) + "\r\n", want: get11("/", "/", "")},
		{name: "100 fields", head: "GET / HTTP/1.1\r\n" + manyFields(100) + "\r\n", want: get11("/", "/", "")},
		{name: "pipelined", head: "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n", body: "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
			want: get11("/1", "/1", "")},
		{name: "block exactly at the cap", max: 32, head: "GET /12345 HTTP/1.1\r\nHost: a\r\n\r\n",
			want: get11("/12345", "/12345", "")},
		{name: "leading empty lines are not capped", max: 32, head: "\r\n\r\nGET /12345 HTTP/1.1\r\nHost: a\r\n\r\n",
			want: get11("/12345", "/12345", "")},
	}
}

type invalidCase struct {
	name string
	in   string
	max  int
	err  *Error
}

func invalidCases() []invalidCase {
	long := strings.Repeat("a", DefaultMaxHeaderBytes)
	return []invalidCase{
		{"bad method byte", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 0, ErrBadRequestLine},
		{"leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, ErrBadRequestLine},
		{"tls client hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0, ErrBadRequestLine},
		{"method only", "GET\r\n\r\n", 0, ErrBadRequestLine},
		{"no target", "GET  HTTP/1.1\r\nHost: a\r\n\r\n", 0, ErrBadRequestLine},
		{"double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 0, ErrBadRequestLine},
		{"no version", "GET /\r\nHost: a\r\n\r\n", 0, ErrBadRequestLine},
		{"trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 0, ErrBadRequestLine},
		{"tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 0, ErrBadRequestLine},
		{"control in target", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 0, ErrBadRequestLine},
		{"del in target", "GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n", 0, ErrBadRequestLine},
		{"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 0, ErrBadRequestLine},
		{"two-digit minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 0, ErrBadRequestLine},
		{"garbage version", "GET / FOO/1.1\r\nHost: a\r\n\r\n", 0, ErrBadRequestLine},
		{"version without minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", 0, ErrBadRequestLine},
		{"http/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 0, ErrVersion},
		{"http/0.9", "GET / HTTP/0.9\r\n\r\n", 0, ErrVersion},
		{"http/3.0", "GET / HTTP/3.0\r\n\r\n", 0, ErrVersion},
		{"bare cr in target", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 0, ErrBareCR},
		{"cr cr lf", "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 0, ErrBareCR},
		{"bare cr before request line", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, ErrBareCR},
		{"five leading empty lines", "\r\n\r\n\n\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, ErrBadRequestLine},
		{"bare cr in field", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 0, ErrBareCR},
		{"bare cr as empty line", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n\r\n", 0, ErrBareCR},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 0, ErrSpaceBeforeColon},
		{"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 0, ErrSpaceBeforeColon},
		{"space in name", "GET / HTTP/1.1\r\nHost: a\r\nX Y: a\r\n\r\n", 0, ErrBadHeader},
		{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nHosta\r\n\r\n", 0, ErrBadHeader},
		{"name then spaces", "GET / HTTP/1.1\r\nHost: a\r\nX  \r\n\r\n", 0, ErrBadHeader},
		{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: a\r\n\r\n", 0, ErrBadHeader},
		{"bad name byte", "GET / HTTP/1.1\r\nHost: a\r\nX(: a\r\n\r\n", 0, ErrBadHeader},
		{"utf-8 name", "GET / HTTP/1.1\r\nHost: a\r\nCaf\xc3\xa9: a\r\n\r\n", 0, ErrBadHeader},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 0, ErrFolding},
		{"obs-fold tab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 0, ErrFolding},
		{"space before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 0, ErrFolding},
		{"nul in value", "GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n", 0, ErrBadHeader},
		{"del in value", "GET / HTTP/1.1\r\nHost: a\x7fb\r\n\r\n", 0, ErrBadHeader},
		{"control in value", "GET / HTTP/1.1\r\nHost: a\x1bb\r\n\r\n", 0, ErrBadHeader},
		{"content-length letters", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12a\r\n\r\n", 0, ErrBadContentLength},
		{"content-length negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 0, ErrBadContentLength},
		{"content-length plus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 0, ErrBadContentLength},
		{"content-length empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 0, ErrBadContentLength},
		{"content-length inner space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 0, ErrBadContentLength},
		{"content-length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 0, ErrBadContentLength},
		{"content-length overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", 0, ErrBadContentLength},
		{"content-length huge", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0, ErrBadContentLength},
		{"content-length differs", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, ErrBadContentLength},
		{"te and cl", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 0, ErrAmbiguousLength},
		{"cl and te", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0, ErrAmbiguousLength},
		{"te not chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 0, ErrBadTransferEncoding},
		{"te chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 0, ErrBadTransferEncoding},
		{"te chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 0, ErrBadTransferEncoding},
		{"te empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\n\r\n", 0, ErrBadTransferEncoding},
		{"te chunked with params", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", 0, ErrBadTransferEncoding},
		{"te in http/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0, ErrBadTransferEncoding},
		{"missing host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 0, ErrHost},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 0, ErrHost},
		{"two hosts http/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 0, ErrHost},
		{"101 fields", "GET / HTTP/1.1\r\n" + manyFields(101) + "\r\n", 0, ErrTooManyHeaders},
		{"uri too long", "GET /" + long + " HTTP/1.1\r\nHost: a\r\n\r\n", 0, ErrURITooLong},
		{"method too long", long + " / HTTP/1.1\r\n\r\n", 0, ErrURITooLong},
		{"field too long", "GET / HTTP/1.1\r\nHost: a\r\nX: " + long + "\r\n\r\n", 0, ErrHeaderTooLarge},
		{"one byte over the cap", "GET /123456 HTTP/1.1\r\nHost: a\r\n\r\n", 32, ErrHeaderTooLarge},
		{"lf of request line just past the cap", "GET /12345678901234567 HTTP/1.1\r\n\r\n", 32, ErrURITooLong},
		{"request line fills the cap", "GET /1234567890123456 HTTP/1.1\r\n\r\n", 32, ErrHeaderTooLarge},
		{"cap hit before a bad field", "GET / HTTP/1.1\r\nX\x00: " + long + "\r\n\r\n", 0, ErrHeaderTooLarge},
	}
}

// feed plays the engine: it accumulates data in a fresh buffer up to each cut
// (then to the end) and hands everything accumulated so far to Parse,
// stopping at the first result that is not "incomplete".
func feed(p *Parser, r *Request, data []byte, cuts []int) (int, error) {
	var acc []byte
	prev := 0
	for _, c := range append(cuts, len(data)) {
		if c < prev {
			continue
		}
		acc = append(acc, data[prev:c]...)
		prev = c
		n, err := p.Parse(acc, r)
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, nil
}

// splits returns the ways every case is fed: whole, one byte at a time, and
// a few random splits.
func splits(rng *rand.Rand, size int) map[string][]int {
	m := map[string][]int{"whole": nil}
	bytewise := make([]int, size)
	for i := range bytewise {
		bytewise[i] = i + 1
	}
	m["bytewise"] = bytewise
	for k := 0; k < 8 && size > 1; k++ {
		var cuts []int
		for c := rng.IntN(size); c < size; c += 1 + rng.IntN(1+size/3) {
			cuts = append(cuts, c)
		}
		m[fmt.Sprintf("random%d", k)] = cuts
	}
	return m
}

func TestParseValid(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range validCases() {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.head + tc.body)
			var first *Request
			for mode, cuts := range splits(rng, len(data)) {
				p := Parser{MaxHeaderBytes: tc.max}
				r := new(Request)
				n, err := feed(&p, r, data, cuts)
				if err != nil || n != len(tc.head) {
					t.Fatalf("%s: Parse = %d, %v; want %d, nil", mode, n, err, len(tc.head))
				}
				checkWant(t, mode, r, tc.want)
				if r.HeaderBytes != n {
					t.Errorf("%s: HeaderBytes = %d, want %d", mode, r.HeaderBytes, n)
				}
				if first == nil {
					first = r
				} else if !reflect.DeepEqual(first, r) {
					t.Errorf("%s: request differs from another split:\n%+v\n%+v", mode, r, first)
				}
			}
		})
	}
}

func checkWant(t *testing.T, mode string, r *Request, w want) {
	t.Helper()
	got := want{r.Method, r.Target, r.Path, r.RawQuery, r.Minor, r.ContentLength, r.Chunked, r.KeepAlive, w.fields}
	if !reflect.DeepEqual(got, w) || r.Major != 1 {
		t.Errorf("%s: got  %+v (major %d)\nwant %+v", mode, got, r.Major, w)
	}
	if w.fields != nil && !reflect.DeepEqual(r.Fields, w.fields) {
		t.Errorf("%s: fields %q, want %q", mode, r.Fields, w.fields)
	}
}

func TestParseInvalid(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range invalidCases() {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.in)
			for mode, cuts := range splits(rng, len(data)) {
				p := Parser{MaxHeaderBytes: tc.max}
				var r Request
				n, err := feed(&p, &r, data, cuts)
				if n != 0 || err != tc.err {
					t.Fatalf("%s: Parse = %d, %v; want 0, %v", mode, n, err, tc.err)
				}
				var e *Error
				if !errors.As(err, &e) || e.Status != tc.err.Status {
					t.Fatalf("%s: %v is not an *Error with status %d", mode, err, tc.err.Status)
				}
				if n, err2 := p.Parse(data, &r); n != 0 || err2 != err {
					t.Fatalf("%s: error not sticky: %d, %v", mode, n, err2)
				}
			}
		})
	}
}
