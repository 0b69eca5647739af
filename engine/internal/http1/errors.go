package http1

import "strconv"

// Error is a request the server must reject before any upgrade. Status is the
// HTTP status to answer with; Reason is a short, fixed, human-readable cause
// (never derived from request bytes, so it is safe to log or send).
//
// The parser only returns the package's sentinel values below, so errors.Is
// and == work; treat them as read-only. Safe for concurrent use (immutable).
type Error struct {
	Status int
	Reason string
}

// Error returns "http1: <status> <reason>". Safe for concurrent use.
func (e *Error) Error() string {
	return "http1: " + strconv.Itoa(e.Status) + " " + e.Reason
}

// Sentinel errors returned by [Parser.Parse]. They are never mutated.
var (
	// ErrHeaderTooLarge: the header block is longer than MaxHeaderBytes (431).
	ErrHeaderTooLarge = &Error{431, "header block too large"}
	// ErrTooManyHeaders: more than MaxFields field lines (431).
	ErrTooManyHeaders = &Error{431, "too many header fields"}
	// ErrURITooLong: the request line alone does not fit in MaxHeaderBytes (414).
	ErrURITooLong = &Error{414, "request line too long"}
	// ErrBadRequestLine: malformed request line, method or target, or too
	// many empty lines before it (400).
	ErrBadRequestLine = &Error{400, "malformed request line"}
	// ErrVersion: a well-formed HTTP version other than 1.x (505).
	ErrVersion = &Error{505, "HTTP version not supported"}
	// ErrBareCR: a CR not followed by LF (400).
	ErrBareCR = &Error{400, "bare CR"}
	// ErrBadHeader: a field line without a colon, with an empty or invalid
	// name, or with a control character in its value (400).
	ErrBadHeader = &Error{400, "malformed header field"}
	// ErrSpaceBeforeColon: whitespace between a field name and its colon (400).
	ErrSpaceBeforeColon = &Error{400, "whitespace before colon in header field"}
	// ErrFolding: a field line starting with whitespace (obs-fold, or
	// whitespace between the request line and the first field) (400).
	ErrFolding = &Error{400, "obsolete line folding"}
	// ErrBadContentLength: a Content-Length that is not a decimal number,
	// overflows int64, or differs from an earlier Content-Length (400).
	ErrBadContentLength = &Error{400, "invalid Content-Length"}
	// ErrAmbiguousLength: both Transfer-Encoding and Content-Length (400).
	ErrAmbiguousLength = &Error{400, "both Transfer-Encoding and Content-Length"}
	// ErrBadTransferEncoding: a Transfer-Encoding whose final coding is not
	// chunked, that applies chunked twice, that is empty, or that arrives in
	// an HTTP/1.0 request (400).
	ErrBadTransferEncoding = &Error{400, "invalid Transfer-Encoding"}
	// ErrHost: an HTTP/1.1 request without Host, or any request with more
	// than one Host field (400).
	ErrHost = &Error{400, "missing or repeated Host"}
)
