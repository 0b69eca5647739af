package http1

import (
	"bytes"
	"strings"
	"unsafe"
)

// DefaultMaxHeaderBytes is the header block cap used when
// Parser.MaxHeaderBytes is zero or negative.
const DefaultMaxHeaderBytes = 8 << 10

// maxLeadingEmptyLines is how many empty lines before the request line are
// ignored (RFC 9112 2.2 asks for at least one; some clients send a stray CRLF
// after a body). One more is ErrBadRequestLine.
const maxLeadingEmptyLines = 4

// Scan phases, in order.
const (
	phaseSkip        uint8 = iota // ignoring empty lines before the request line
	phaseRequestLine              // looking for the end of the request line
	phaseFields                   // looking for the empty line ending the block
	phaseDone                     // block found at buf[start:end]
)

// Parser finds and parses one request header block in bytes that arrive in
// pieces. The zero value is ready to use with [DefaultMaxHeaderBytes]. It
// holds only a few offsets, no buffers. Not safe for concurrent use: one
// Parser per connection, used by the connection's event loop.
type Parser struct {
	// MaxHeaderBytes caps the header block, from the first byte of the
	// request line through the final empty line. Zero or negative means
	// DefaultMaxHeaderBytes. It also bounds the copy a Request keeps.
	// Change it only between requests.
	MaxHeaderBytes int

	phase      uint8
	empties    uint8 // leading empty lines skipped
	methodDone bool  // the method was validated up to its SP
	start      int   // offset of the request line in buf
	mpos       int   // next method byte to validate
	pos        int   // next byte to scan for '\n'
	line       int   // offset of the current field line
	end        int   // offset just past the header block, in phaseDone
	err        error // sticky *Error once the request is rejected
}

// Parse is handed buf = all unconsumed bytes of the current request so far:
// the bytes it saw last time plus any that arrived since. It returns
//
//   - n > 0, err == nil: the header block is complete and occupies buf[:n]
//     (including ignored leading empty lines); r is filled. Body bytes, if
//     any, follow at buf[n:].
//   - n == 0, err == nil: incomplete; call again with more bytes. Scanning
//     resumes where it stopped, so the total work is linear in the bytes.
//   - err != nil: an [*Error] (one of the package's sentinels); answer its
//     Status and close the connection. Parse returns it again until Reset.
//
// When the cap is exceeded before the end of the block the error is
// [ErrURITooLong] if the request line is not complete yet, else
// [ErrHeaderTooLarge]. The outcome depends only on the bytes, never on how
// they were split. r is written only when the block is complete; on error
// its contents are unspecified. r never aliases buf.
//
// Once Parse has returned n > 0 or an error, call Reset before parsing the
// next request on the connection. If buf is shorter than at the previous
// call (a caller bug), the parser starts over. Not safe for concurrent use.
func (p *Parser) Parse(buf []byte, r *Request) (n int, err error) {
	if p.err != nil {
		return 0, p.err
	}
	if len(buf) < p.pos {
		p.Reset()
	}
	if p.phase == phaseSkip && !p.skipEmptyLines(buf) {
		return 0, p.err
	}
	if p.phase == phaseRequestLine && !p.scanRequestLine(buf) {
		return 0, p.err
	}
	if p.phase == phaseFields && !p.scanFields(buf) {
		return 0, p.err
	}
	return p.finish(buf, r)
}

// Reset prepares the Parser for the next request, keeping MaxHeaderBytes.
// Not safe for concurrent use.
func (p *Parser) Reset() {
	*p = Parser{MaxHeaderBytes: p.MaxHeaderBytes}
}

// fail records err and reports false ("stop scanning").
func (p *Parser) fail(err error) bool {
	p.err = err
	return false
}

// limit returns how far the current request may be scanned: len(buf), or
// the cap if buf reaches it (capped is then true).
func (p *Parser) limit(buf []byte) (limit int, capped bool) {
	maxBytes := p.MaxHeaderBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxHeaderBytes
	}
	if len(buf)-p.start >= maxBytes {
		return p.start + maxBytes, true
	}
	return len(buf), false
}

// skipEmptyLines ignores up to maxLeadingEmptyLines CRLF or LF lines and
// reports whether the request line has started. A CR needs the next byte to
// decide, so it may wait for one more byte.
func (p *Parser) skipEmptyLines(buf []byte) bool {
	for p.pos < len(buf) {
		switch buf[p.pos] {
		case '\n':
			p.pos++
		case '\r':
			if p.pos+1 == len(buf) {
				return false
			}
			if buf[p.pos+1] != '\n' {
				return p.fail(ErrBareCR)
			}
			p.pos += 2
		default:
			p.start, p.mpos = p.pos, p.pos
			p.phase = phaseRequestLine
			return true
		}
		if p.empties++; p.empties > maxLeadingEmptyLines {
			return p.fail(ErrBadRequestLine)
		}
	}
	return false
}

// scanRequestLine looks for the end of the request line and validates the
// line once it is complete, so a bad request line is refused before the
// rest of the block arrives. It reports whether the line is complete and
// valid.
func (p *Parser) scanRequestLine(buf []byte) bool {
	limit, capped := p.limit(buf)
	if !p.methodDone && !p.checkMethod(buf[:limit]) {
		return false
	}
	i := bytes.IndexByte(buf[p.pos:limit], '\n')
	if i < 0 {
		p.pos = limit
		if capped {
			return p.fail(ErrURITooLong)
		}
		return false
	}
	lf := p.pos + i
	// A transient view of the caller's bytes; nothing derived from it is kept.
	line, err := trimCR(unsafe.String(&buf[p.start], lf-p.start))
	if err == nil {
		_, err = splitRequestLine(line)
	}
	if err != nil {
		return p.fail(err)
	}
	p.pos, p.line = lf+1, lf+1
	p.phase = phaseFields
	return true
}

// checkMethod validates method bytes as they arrive, so garbage (a TLS
// ClientHello on the plain port, another protocol) is refused at its first
// byte instead of after MaxHeaderBytes. It reports false on error.
func (p *Parser) checkMethod(buf []byte) bool {
	for ; p.mpos < len(buf); p.mpos++ {
		c := buf[p.mpos]
		if c == ' ' && p.mpos > p.start {
			p.methodDone = true
			return true
		}
		if !isTchar(c) {
			return p.fail(ErrBadRequestLine)
		}
	}
	return true
}

// scanFields looks for the empty line that ends the block, one line at a
// time from where the previous call stopped. Field lines are validated only
// once the block is complete, by Request.parse on the owned copy.
func (p *Parser) scanFields(buf []byte) bool {
	limit, capped := p.limit(buf)
	for {
		i := bytes.IndexByte(buf[p.pos:limit], '\n')
		if i < 0 {
			p.pos = limit
			if capped {
				return p.fail(ErrHeaderTooLarge)
			}
			return false
		}
		lf := p.pos + i
		if lf == p.line || lf == p.line+1 && buf[p.line] == '\r' {
			p.end, p.pos = lf+1, lf+1
			p.phase = phaseDone
			return true
		}
		p.pos, p.line = lf+1, lf+1
	}
}

// finish copies the complete block once and parses the copy into r.
func (p *Parser) finish(buf []byte, r *Request) (int, error) {
	block := make([]byte, p.end-p.start)
	copy(block, buf[p.start:p.end])
	r.Reset()
	if err := r.parse(block); err != nil {
		p.err = err
		return 0, err
	}
	r.HeaderBytes = p.end
	return p.end, nil
}

// trimCR removes the CR of a CRLF line ending (line excludes the LF) and
// rejects any other CR (RFC 9112 2.2).
func trimCR(line string) (string, error) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if strings.IndexByte(line, '\r') >= 0 {
		return "", ErrBareCR
	}
	return line, nil
}

// requestLine is the parts of a request line.
type requestLine struct {
	method, target string
	minor          int
}

// splitRequestLine parses `method SP request-target SP HTTP-version`.
// Malformed is ErrBadRequestLine; a well-formed version other than 1.x is
// ErrVersion.
func splitRequestLine(line string) (requestLine, error) {
	sp := strings.IndexByte(line, ' ')
	if sp <= 0 {
		return requestLine{}, ErrBadRequestLine
	}
	rl := requestLine{method: line[:sp]}
	for i := 0; i < sp; i++ {
		if !isTchar(line[i]) {
			return requestLine{}, ErrBadRequestLine
		}
	}
	rest := line[sp+1:]
	sp = strings.IndexByte(rest, ' ')
	if sp <= 0 {
		return requestLine{}, ErrBadRequestLine
	}
	rl.target = rest[:sp]
	for i := 0; i < sp; i++ {
		if !isTargetByte(rest[i]) {
			return requestLine{}, ErrBadRequestLine
		}
	}
	v := rest[sp+1:]
	if len(v) != len("HTTP/1.1") || v[:5] != "HTTP/" || v[6] != '.' ||
		!isDigit(v[5]) || !isDigit(v[7]) {
		return requestLine{}, ErrBadRequestLine
	}
	if v[5] != '1' {
		return requestLine{}, ErrVersion
	}
	rl.minor = int(v[7] - '0')
	return rl, nil
}

// isDigit reports whether c is an ASCII decimal digit.
func isDigit(c byte) bool {
	return '0' <= c && c <= '9'
}
