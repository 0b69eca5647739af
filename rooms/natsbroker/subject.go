package natsbroker

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// maxToken is the longest escaped room name used as a subject token. Longer names are hashed: NATS
// servers refuse protocol lines past max_control_line (4 KiB by default) by closing the connection, so
// a client-chosen room name must never make a subject that long.
const maxToken = 256

// hashedMark starts the token of a hashed (long) room name. Escape never produces it: '#' is escaped.
const hashedMark = '#'

const upperHex = "0123456789ABCDEF"

// safeByte reports whether c may appear unescaped in a subject token: printable ASCII except the
// subject separator '.', the wildcards '*' and '>', the escape character '%' and the hash mark '#'.
func safeByte(c byte) bool {
	return c > ' ' && c < 0x7f && c != '.' && c != '*' && c != '>' && c != '%' && c != hashedMark
}

// Escape turns a room name into a valid, non-empty NATS subject token: every byte that is not printable
// ASCII, and '.', '*', '>', '%' and '#', becomes %XX (upper-case hex); the empty name becomes "%".
// Unescape reverses it. A name made only of safe bytes is returned as is, without allocation.
func Escape(room string) string {
	if room == "" {
		return "%"
	}
	unsafe := 0
	for i := 0; i < len(room); i++ {
		if !safeByte(room[i]) {
			unsafe++
		}
	}
	if unsafe == 0 {
		return room
	}
	var b strings.Builder
	b.Grow(len(room) + 2*unsafe)
	for i := 0; i < len(room); i++ {
		c := room[i]
		if safeByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}

// ErrBadToken is returned by Unescape for a token Escape cannot have produced.
var ErrBadToken = errors.New("natsbroker: malformed room token")

// Unescape returns the room name Escape turned into token. A token without escapes is returned as is,
// without allocation. It accepts exactly the tokens Escape produces, so Escape(Unescape(t)) == t.
func Unescape(token string) (string, error) {
	switch token {
	case "%":
		return "", nil
	case "":
		return "", ErrBadToken
	}
	if !strings.Contains(token, "%") {
		for i := 0; i < len(token); i++ {
			if !safeByte(token[i]) {
				return "", ErrBadToken
			}
		}
		return token, nil
	}
	out := make([]byte, 0, len(token))
	for i := 0; i < len(token); i++ {
		c := token[i]
		if c != '%' {
			if !safeByte(c) {
				return "", ErrBadToken
			}
			out = append(out, c)
			continue
		}
		if i+2 >= len(token) {
			return "", ErrBadToken
		}
		hi, lo := unhex(token[i+1]), unhex(token[i+2])
		if hi < 0 || lo < 0 || safeByte(byte(hi<<4|lo)) {
			return "", ErrBadToken // Escape writes safe bytes as they are
		}
		out = append(out, byte(hi<<4|lo))
		i += 2
	}
	return string(out), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// roomToken is the subject token of room: Escape(room), or, when that is longer than maxToken, '#'
// followed by 32 hex digits of the name's SHA-256 (not reversible: the receiving node knows the name
// from its own subscription).
func roomToken(room string) (token string, hashed bool) {
	if len(room) <= maxToken {
		if t := Escape(room); len(t) <= maxToken {
			return t, false
		}
	}
	sum := sha256.Sum256([]byte(room))
	return string(hashedMark) + hex.EncodeToString(sum[:16]), true
}
