package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Hostile HTTP clients: garbage, malformed and oversize requests, bad upgrades, pipelining past
// Connection: close, slowloris, and a pipeliner that never reads its responses.

// httpCase is one bad request and the status it must get.
type httpCase struct {
	name   string
	status int
	req    func(s *soak, host string) string
	closes bool // the answer must end the connection (Connection: close, then EOF)
}

const upgradeHeaders = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
const wsKey = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

var httpCases = []httpCase{
	{"http: random bytes", 400, func(s *soak, _ string) string {
		b := s.bytes(200)
		b[0] = 1 + b[0]%8 // a control character: never a method
		return string(b) + "\r\n\r\n"
	}, true},
	{"http: header line without a colon", 400, func(_ *soak, h string) string {
		return "GET /echo HTTP/1.1\r\nHost: " + h + "\r\nNoColonHere\r\n\r\n"
	}, true},
	{"http: bare CR", 400, func(_ *soak, h string) string { return "GET /echo HTTP/1.1\r\nHost: " + h + "\rX: y\r\n\r\n" }, true},
	{"http: no Host", 400, func(*soak, string) string { return "GET /healthz HTTP/1.1\r\n\r\n" }, true},
	{"http: Transfer-Encoding and Content-Length", 400, func(_ *soak, h string) string {
		return "POST /rooms/x/publish HTTP/1.1\r\nHost: " + h + "\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
	}, true},
	{"http: version 2.0", 505, func(_ *soak, h string) string { return "GET / HTTP/2.0\r\nHost: " + h + "\r\n\r\n" }, true},
	{"oversize: header block over max_header_bytes", 431, func(s *soak, h string) string {
		return "GET /echo HTTP/1.1\r\nHost: " + h + "\r\nX-Big: " + strings.Repeat("a", 2*s.plan.Limits.MaxHeader) + "\r\n\r\n"
	}, true},
	{"oversize: request line over max_header_bytes", 414, func(s *soak, h string) string {
		return "GET /" + strings.Repeat("a", 2*s.plan.Limits.MaxHeader) + " HTTP/1.1\r\nHost: " + h + "\r\n\r\n"
	}, true},
	{"upgrade: no Sec-WebSocket-Key", 400, func(_ *soak, h string) string {
		return "GET /echo HTTP/1.1\r\nHost: " + h + "\r\n" + upgradeHeaders + "\r\n"
	}, true},
	{"upgrade: version 8", 426, func(_ *soak, h string) string {
		return "GET /echo HTTP/1.1\r\nHost: " + h + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Version: 8\r\n" + wsKey + "\r\n"
	}, true},
	{"upgrade: with a body", 400, func(_ *soak, h string) string {
		return "GET /echo HTTP/1.1\r\nHost: " + h + "\r\n" + upgradeHeaders + wsKey + "Content-Length: 5\r\n\r\nhello"
	}, true},
	{"http: plain GET on a WebSocket route", 426, func(_ *soak, h string) string {
		return "GET /echo HTTP/1.1\r\nHost: " + h + "\r\n\r\n"
	}, false},
}

// httpHostile runs the HTTP cases one after the other until the load phase ends, plus a request
// pipelined after Connection: close.
func (s *soak) httpHostile() {
	for i := 0; s.running(); i++ {
		if i%(len(httpCases)+1) == len(httpCases) {
			s.afterConnectionClose()
		} else {
			s.httpCase(httpCases[i%(len(httpCases)+1)])
		}
		s.hostile.Add(1)
		s.sleep(s.plan.HostilePer)
	}
}

// httpConn is a raw connection to the server with a buffered reader.
type httpConn struct {
	nc net.Conn
	br *bufio.Reader
}

func (s *soak) httpConnect() (*httpConn, error) {
	nc, err := s.dialer.Connect(context.Background(), s.ep)
	if err != nil {
		return nil, err
	}
	return &httpConn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}, nil
}

// response reads one response and its body.
func (h *httpConn) response(timeout time.Duration) (*http.Response, []byte, error) {
	_ = h.nc.SetReadDeadline(time.Now().Add(timeout))
	resp, err := http.ReadResponse(h.br, nil)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp, body, err
}

// eof reads until the server closes the connection and returns how long that took and what came.
func (h *httpConn) eof(timeout time.Duration) (time.Duration, []byte, error) {
	start := time.Now()
	_ = h.nc.SetReadDeadline(start.Add(timeout))
	extra, err := io.ReadAll(h.br)
	if isEOF(err) {
		err = nil
	}
	return time.Since(start), extra, err
}

// statusOf handles any answer: an upgrade is counted, an error status counted by reject reason.
func (s *soak) statusOf(resp *http.Response) int {
	switch {
	case resp.StatusCode == http.StatusSwitchingProtocols:
		s.upgrades.Add(1)
	case resp.StatusCode >= 400:
		s.rejected(resp.StatusCode)
	}
	return resp.StatusCode
}

func (s *soak) httpCase(hc httpCase) {
	want := fmt.Sprintf("%d %s", hc.status, http.StatusText(hc.status))
	if hc.closes {
		want += ", then EOF"
	}
	h, err := s.httpConnect()
	if err != nil {
		s.fail(hc.name, want, "connect: %v", err)
		return
	}
	defer h.nc.Close()
	if _, err := io.WriteString(h.nc, hc.req(s, s.ep.Host)); err != nil {
		s.fail(hc.name, want, "write: %v", err)
		return
	}
	resp, _, err := h.response(10 * time.Second)
	if err != nil {
		s.fail(hc.name, want, "no response: %v", err)
		return
	}
	if got := s.statusOf(resp); got != hc.status {
		s.fail(hc.name, want, "got %s", resp.Status)
		return
	}
	if !hc.closes {
		s.pass(hc.name, want)
		return
	}
	took, extra, err := h.eof(s.plan.Limits.CloseTimeout + 5*time.Second)
	switch {
	case err != nil || len(extra) > 0:
		s.fail(hc.name, want, "after %s: %d more bytes %.60q, %v", resp.Status, len(extra), extra, err)
	case took > s.plan.Limits.CloseTimeout/2:
		s.fail(hc.name, want, "connection open %.1fs after %s", took.Seconds(), resp.Status)
	default:
		s.pass(hc.name, want)
	}
}

// afterClosePath is the second request pipelined after Connection: close: a 404 the server must not
// even run (its rejection would count in wsd_handshakes_rejected_total{reason="not_found"}, which the
// soak's clients never cause otherwise).
const afterClosePath = "/soak-pipelined-after-connection-close"

// afterConnectionClose pipelines a second request after one that says Connection: close: only the
// first may be answered, or even run (issue 13 §6).
func (s *soak) afterConnectionClose() {
	const name, want = "http: request pipelined after Connection: close", "one 200 answer, then EOF"
	h, err := s.httpConnect()
	if err != nil {
		s.fail(name, want, "connect: %v", err)
		return
	}
	defer h.nc.Close()
	host := s.ep.Host
	req := "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n" +
		"GET " + afterClosePath + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	if _, err := io.WriteString(h.nc, req); err != nil {
		s.fail(name, want, "write: %v", err)
		return
	}
	resp, _, err := h.response(10 * time.Second)
	if err != nil || s.statusOf(resp) != 200 {
		s.fail(name, want, "first answer: %v %v", resp, err)
		return
	}
	_, extra, err := h.eof(10 * time.Second)
	if n := bytes.Count(extra, []byte("HTTP/1.1 ")); n > 0 || err != nil {
		s.fail(name, want, "%d more responses after Connection: close (%v)", n, err)
		return
	}
	s.pass(name, want)
}

// slowloris sends the start of a request and nothing more: it must get 408 handshake_timeout later.
func (s *soak) slowloris(i int) {
	const name = "slowloris"
	ht := s.plan.Limits.HandshakeTimeout
	want := fmt.Sprintf("408 after handshake_timeout (%v), then EOF", ht)
	for s.remaining() > ht+5*time.Second {
		s.hostile.Add(1)
		h, err := s.httpConnect()
		if err != nil {
			s.fail(name, want, "connect: %v", err)
			s.sleep(time.Second)
			continue
		}
		start := time.Now()
		_, err = io.WriteString(h.nc, "GET /echo HTTP/1.1\r\nHost: "+s.ep.Host+"\r\nUpgrade: websock")
		if err == nil {
			var resp *http.Response
			resp, _, err = h.response(ht + 10*time.Second)
			took := time.Since(start)
			switch {
			case err != nil:
			case s.statusOf(resp) != http.StatusRequestTimeout:
				err = fmt.Errorf("got %s", resp.Status)
			case took < ht-time.Second || took > ht+3*time.Second:
				err = fmt.Errorf("408 after %.1fs, want %v", took.Seconds(), ht)
			}
		}
		s.result(name, want, err)
		_ = h.nc.Close()
		s.sleep(time.Duration(i) * time.Second)
	}
}

// pipelineBytes is how much response data the pipeliner asks for without reading: far past
// max_backpressure, so an unbounded server queue shows in its heap.
const pipelineBytes = 64 << 20

// pipeliner pipelines requests for /static/app.js (the chat page's script) worth pipelineBytes of responses and holds them
// unread for a few seconds while the server's live heap is measured (after forced collections): the
// server must not buffer more than about max_backpressure for it (issue 13 §2). Then it reads every
// response and checks each.
func (s *soak) pipeliner() {
	const name = "pipeliner"
	want := fmt.Sprintf("server heap +%d MiB at most while %d MiB of responses go unread; every response 200, in order",
		pipelineBudget>>20, pipelineBytes>>20)
	for s.running() {
		s.hostile.Add(1)
		s.result(name, want, s.pipelineOnce())
		s.sleep(2 * time.Second)
	}
}

// pipelineBudget bounds the growth of the server's live heap while the pipeliner holds its responses.
const pipelineBudget = 16 << 20

func (s *soak) pipelineOnce() error {
	h, err := s.httpConnect()
	if err != nil {
		return err
	}
	defer h.nc.Close()
	req := "GET /static/app.js HTTP/1.1\r\nHost: " + s.ep.Host + "\r\n\r\n"
	if _, err := io.WriteString(h.nc, req); err != nil {
		return err
	}
	resp, body, err := h.response(10 * time.Second)
	if err != nil || s.statusOf(resp) != 200 || len(body) == 0 {
		return fmt.Errorf("first request: %v %v", resp, err)
	}
	n := pipelineBytes / (len(body) + 256)
	before, err := s.leastHeap(2, 0)
	if err != nil {
		return err
	}
	_ = h.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(h.nc, strings.Repeat(req, n)); err != nil {
		return fmt.Errorf("writing %d requests: %w", n, err)
	}
	held, err := s.leastHeap(3, time.Second)
	if err != nil {
		return err
	}
	for i := range n {
		r, b, err := h.response(10 * time.Second)
		if err != nil {
			return fmt.Errorf("response %d of %d: %w", i+1, n, err)
		}
		if s.statusOf(r) != 200 || !bytes.Equal(b, body) {
			return fmt.Errorf("response %d of %d: %s, %d bytes", i+1, n, r.Status, len(b))
		}
	}
	if grew := held - before; grew > pipelineBudget {
		return fmt.Errorf("server live heap grew %.0f MiB (%.0f → %.0f) while %d responses (%.0f MiB) were unread",
			float64(grew)/(1<<20), float64(before)/(1<<20), float64(held)/(1<<20), n, float64(n*len(body))/(1<<20))
	}
	return nil
}

// leastHeap is the least of n measurements of the server's live heap, each after waiting gap: what
// the pipeliner makes the server hold persists through all of them, while what other clients make it
// allocate for a moment does not. (Single measurements were 20–48 MiB high in one run in 15: wsd's
// heartbeat held a 32 KiB buffer per ping for the 3,000 idle holders every 20 s, fixed since; see
// loadtest/README.md. The soak's heap curves show such bursts.)
func (s *soak) leastHeap(n int, gap time.Duration) (int64, error) {
	least := int64(-1)
	for range n {
		s.sleep(gap)
		v, err := s.liveHeap()
		if err != nil {
			return 0, err
		}
		if least < 0 || v < least {
			least = v
		}
	}
	return least, nil
}

// liveHeap is the server's Go heap in use after a forced collection.
func (s *soak) liveHeap() (int64, error) {
	t := Target{MetricsURL: s.plan.Metrics, GCURL: s.plan.GCURL}
	m := t.SampleAfterGC().Metrics
	v, ok := m.Get(heapMetric)
	if !ok {
		return 0, fmt.Errorf("no %s at %s", heapMetric, s.plan.Metrics)
	}
	return int64(v), nil
}
