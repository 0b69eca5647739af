package http1

import (
	"reflect"
	"strings"
	"testing"
)

// mustParse parses a complete request in one call.
func mustParse(t testing.TB, s string) *Request {
	t.Helper()
	var p Parser
	r := new(Request)
	n, err := p.Parse([]byte(s), r)
	if err != nil || n == 0 {
		t.Fatalf("Parse(%q) = %d, %v", s, n, err)
	}
	return r
}

// requestStrings lists every string a Request holds.
func requestStrings(r *Request) []string {
	s := []string{r.Method, r.Target, r.Path, r.RawQuery}
	for _, f := range r.Fields {
		s = append(s, f.Name, f.Value)
	}
	return s
}

func TestNoAlias(t *testing.T) {
	for _, tc := range validCases() {
		buf := []byte(tc.head + tc.body)
		var p Parser
		p.MaxHeaderBytes = tc.max
		var r Request
		if n, err := p.Parse(buf, &r); n == 0 || err != nil {
			t.Fatalf("%s: Parse = %d, %v", tc.name, n, err)
		}
		before := requestStrings(&r)
		saved := make([]string, len(before))
		for i, s := range before {
			saved[i] = strings.Clone(s)
		}
		for i := range buf {
			buf[i] = 'X'
		}
		if after := requestStrings(&r); !reflect.DeepEqual(after, saved) {
			t.Errorf("%s: request changed with the input buffer:\n%q\n%q", tc.name, after, saved)
		}
		r.Reset()
		for i, s := range before {
			if s != saved[i] {
				t.Errorf("%s: string %q changed to %q after Reset", tc.name, saved[i], s)
			}
		}
	}
}

func TestHasToken(t *testing.T) {
	r := mustParse(t, "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"+
		"upgrade: WebSocket\r\nX-List: a,,\t b ,c\r\nX-List: upgrade2, d;q=1\r\n\r\n")
	cases := []struct {
		name, token string
		want        bool
	}{
		{"Connection", "Upgrade", true},
		{"connection", "upgrade", true},
		{"CONNECTION", "KEEP-ALIVE", true},
		{"Connection", "keep", false},
		{"Connection", "close", false},
		{"Connection", "keep-alive, Upgrade", false},
		{"Upgrade", "websocket", true},
		{"Upgrade", "upgrade2", false},
		{"X-List", "b", true},
		{"X-List", "c", true},
		{"X-List", "d", false},
		{"X-List", "upgrade", false},
		{"X-List", "upgrade2", true},
		{"X-List", "", true}, // an empty element is an element
		{"Missing", "a", false},
	}
	for _, c := range cases {
		if got := r.HasToken(c.name, c.token); got != c.want {
			t.Errorf("HasToken(%q, %q) = %v, want %v", c.name, c.token, got, c.want)
		}
	}
}

func TestHeaderAndValues(t *testing.T) {
	r := mustParse(t, "GET / HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\naccept: */*\r\nEmpty:\r\n\r\n")
	if got := r.Header("ACCEPT"); got != "text/html" {
		t.Errorf("Header(ACCEPT) = %q", got)
	}
	if got := r.Header("Missing"); got != "" {
		t.Errorf("Header(Missing) = %q", got)
	}
	if got := r.Values("Accept"); !reflect.DeepEqual(got, []string{"text/html", "*/*"}) {
		t.Errorf("Values(Accept) = %q", got)
	}
	if got := r.Values("Empty"); !reflect.DeepEqual(got, []string{""}) {
		t.Errorf("Values(Empty) = %q", got)
	}
	if got := r.Values("Missing"); got != nil {
		t.Errorf("Values(Missing) = %q", got)
	}
}

func TestRequestReset(t *testing.T) {
	r := mustParse(t, browserUpgrade)
	r.Reset()
	if !reflect.DeepEqual(*r, Request{ContentLength: -1}) {
		t.Errorf("Reset left %+v", r)
	}
}

// TestPipelined parses back-to-back requests the way the engine does:
// consume n, Reset, parse the rest.
func TestPipelined(t *testing.T) {
	reqs := []string{
		"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
		"\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /c HTTP/1.0\n\n",
	}
	buf := []byte(strings.Join(reqs, ""))
	var p Parser
	var r Request
	for i, want := range []string{"/a", "/b", "/c"} {
		n, err := p.Parse(buf, &r)
		if err != nil || n == 0 || r.Path != want {
			t.Fatalf("request %d: %d, %v, path %q", i, n, err, r.Path)
		}
		n += max(int(r.ContentLength), 0)
		buf = buf[n:]
		p.Reset()
	}
	if len(buf) != 0 {
		t.Fatalf("left %q", buf)
	}
}

// TestResumable checks that an incomplete Parse leaves its scan position at
// the end of what it was given, so each byte is scanned a bounded number of
// times however the request is split.
func TestResumable(t *testing.T) {
	data := bigRequest()
	var p Parser
	var r Request
	for i := 1; i <= len(data); i++ {
		n, err := p.Parse(data[:i], &r)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			if n != len(data) || i != len(data) {
				t.Fatalf("n = %d at %d bytes, want %d", n, i, len(data))
			}
			return
		}
		if p.pos != i {
			t.Fatalf("after %d bytes the scan stopped at %d", i, p.pos)
		}
		if !p.methodDone && p.mpos != i {
			t.Fatalf("after %d bytes the method check stopped at %d", i, p.mpos)
		}
	}
	t.Fatal("request never completed")
}

func TestParseStates(t *testing.T) {
	data := []byte(browserUpgrade)
	var p Parser
	var r Request
	n, err := p.Parse(data, &r)
	if n != len(data) || err != nil {
		t.Fatalf("Parse = %d, %v", n, err)
	}
	// Parsing again without Reset returns the same result.
	var r2 Request
	if n2, err := p.Parse(data, &r2); n2 != n || err != nil || !reflect.DeepEqual(&r, &r2) {
		t.Fatalf("second Parse = %d, %v", n2, err)
	}
	// A shorter buffer than last time starts over instead of panicking.
	if n, err := p.Parse(data[:10], &r); n != 0 || err != nil {
		t.Fatalf("shorter buffer: %d, %v", n, err)
	}
	if n, err := p.Parse(data, &r); n != len(data) || err != nil {
		t.Fatalf("after restart: %d, %v", n, err)
	}
	// Reset keeps MaxHeaderBytes.
	p.MaxHeaderBytes = 16
	p.Reset()
	if _, err := p.Parse(data, &r); err != ErrURITooLong {
		t.Fatalf("MaxHeaderBytes lost by Reset: %v", err)
	}
	// An error is sticky until Reset.
	if _, err := p.Parse(data, &r); err != ErrURITooLong {
		t.Fatalf("error not sticky: %v", err)
	}
	p.MaxHeaderBytes = 0
	p.Reset()
	if n, err := p.Parse(data, &r); n != len(data) || err != nil {
		t.Fatalf("after Reset: %d, %v", n, err)
	}
}

func TestErrorString(t *testing.T) {
	if got := ErrHeaderTooLarge.Error(); got != "http1: 431 header block too large" {
		t.Errorf("Error() = %q", got)
	}
}

func TestTcharTable(t *testing.T) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		want := '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
		if isTchar(b) != want {
			t.Errorf("isTchar(%#x) = %v", c, !want)
		}
	}
}

func TestSplitTarget(t *testing.T) {
	cases := []struct{ target, path, query string }{
		{"/", "/", ""},
		{"/a/b?c=d", "/a/b", "c=d"},
		{"*", "*", ""},
		{"http://h", "/", ""},
		{"http://h/", "/", ""},
		{"http://h#f", "/", ""},
		{"HTTP://h:1/x?y#z", "/x", "y"},
		{"h:443", "h:443", ""},
		{"1http://h/p", "1http://h/p", ""},
		{"://h/p", "://h/p", ""},
	}
	for _, c := range cases {
		if p, q := splitTarget(c.target); p != c.path || q != c.query {
			t.Errorf("splitTarget(%q) = %q, %q; want %q, %q", c.target, p, q, c.path, c.query)
		}
	}
}

func TestAllocs(t *testing.T) {
	cases := []struct {
		name string
		req  string
		max  float64
	}{
		{"upgrade", browserUpgrade, 1},
		{"20 fields", "GET / HTTP/1.1\r\n" + manyFields(20) + "\r\n", 2},
	}
	for _, c := range cases {
		data := []byte(c.req)
		var p Parser
		var r Request
		got := testing.AllocsPerRun(100, func() {
			p.Reset()
			if n, err := p.Parse(data, &r); n == 0 || err != nil {
				t.Fatal(n, err)
			}
		})
		if got > c.max {
			t.Errorf("%s: %v allocations per request, want <= %v", c.name, got, c.max)
		}
	}
}
