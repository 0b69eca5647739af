package natsbroker

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// validToken reports whether tok is a valid, non-empty literal NATS subject token.
func validToken(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>' {
			return false
		}
	}
	return true
}

func TestEscape(t *testing.T) {
	cases := []struct{ room, token string }{
		{"lobby", "lobby"},
		{"", "%"},
		{"a.b", "a%2Eb"},
		{"*", "%2A"},
		{">", "%3E"},
		{"a b\tc\n", "a%20b%09c%0A"},
		{"100%", "100%25"},
		{"#x", "%23x"},
		{"é", "%C3%A9"},
		{"\x00\x7f\xff", "%00%7F%FF"},
		{"$SYS_ok-~:@", "$SYS_ok-~:@"},
	}
	for _, c := range cases {
		if got := Escape(c.room); got != c.token {
			t.Errorf("Escape(%q) = %q, want %q", c.room, got, c.token)
		}
		if got, err := Unescape(c.token); err != nil || got != c.room {
			t.Errorf("Unescape(%q) = %q, %v; want %q", c.token, got, err, c.room)
		}
	}
}

func TestUnescapeRejects(t *testing.T) {
	for _, tok := range []string{"a.b", "a b", "%", "%2", "%zz", "%2e", "%41", "a%", "*", "é"} {
		if tok == "%" {
			continue // the empty name
		}
		if got, err := Unescape(tok); err == nil {
			t.Errorf("Unescape(%q) = %q, want an error", tok, got)
		}
	}
}

func TestEscapeRandomRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		b := make([]byte, r.IntN(24))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		room := string(b)
		tok := Escape(room)
		if !validToken(tok) {
			t.Fatalf("Escape(%q) = %q: not a valid token", room, tok)
		}
		if got, err := Unescape(tok); err != nil || got != room {
			t.Fatalf("Unescape(Escape(%q)) = %q, %v", room, got, err)
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "a.b", "%", "%25", "#", "日本", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := Escape(s)
		if !validToken(tok) {
			t.Fatalf("Escape(%q) = %q: not a valid token", s, tok)
		}
		if got, err := Unescape(tok); err != nil || got != s {
			t.Fatalf("Unescape(Escape(%q)) = %q, %v", s, got, err)
		}
		if room, err := Unescape(s); err == nil && Escape(room) != s {
			t.Fatalf("Escape(Unescape(%q)) = %q", s, Escape(room))
		}
	})
}

func TestRoomTokenLong(t *testing.T) {
	short := strings.Repeat("a", maxToken)
	if tok, hashed := roomToken(short); hashed || tok != short {
		t.Errorf("a %d-byte name was hashed", maxToken)
	}
	for _, room := range []string{strings.Repeat("a", maxToken+1), strings.Repeat(".", 100)} {
		tok, hashed := roomToken(room)
		if !hashed || len(tok) != 33 || tok[0] != hashedMark || !validToken(tok) {
			t.Errorf("roomToken(%d bytes) = %q, %v; want a hashed token", len(room), tok, hashed)
		}
		if again, _ := roomToken(room); again != tok {
			t.Errorf("roomToken is not deterministic")
		}
	}
	a, _ := roomToken(strings.Repeat("a", 300))
	b, _ := roomToken(strings.Repeat("a", 301))
	if a == b {
		t.Error("two long names share a token")
	}
}
