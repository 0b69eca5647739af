package engine

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a handler panic turned into an error: the connection's error handler receives it and the
// connection is closed with 1011. The process and the other connections carry on.
type PanicError struct {
	Route string // route pattern
	Event string // "open", "message", "close", ...
	Value any    // what was passed to panic
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("engine: %s handler of %s panicked: %v", e.Event, e.Route, e.Value)
}

// recoverPanic is deferred around every user callback of a connection.
func (c *Conn) recoverPanic(event string) {
	r := recover()
	if r == nil {
		return
	}
	pattern := ""
	if c.route != nil {
		pattern = c.route.pattern
	}
	err := &PanicError{Route: pattern, Event: event, Value: r, Stack: debug.Stack()}
	c.loop.app.cfg.Logger.Error("handler panic", "route", pattern, "event", event,
		"panic", fmt.Sprint(r), "stack", string(err.Stack))
	if event == "error" || event == "close" {
		return // already on the way out
	}
	c.fail(err)
}

func (c *Conn) fireOpen(ctx *Context) {
	if fn := c.route.h.Open; fn != nil {
		defer c.recoverPanic("open")
		fn(c, ctx)
	}
}

func (c *Conn) fireMessage(m Message) {
	if x := c.ext; x != nil && x.onMessage != nil {
		defer c.recoverPanic("message")
		x.onMessage(m)
		return
	}
	if fn := c.route.h.Message; fn != nil {
		defer c.recoverPanic("message")
		fn(c, m)
	}
}

func (c *Conn) firePing(data []byte) {
	if x := c.ext; x != nil && x.onPing != nil {
		defer c.recoverPanic("ping")
		x.onPing(data)
		return
	}
	if fn := c.route.h.Ping; fn != nil {
		defer c.recoverPanic("ping")
		fn(c, data)
	}
}

func (c *Conn) firePong(data []byte) {
	if x := c.ext; x != nil && x.onPong != nil {
		defer c.recoverPanic("pong")
		x.onPong(data)
		return
	}
	if fn := c.route.h.Pong; fn != nil {
		defer c.recoverPanic("pong")
		fn(c, data)
	}
}

func (c *Conn) fireError(err error) {
	if c.flags&flagUpgraded == 0 {
		return
	}
	if x := c.ext; x != nil && x.onError != nil {
		defer c.recoverPanic("error")
		x.onError(err)
		return
	}
	if fn := c.route.h.Error; fn != nil {
		defer c.recoverPanic("error")
		fn(c, err)
	}
}

func (c *Conn) fireClose(info CloseInfo) {
	if x := c.ext; x != nil && x.onClose != nil {
		defer c.recoverPanic("close")
		x.onClose(info)
		return
	}
	if fn := c.route.h.Close; fn != nil {
		defer c.recoverPanic("close")
		fn(c, info)
	}
}

// callHTTP runs a plain route's handler; a panic becomes a 500 and a log line.
func (c *Conn) callHTTP(rt *route, ctx *Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.loop.app.cfg.Logger.Error("handler panic", "route", rt.pattern, "method", rt.method,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return rt.http(ctx)
}
