package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/openspeed/wsd/engine"
)

// pythonScript is the python3-websockets client, relative to the package directory (go test's working
// directory).
const pythonScript = "testdata/python/client.py"

// pythonResults is what client.py prints on success.
type pythonResults struct {
	Version    string `json:"websockets_version"`
	RoundTrips map[string]struct {
		Bytes  int    `json:"bytes"`
		SHA256 string `json:"sha256"`
	} `json:"round_trips"`
	Fragmented struct {
		Text        string `json:"text"`
		TextChars   int    `json:"text_chars"`
		BinaryBytes int    `json:"binary_bytes"`
	} `json:"fragmented"`
	Ping struct {
		Payload string `json:"payload"`
		Pong    bool   `json:"pong"`
	} `json:"ping"`
	ClientClose pythonClose `json:"client_close"`
	ServerClose pythonClose `json:"server_close"`
}

type pythonClose struct {
	Code   int    `json:"close_code"`
	Reason string `json:"close_reason"`
}

// pythonWithWebsockets returns a python3 that can import websockets. Without one the test is skipped,
// unless WSD_REQUIRE_PYTHON=1 (set by make test), where it fails.
func pythonWithWebsockets(t *testing.T) string {
	t.Helper()
	missing := t.Skipf
	if os.Getenv("WSD_REQUIRE_PYTHON") == "1" {
		missing = t.Fatalf
	}
	// Debian's python3-websockets goes with the system python; a pyenv python3 first in PATH lacks it.
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		if py, err = exec.LookPath("python3"); err != nil {
			missing("python3 not found: install python3 and python3-websockets to run this test")
		}
	}
	out, err := exec.Command(py, "-c", "import websockets; print(websockets.__version__)").CombinedOutput()
	if err != nil {
		missing("%s cannot import websockets (apt-get install python3-websockets): %v\n%s", py, err, out)
	}
	return py
}

func TestPythonWebsockets(t *testing.T) {
	py := pythonWithWebsockets(t)
	s := newE2EServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // hang guard only
	defer cancel()
	cmd := exec.CommandContext(ctx, py, pythonScript, "ws://"+s.addr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("client.py failed (%v):\n%s", err, stderr.Bytes())
		}
		t.Fatalf("run client.py: %v", err)
	}
	var res pythonResults
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("client.py output is not JSON: %v\n%s", err, out)
	}
	t.Logf("python websockets %s", res.Version)
	checkPythonRoundTrips(t, &res)
	checkPythonScenarios(t, &res)
	checkPythonServerSide(t, s)
}

// checkPythonRoundTrips checks that every size made the round trip (the script compared the echo) and
// that the text the script sent is the text the Go tests use.
func checkPythonRoundTrips(t *testing.T, res *pythonResults) {
	t.Helper()
	for _, n := range []int{0, 1 << 10, 1 << 20, 16 << 20} {
		for _, kind := range []string{"text", "binary"} {
			name := kind + "-" + strconv.Itoa(n)
			rt, ok := res.RoundTrips[name]
			if !ok || rt.Bytes != n {
				t.Errorf("round trip %s: %+v (present %v), want %d bytes", name, rt, ok, n)
				continue
			}
			if kind == "text" {
				sum := sha256.Sum256(textPayload(n))
				if rt.SHA256 != hex.EncodeToString(sum[:]) {
					t.Errorf("round trip %s: the script's text differs from textPayload(%d)", name, n)
				}
			}
		}
	}
}

func checkPythonScenarios(t *testing.T, res *pythonResults) {
	t.Helper()
	f := res.Fragmented
	if f.Text != "fragmented €𝄞𝄞𝄞𝄞" || f.TextChars != 1012 || f.BinaryBytes != 70004 {
		t.Errorf("fragmented = %+v, want text \"fragmented €𝄞𝄞𝄞𝄞\"..., 1012 chars, 70004 bytes", f)
	}
	if res.Ping.Payload != "py-ping" || !res.Ping.Pong {
		t.Errorf("ping = %+v, want the pong for py-ping", res.Ping)
	}
	// The server answers a close by echoing its code (without the reason).
	if res.ClientClose != (pythonClose{Code: 4002, Reason: ""}) {
		t.Errorf("client close: the server answered %+v, want code 4002", res.ClientClose)
	}
	if res.ServerClose != (pythonClose{Code: 4003, Reason: "bye"}) {
		t.Errorf("server close: the client saw %+v, want 4003 \"bye\"", res.ServerClose)
	}
}

// checkPythonServerSide checks what the server saw: the ping payload, and the close of every
// connection of the script (python echoes a server's close frame whole, reason included). The
// connections may live on different loops, so their OnClose calls are compared as a set.
func checkPythonServerSide(t *testing.T, s *e2eServer) {
	t.Helper()
	if got := engine.Recv(t, s.pings, "server OnPing"); got != "py-ping" {
		t.Errorf("server OnPing %q, want py-ping", got)
	}
	want := []string{"1000 \"\" <nil>", "1000 \"\" <nil>", "1000 \"\" <nil>",
		"4002 \"py-close\" <nil>", "4003 \"bye\" <nil>"}
	got := make([]string, 0, len(want))
	for range want {
		info := engine.Recv(t, s.closes, "server OnClose")
		got = append(got, fmt.Sprintf("%d %q %v", info.Code, info.Reason, info.Err))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("server CloseInfos (code reason err) = %q, want %q", got, want)
	}
}
