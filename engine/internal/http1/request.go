package http1

import (
	"strings"
	"unsafe"
)

// MaxFields is the most field lines a request may carry; more is
// [ErrTooManyHeaders] (431).
const MaxFields = 100

// inlineFields is how many fields a Request holds without allocating.
const inlineFields = 16

// Field is one header field line. Name is as sent (compare it with
// [Request.Header] or case-insensitively); Value has surrounding OWS trimmed.
type Field struct {
	Name, Value string
}

// Request is one parsed request header block, filled by [Parser.Parse].
//
// Every string points into a private copy of the header block that is never
// mutated, so the strings stay valid after the caller's buffer is reused and
// after [Request.Reset]; keeping one keeps the whole block (at most
// MaxHeaderBytes) alive. Fields may point into an array inside the Request:
// do not copy a Request by value and then reuse the original.
//
// Not safe for concurrent use while being filled; once filled, the read
// methods may be called from several goroutines.
type Request struct {
	Method   string // a token, case-sensitive ("GET")
	Target   string // request-target as sent
	Path     string // Target up to '?' or '#', still percent-encoded; "/p" for "http://h/p?q"
	RawQuery string // after '?', without '#fragment'; "" when absent
	// Major and Minor are the HTTP version; Major is always 1. A minor
	// version above 1 is accepted and treated like HTTP/1.1.
	Major, Minor int
	Fields       []Field // in order of arrival, at most MaxFields
	// ContentLength is the Content-Length value, or -1 when absent (a request
	// with neither Content-Length nor chunked has no body).
	ContentLength int64
	Chunked       bool // Transfer-Encoding is present and ends with chunked
	// KeepAlive: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with
	// "Connection: keep-alive" (and no close).
	KeepAlive bool
	// HeaderBytes is n as returned by Parse: the bytes the header block
	// occupied in the caller's buffer, including ignored leading empty lines
	// and the final empty line. The body, if any, starts right after.
	HeaderBytes int

	inline [inlineFields]Field
}

// Header returns the value of the first field called name (compared
// case-insensitively), or "" when there is none. Not safe for concurrent use
// with Parse or Reset on the same Request.
func (r *Request) Header(name string) string {
	for i := range r.Fields {
		if equalFold(r.Fields[i].Name, name) {
			return r.Fields[i].Value
		}
	}
	return ""
}

// Values returns the values of every field called name (case-insensitive),
// in order, or nil. It allocates the returned slice; the strings are the
// Request's own. Not safe for concurrent use with Parse or Reset.
func (r *Request) Values(name string) []string {
	var vs []string
	for i := range r.Fields {
		if equalFold(r.Fields[i].Name, name) {
			vs = append(vs, r.Fields[i].Value)
		}
	}
	return vs
}

// HasToken reports whether any comma-separated element of any field called
// name equals token, both compared case-insensitively with OWS trimmed: the
// check for "Connection: keep-alive, Upgrade" or "Upgrade: websocket". It
// does not allocate. Not safe for concurrent use with Parse or Reset.
func (r *Request) HasToken(name, token string) bool {
	for i := range r.Fields {
		if equalFold(r.Fields[i].Name, name) && hasElement(r.Fields[i].Value, token) {
			return true
		}
	}
	return false
}

// Reset clears the Request for reuse and drops its references to the
// previous header block. Strings already taken from it stay valid. Not safe
// for concurrent use.
func (r *Request) Reset() {
	*r = Request{ContentLength: -1}
}

// fieldState collects what the special fields say while they are parsed.
type fieldState struct {
	te, cl, hosts int // how many Transfer-Encoding, Content-Length, Host lines
	teElems       int // non-empty Transfer-Encoding elements seen
	close, keep   bool
	badTE         bool // some coding followed chunked
}

// parse fills r from block, a complete header block (request line through
// the final empty line) that r may keep. The request line was already
// validated by the scanner, but parsing it again here is cheap and keeps
// this function self-contained.
func (r *Request) parse(block []byte) error {
	s := unsafe.String(unsafe.SliceData(block), len(block))
	i := strings.IndexByte(s, '\n')
	line, err := trimCR(s[:i])
	if err != nil {
		return err
	}
	rl, err := splitRequestLine(line)
	if err != nil {
		return err
	}
	r.Method, r.Target, r.Major, r.Minor = rl.method, rl.target, 1, rl.minor
	r.Path, r.RawQuery = splitTarget(rl.target)
	r.Fields = r.inline[:0]
	var st fieldState
	for rest := s[i+1:]; ; {
		i = strings.IndexByte(rest, '\n')
		line, err = trimCR(rest[:i])
		rest = rest[i+1:]
		if err != nil {
			return err
		}
		if line == "" {
			break
		}
		if len(r.Fields) == MaxFields {
			return ErrTooManyHeaders
		}
		f, err := parseField(line)
		if err != nil {
			return err
		}
		if len(r.Fields) == cap(r.Fields) {
			r.Fields = grow(r.Fields, rest)
		}
		r.Fields = append(r.Fields, f)
		if err := r.observe(&st, f); err != nil {
			return err
		}
	}
	return r.settle(&st)
}

// observe updates st and r for the fields whose meaning the parser owns.
// The switch on length keeps the common case (any other field) to one
// comparison.
func (r *Request) observe(st *fieldState, f Field) error {
	switch len(f.Name) {
	case len("host"):
		if equalFold(f.Name, "host") {
			st.hosts++
		}
	case len("connection"):
		if equalFold(f.Name, "connection") {
			for list := f.Value; list != ""; {
				var e string
				e, list = nextElement(list)
				st.close = st.close || equalFold(e, "close")
				st.keep = st.keep || equalFold(e, "keep-alive")
			}
		}
	case len("content-length"):
		if equalFold(f.Name, "content-length") {
			n, ok := parseContentLength(f.Value)
			if !ok || st.cl > 0 && n != r.ContentLength {
				return ErrBadContentLength
			}
			st.cl++
			r.ContentLength = n
		}
	case len("transfer-encoding"):
		if equalFold(f.Name, "transfer-encoding") {
			st.te++
			r.observeTE(st, f.Value)
		}
	}
	return nil
}

// observeTE walks one Transfer-Encoding list. Chunked must be the final
// coding and appear once (RFC 9112 6.1); r.Chunked tracks whether the last
// coding so far is chunked.
func (r *Request) observeTE(st *fieldState, list string) {
	for list != "" {
		var e string
		e, list = nextElement(list)
		if e == "" {
			continue
		}
		if r.Chunked {
			st.badTE = true // a coding after chunked
		}
		st.teElems++
		r.Chunked = equalFold(e, "chunked")
	}
}

// settle applies the rules that need every field: framing and Host.
func (r *Request) settle(st *fieldState) error {
	if st.te > 0 {
		if st.cl > 0 {
			return ErrAmbiguousLength
		}
		if st.badTE || st.teElems == 0 || !r.Chunked || r.Minor == 0 {
			return ErrBadTransferEncoding
		}
	}
	if st.hosts > 1 || st.hosts == 0 && r.Minor >= 1 {
		return ErrHost
	}
	if r.Minor >= 1 {
		r.KeepAlive = !st.close
	} else {
		r.KeepAlive = st.keep && !st.close
	}
	return nil
}

// grow moves fields out of the inline array into one slice big enough for
// every line left in the block (rest), so a request allocates at most once
// for its fields.
func grow(fields []Field, rest string) []Field {
	n := min(len(fields)+1+strings.Count(rest, "\n"), MaxFields)
	return append(make([]Field, 0, n), fields...)
}

// parseField splits one field line (line terminator removed, non-empty).
func parseField(line string) (Field, error) {
	if line[0] == ' ' || line[0] == '\t' {
		return Field{}, ErrFolding
	}
	i := 0
	for i < len(line) && isTchar(line[i]) {
		i++
	}
	if i == len(line) || i == 0 {
		return Field{}, ErrBadHeader
	}
	if line[i] != ':' {
		if line[i] != ' ' && line[i] != '\t' {
			return Field{}, ErrBadHeader
		}
		if t := trimOWS(line[i:]); t != "" && t[0] == ':' {
			return Field{}, ErrSpaceBeforeColon
		}
		return Field{}, ErrBadHeader
	}
	v := trimOWS(line[i+1:])
	for j := 0; j < len(v); j++ {
		if !isValueByte(v[j]) {
			return Field{}, ErrBadHeader
		}
	}
	return Field{Name: line[:i], Value: v}, nil
}
