package engine

// Test-only exports: the harness of harness_test.go for the external tests (package engine_test), so
// both packages start servers and dial them with the same code. None of these names exist outside
// `go test`.

import (
	"net/http"
	"testing"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"

	"github.com/openspeed/wsd/internal/wstest"
)

// GorillaOpts is gorillaOpts.
type GorillaOpts = gorillaOpts

// CoderOpts is coderOpts.
type CoderOpts = coderOpts

// StartApp is startApp.
func StartApp(t testing.TB, cfg Config, register func(a *App)) (*App, string) {
	t.Helper()
	return startApp(t, cfg, register)
}

// EchoOpen is echoOpen.
func EchoOpen(ws *Conn, ctx *Context) { echoOpen(ws, ctx) }

// Poll is poll.
func Poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	poll(t, what, cond)
}

// Recv is recv.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return recv(t, ch, what)
}

// Report is report.
func Report[T any](ch chan<- T, v T) { report(ch, v) }

// DialDeflate is dialDeflate.
func DialDeflate(t testing.TB, addr, path, offer, want string) (*wstest.Raw, *wstest.Deflate) {
	t.Helper()
	return dialDeflate(t, addr, path, offer, want)
}

// DialGorilla is dialGorilla.
func DialGorilla(t testing.TB, addr, path string, o GorillaOpts) (*websocket.Conn, *http.Response) {
	t.Helper()
	return dialGorilla(t, addr, path, o)
}

// GorillaConnect is gorillaConnect.
func GorillaConnect(addr, path string, o GorillaOpts) (*websocket.Conn, *http.Response, error) {
	return gorillaConnect(addr, path, o)
}

// DialCoder is dialCoder.
func DialCoder(t testing.TB, addr, path string, o CoderOpts) (*coder.Conn, *http.Response) {
	t.Helper()
	return dialCoder(t, addr, path, o)
}

// CoderConnect is coderConnect.
func CoderConnect(addr, path string, o CoderOpts) (*coder.Conn, *http.Response, error) {
	return coderConnect(addr, path, o)
}
