package loadtest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/openspeed/wsd/loadtest/client"
)

// Connection churn: short connections that upgrade, exchange a message and go away, half of them
// with a closing handshake and half with an RST (SO_LINGER 0); members that join a busy room, read a
// little and vanish; bare TCP connections reset at once; keep-alive HTTP requests.

func (s *soak) churn(id int) {
	interval := time.Duration(float64(time.Second) / s.plan.ChurnRate)
	next := time.Now()
	for i := 0; s.sleep(time.Until(next)); i++ {
		next = pace(next, interval)
		switch i % 6 {
		case 0:
			s.result("churn: echo, clean close", "reply unchanged; close 1000 answered, then EOF", s.churnEcho(id, i, false))
		case 1:
			s.result("churn: echo, RST", "reply unchanged", s.churnEcho(id, i, true))
		case 2, 3:
			if err := s.churnRoom(id, i, i%2 == 1); len(s.rooms) > 0 && err != errPublisherDone {
				s.result("churn: room member", "consecutive publications until it leaves", err)
			}
		case 4:
			s.result("churn: TCP connect and RST", "nothing", s.churnTCP())
		case 5:
			s.result("churn: keep-alive HTTP", "200 ok twice on one connection", s.churnHTTP())
		}
		s.churned.Add(1)
	}
}

func (s *soak) churnEcho(id, i int, rst bool) error {
	c, err := s.dial("/echo", nil)
	if err != nil {
		return err
	}
	defer c.Abort()
	seq := int64(i)
	op, size := echoShape(seq)
	p := make([]byte, size)
	echoPayload(p, id, seq)
	client.PutStamp(op, p, time.Now().UnixNano(), seq)
	if err := c.WriteMessage(op, p); err != nil {
		return err
	}
	_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	rop, got, err := c.ReadMessage()
	if err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	if rop != op || string(got) != string(p) {
		return fmt.Errorf("reply differs: opcode %d, %d bytes, want %d, %d", rop, len(got), op, len(p))
	}
	if rst {
		return c.Reset()
	}
	return s.closeClean(c, true)
}

// closeClean sends close 1000 and expects close 1000 back, then EOF (data frames before it are
// allowed when allowData is set).
func (s *soak) closeClean(c *client.Conn, allowData bool) error {
	if err := c.Write(client.AppendClose(nil, 1000, "", c.Key())); err != nil {
		return err
	}
	_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := c.NextFrame()
		if err != nil {
			return fmt.Errorf("no close answer: %w", err)
		}
		if f.Op == client.OpClose {
			if code, _ := client.ParseClose(f.Payload); code != 1000 {
				return fmt.Errorf("close answered with %d", code)
			}
			break
		}
		if !allowData && f.Op.IsData() {
			return fmt.Errorf("data frame after our close: %.60q", f.Payload)
		}
	}
	var err error
	for err == nil {
		_, err = c.NextFrame()
	}
	if !isEOF(err) {
		return fmt.Errorf("after the close answer: %w", err)
	}
	return nil
}

// errPublisherDone: the load phase ended before a churning member got its publications.
var errPublisherDone = errors.New("the room's publisher stopped")

// churnRoom joins one of the worker's rooms, reads two consecutive publications and leaves.
func (s *soak) churnRoom(id, i int, rst bool) error {
	if len(s.rooms) == 0 {
		return nil
	}
	r := s.rooms[(i/6)%len(s.rooms)]
	c, err := s.dial(r.path(fmt.Sprintf("churn-%d-%d", id, i)), nil)
	if err != nil {
		return err
	}
	defer c.Abort()
	var last int64
	for got := 0; got < 2; {
		_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
		op, p, err := c.ReadMessage()
		if err != nil && !s.running() {
			return errPublisherDone
		}
		if err != nil {
			return fmt.Errorf("%s: after %d publications: %w", r.plan.Path, got, err)
		}
		msg, err := r.parse(op, p)
		if err != nil {
			return err
		}
		if msg.kind != publication {
			continue
		}
		if last > 0 && msg.seq != last+1 {
			return fmt.Errorf("publication %d after %d", msg.seq, last)
		}
		last = msg.seq
		got++
	}
	if rst {
		return c.Reset()
	}
	return s.closeClean(c, true)
}

func (s *soak) churnTCP() error {
	h, err := s.httpConnect()
	if err != nil {
		return err
	}
	return client.Reset(h.nc)
}

func (s *soak) churnHTTP() error {
	h, err := s.httpConnect()
	if err != nil {
		return err
	}
	defer h.nc.Close()
	for range 2 {
		if _, err := io.WriteString(h.nc, "GET /healthz HTTP/1.1\r\nHost: "+s.ep.Host+"\r\n\r\n"); err != nil {
			return err
		}
		resp, body, err := h.response(10 * time.Second)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || string(body) != "ok\n" && string(body) != "ok" {
			return fmt.Errorf("got %s %q", resp.Status, body)
		}
	}
	return nil
}
