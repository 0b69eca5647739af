package wstest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Request joins lines (request line, then header lines) into a raw HTTP request with CRLF line ends
// and the final empty line. The caller appends a body if it wants one.
func Request(lines ...string) string {
	return strings.Join(lines, "\r\n") + "\r\n\r\n"
}

// ReadResponseFor reads one HTTP response to a request with the given method: for "HEAD" it does not
// read a body, whatever Content-Length says, so a server that wrongly sends one is caught by the next
// read on the connection.
func (r *Raw) ReadResponseFor(method string) *http.Response {
	r.t.Helper()
	_ = r.Conn.SetReadDeadline(time.Now().Add(r.Timeout))
	resp, err := http.ReadResponse(r.br, &http.Request{Method: method})
	if err != nil {
		r.t.Fatalf("read response to %s: %v", method, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}

// ReadToEOF reads until the server closes the connection (EOF or reset) and returns every byte that
// arrived first. err is non-nil only when Timeout passed without the connection being closed.
func (r *Raw) ReadToEOF() ([]byte, error) {
	_ = r.Conn.SetReadDeadline(time.Now().Add(r.Timeout))
	var got bytes.Buffer
	_, err := io.Copy(&got, r.br)
	if err != nil && (isReset(err) || errors.Is(err, io.EOF)) {
		err = nil
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return got.Bytes(), errors.New("connection still open after " + r.Timeout.String())
	}
	return got.Bytes(), err
}

// WriteBytewise writes b one byte per write call (each one a separate TCP segment, since Go sets
// TCP_NODELAY), so the server sees the request arrive in the smallest possible pieces.
func (r *Raw) WriteBytewise(b []byte) {
	r.t.Helper()
	for i := range b {
		r.Write(b[i : i+1])
	}
}
