package http1

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzRequest parses each input whole and again split at two cut points
// (the engine's accumulate-and-reparse pattern) and checks that both agree,
// that nothing panics, and that a parsed Request only holds text of the
// header block.
func FuzzRequest(f *testing.F) {
	for _, tc := range validCases() {
		if tc.max == 0 {
			f.Add([]byte(tc.head+tc.body), uint16(len(tc.head)/2), uint16(len(tc.head)-1))
		}
	}
	for _, tc := range invalidCases() {
		if tc.max == 0 && len(tc.in) < 1024 {
			f.Add([]byte(tc.in), uint16(3), uint16(len(tc.in)/2))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, cut1, cut2 uint16) {
		var p1 Parser
		var r1 Request
		n1, err1 := p1.Parse(data, &r1)

		c1, c2 := int(cut1)%(len(data)+1), int(cut2)%(len(data)+1)
		if c1 > c2 {
			c1, c2 = c2, c1
		}
		var p2 Parser
		var r2 Request
		n2, err2 := feed(&p2, &r2, data, []int{c1, c2})

		if n1 != n2 || err1 != err2 {
			t.Fatalf("whole: %d, %v; split at %d,%d: %d, %v", n1, err1, c1, c2, n2, err2)
		}
		if err1 != nil {
			if _, ok := err1.(*Error); !ok || n1 != 0 {
				t.Fatalf("error %T %v with n %d", err1, err1, n1)
			}
			return
		}
		if n1 == 0 {
			return
		}
		if n1 > len(data) {
			t.Fatalf("n %d > len %d", n1, len(data))
		}
		if !reflect.DeepEqual(&r1, &r2) {
			t.Fatalf("requests differ:\n%+v\n%+v", &r1, &r2)
		}
		checkParsed(t, data[:n1], &r1)
	})
}

// checkParsed checks the invariants of a successfully parsed request.
func checkParsed(t *testing.T, block []byte, r *Request) {
	t.Helper()
	head := string(block)
	for _, s := range requestStrings(r) {
		if !strings.Contains(head, s) {
			t.Fatalf("%q is not in the header block %q", s, head)
		}
	}
	if r.HeaderBytes != len(block) || r.Major != 1 || len(r.Fields) > MaxFields {
		t.Fatalf("HeaderBytes %d, Major %d, %d fields", r.HeaderBytes, r.Major, len(r.Fields))
	}
	if r.Chunked && r.ContentLength >= 0 {
		t.Fatalf("chunked with Content-Length %d", r.ContentLength)
	}
	for _, f := range r.Fields {
		if f.Name == "" || strings.ContainsAny(f.Name, " \t:\r\n") || strings.ContainsAny(f.Value, "\r\n\x00") ||
			trimOWS(f.Value) != f.Value {
			t.Fatalf("bad field %q", f)
		}
	}
	if r.Method == "" || r.Target == "" || strings.ContainsAny(r.Target, " \r\n") {
		t.Fatalf("bad request line %q %q", r.Method, r.Target)
	}
}
