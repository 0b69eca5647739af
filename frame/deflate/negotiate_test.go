package deflate

import "testing"

const (
	respBoth   = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	respServer = "permessage-deflate; server_no_context_takeover"
	respClient = "permessage-deflate; client_no_context_takeover"
	respNone   = "permessage-deflate"
)

var (
	noTakeover   = Policy{}
	fullTakeover = Policy{ServerContextTakeover: true, ClientContextTakeover: true}
	serverOnly   = Policy{ServerContextTakeover: true}
	clientOnly   = Policy{ClientContextTakeover: true}
)

// params builds the expected Params with a 32 KiB server window.
func params(serverNoCtx, clientNoCtx bool) Params {
	return Params{
		ServerNoContextTakeover: serverNoCtx,
		ClientNoContextTakeover: clientNoCtx,
		ServerMaxWindowBits:     15,
		ClientMaxWindowBits:     15,
	}
}

// small builds the expected Params for an accepted server_max_window_bits
// below 15: server_no_context_takeover is always answered.
func small(bits int, clientNoCtx bool) Params {
	p := params(true, clientNoCtx)
	p.ServerMaxWindowBits = bits
	return p
}

type negotiateCase struct {
	name   string
	offers []string
	policy Policy
	want   Params
	resp   string // "" means declined
}

// acceptedCases: every parameter combination of RFC 7692 §7.1 under every
// policy, with the exact response.
var acceptedCases = []negotiateCase{
	{"bare/default", []string{"permessage-deflate"}, noTakeover, params(true, true), respBoth},
	{"bare/full takeover", []string{"permessage-deflate"}, fullTakeover, params(false, false), respNone},
	{"bare/server takeover", []string{"permessage-deflate"}, serverOnly, params(false, true), respClient},
	{"bare/client takeover", []string{"permessage-deflate"}, clientOnly, params(true, false), respServer},
	{"chrome offer", []string{"permessage-deflate; client_max_window_bits"}, noTakeover, params(true, true), respBoth},
	{"chrome offer/full", []string{"permessage-deflate; client_max_window_bits"}, fullTakeover, params(false, false), respNone},
	{"server_no_context_takeover honoured", []string{"permessage-deflate; server_no_context_takeover"}, fullTakeover, params(true, false), respServer},
	{"client_no_context_takeover echoed", []string{"permessage-deflate; client_no_context_takeover"}, fullTakeover, params(false, true), respClient},
	{"both requested/full", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, fullTakeover, params(true, true), respBoth},
	{"both requested/default", []string{"permessage-deflate; client_no_context_takeover; server_no_context_takeover"}, noTakeover, params(true, true), respBoth},
	{"server_max_window_bits=15", []string{"permessage-deflate; server_max_window_bits=15"}, noTakeover, params(true, true), respBoth + "; server_max_window_bits=15"},
	{"server_max_window_bits=15/full", []string{"permessage-deflate; server_max_window_bits=15"}, fullTakeover, params(false, false), respNone + "; server_max_window_bits=15"},
	{"quoted server_max_window_bits", []string{`permessage-deflate; server_max_window_bits="15"`}, fullTakeover, params(false, false), respNone + "; server_max_window_bits=15"},
	{"client_max_window_bits=8", []string{"permessage-deflate; client_max_window_bits=8"}, noTakeover, params(true, true), respBoth},
	{"client_max_window_bits=9", []string{"permessage-deflate; client_max_window_bits=9"}, fullTakeover, params(false, false), respNone},
	{"client_max_window_bits=10", []string{"permessage-deflate; client_max_window_bits=10"}, noTakeover, params(true, true), respBoth},
	{"client_max_window_bits=15", []string{"permessage-deflate; client_max_window_bits=15"}, clientOnly, params(true, false), respServer},
	{"quoted client_max_window_bits", []string{`permessage-deflate; client_max_window_bits="12"`}, noTakeover, params(true, true), respBoth},
	{"escaped quoted value", []string{`permessage-deflate; client_max_window_bits="1\2"`}, noTakeover, params(true, true), respBoth},
	{"all four parameters", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=11"}, fullTakeover, params(true, true), respBoth + "; server_max_window_bits=15"},
	{"whitespace", []string{"  permessage-deflate ;client_max_window_bits ;\tserver_no_context_takeover  "}, fullTakeover, params(true, false), respServer},
	{"spaces around =", []string{"permessage-deflate; client_max_window_bits = 10"}, noTakeover, params(true, true), respBoth},
	{"other extension first", []string{"x-webkit-deflate-frame, permessage-deflate"}, noTakeover, params(true, true), respBoth},
	{"second header", []string{"foo; bar=1", "permessage-deflate; client_max_window_bits"}, noTakeover, params(true, true), respBoth},
	{"trailing comma", []string{"permessage-deflate,"}, noTakeover, params(true, true), respBoth},
	{"empty list elements", []string{", ,permessage-deflate"}, noTakeover, params(true, true), respBoth},
	{"quoted comma in other extension", []string{`foo; a="x,permessage-deflate;y", permessage-deflate; server_no_context_takeover`}, fullTakeover, params(true, false), respServer},
	// Smaller server windows are accepted and echoed, always with
	// server_no_context_takeover (Huffman-only messages refer to nothing).
	{"server_max_window_bits=8", []string{"permessage-deflate; server_max_window_bits=8"}, noTakeover, small(8, true), respBoth + "; server_max_window_bits=8"},
	{"server_max_window_bits=9/full", []string{"permessage-deflate; server_max_window_bits=9"}, fullTakeover, small(9, false), respServer + "; server_max_window_bits=9"},
	{"server_max_window_bits=10/server takeover", []string{"permessage-deflate; server_max_window_bits=10"}, serverOnly, small(10, true), respBoth + "; server_max_window_bits=10"},
	{"server_max_window_bits=14/client takeover", []string{"permessage-deflate; server_max_window_bits=14"}, clientOnly, small(14, false), respServer + "; server_max_window_bits=14"},
	{"quoted small server_max_window_bits", []string{`permessage-deflate; server_max_window_bits="9"`}, noTakeover, small(9, true), respBoth + "; server_max_window_bits=9"},
	{"small window with all parameters", []string{"permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=9"}, fullTakeover, small(12, true), respBoth + "; server_max_window_bits=12"},
	{"small window after a bad offer", []string{"permessage-deflate; foo, permessage-deflate; server_max_window_bits=9"}, noTakeover, small(9, true), respBoth + "; server_max_window_bits=9"},
	// The RFC 7692 §5.1 example: the first offer, with a smaller server
	// window, is taken.
	{"rfc fallback offer", []string{"permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits"}, noTakeover, small(10, true), respBoth + "; server_max_window_bits=10"},
	{"first of two acceptable", []string{"permessage-deflate; server_no_context_takeover, permessage-deflate"}, fullTakeover, params(true, false), respServer},
	{"declined then accepted", []string{"permessage-deflate; foo", "permessage-deflate; client_no_context_takeover"}, fullTakeover, params(false, true), respClient},
}

// declinedCases: offers that must be declined (RFC 7692 §7.1), each alone.
var declinedCases = []string{
	"",
	" , ",
	"x-webkit-deflate-frame",
	"permessage-deflate-x",
	"Permessage-Deflate",
	"permessage-deflate; foo",
	"permessage-deflate; foo=1",
	"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
	"permessage-deflate; client_no_context_takeover; client_no_context_takeover",
	"permessage-deflate; client_max_window_bits; client_max_window_bits",
	"permessage-deflate; client_max_window_bits=10; client_max_window_bits",
	"permessage-deflate; server_max_window_bits=15; server_max_window_bits=15",
	"permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
	"permessage-deflate; server_no_context_takeover=1",
	`permessage-deflate; client_no_context_takeover=""`,
	"permessage-deflate; server_max_window_bits",
	"permessage-deflate; server_max_window_bits=16",
	"permessage-deflate; server_max_window_bits=7",
	"permessage-deflate; server_max_window_bits=09",
	"permessage-deflate; server_max_window_bits=1",
	"permessage-deflate; server_max_window_bits=0",
	"permessage-deflate; server_max_window_bits=015",
	"permessage-deflate; server_max_window_bits=+15",
	"permessage-deflate; server_max_window_bits=-15",
	"permessage-deflate; server_max_window_bits=abc",
	"permessage-deflate; server_max_window_bits=",
	"permessage-deflate; client_max_window_bits=7",
	"permessage-deflate; client_max_window_bits=16",
	"permessage-deflate; client_max_window_bits=08",
	"permessage-deflate; client_max_window_bits=1 0",
	"permessage-deflate; client_max_window_bits=",
	`permessage-deflate; client_max_window_bits=""`,
	`permessage-deflate; client_max_window_bits="10`,
	`permessage-deflate; client_max_window_bits="1"0"`,
	"permessage-deflate; =10",
	"permessage-deflate;",
	"permessage-deflate;; client_max_window_bits",
	"permessage-deflate; client max window bits",
	"permessage-deflate; client_max_window_bits;",
}

func TestNegotiateAccepted(t *testing.T) {
	for _, tc := range acceptedCases {
		t.Run(tc.name, func(t *testing.T) {
			got, resp, ok := Negotiate(tc.offers, tc.policy)
			if !ok || resp != tc.resp || got != tc.want {
				t.Fatalf("Negotiate(%q) = %+v, %q, %v; want %+v, %q, true", tc.offers, got, resp, ok, tc.want, tc.resp)
			}
			if small := got.ServerMaxWindowBits < 15; got.SmallWindow() != small {
				t.Fatalf("SmallWindow() = %v with ServerMaxWindowBits %d", !small, got.ServerMaxWindowBits)
			}
		})
	}
	if (Params{}).SmallWindow() {
		t.Fatal("the zero Params report a small window")
	}
}

func TestNegotiateDeclined(t *testing.T) {
	policies := []Policy{noTakeover, fullTakeover}
	for _, offer := range declinedCases {
		for _, p := range policies {
			got, resp, ok := Negotiate([]string{offer}, p)
			if ok || resp != "" || got != (Params{}) {
				t.Errorf("Negotiate(%q, %+v) = %+v, %q, %v; want declined", offer, p, got, resp, ok)
			}
		}
	}
}

func TestNegotiateNoHeader(t *testing.T) {
	if _, resp, ok := Negotiate(nil, noTakeover); ok || resp != "" {
		t.Fatalf("Negotiate(nil) = %q, %v; want declined", resp, ok)
	}
}

// TestNegotiateDeclinedThenFallback: every declined offer followed by a
// plain one yields the plain one (a bad offer never spoils the next).
func TestNegotiateDeclinedThenFallback(t *testing.T) {
	for _, offer := range declinedCases {
		got, resp, ok := Negotiate([]string{offer, "permessage-deflate"}, noTakeover)
		if !ok || resp != respBoth || got != params(true, true) {
			t.Errorf("Negotiate(%q + fallback) = %+v, %q, %v; want %q", offer, got, resp, ok, respBoth)
		}
	}
}
