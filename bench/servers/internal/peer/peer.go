// Package peer is what the peer servers of the comparison (gorilla, gws, nbio) share: the -addr flag,
// the listening line the loadtest harness waits for, SIGTERM handling, an optional pprof listener for
// forced garbage collections, the /rooms/:room path rule and a room registry.
//
// The servers expose no metrics: the harness reads their CPU and RSS from /proc by process id.
package peer

import (
	"flag"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // on http.DefaultServeMux, served only on WSD_PPROF_ADDR
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Addr is the listen address (-addr). The harness passes -addr 127.0.0.1:0.
var Addr = flag.String("addr", "127.0.0.1:0", "listen address")

// Log is the servers' logger: text lines on stderr, as wsd writes them.
var Log = slog.New(slog.NewTextHandler(os.Stderr, nil))

// Listen parses the flags, starts the pprof listener when WSD_PPROF_ADDR is set (the harness sets it
// so that memory samples can force a GC first, /debug/pprof/heap?gc=1, exactly as with wsd), makes
// SIGTERM and SIGINT exit with status 0, and listens on -addr.
func Listen() net.Listener {
	flag.Parse()
	if a := os.Getenv("WSD_PPROF_ADDR"); a != "" {
		go func() {
			if err := http.ListenAndServe(a, nil); err != nil {
				Log.Error("pprof", "err", err)
			}
		}()
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		os.Exit(0)
	}()
	ln, err := net.Listen("tcp", *Addr)
	if err != nil {
		Fatal("listen", err)
	}
	return ln
}

// Ready logs the line the harness waits for (loadtest.StartServer matches msg="wsd listening" addr=...).
func Ready(server string, addr net.Addr) {
	Log.Info("wsd listening", "addr", addr.String(), "server", server)
}

// Fatal logs err and exits with status 1.
func Fatal(what string, err error) {
	Log.Error(what, "err", err)
	os.Exit(1)
}

// RoomOf returns the room of a /rooms/:room path ("" and false for any other path, and for
// /rooms/:room/... sub-paths).
func RoomOf(path string) (string, bool) {
	room, ok := strings.CutPrefix(path, "/rooms/")
	if !ok || room == "" || strings.IndexByte(room, '/') >= 0 {
		return "", false
	}
	return room, true
}
