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

// Error describes the panic (value, handler, no stack). Safe from any goroutine.
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

// fire runs a connection's callback for event name with arg: the connection's own (Conn.OnX) when it
// set one, else the route's shared one (Handlers.X); a panic becomes the error event and a 1011 close.
// It is the one path every callback of a connection goes through.
func fire[A any](c *Conn, name string, own func(A), shared func(*Conn, A), arg A) {
	if own == nil && shared == nil {
		return
	}
	defer c.recoverPanic(name)
	if own != nil {
		own(arg)
		return
	}
	shared(c, arg)
}

// noArg adapts a callback without argument to fire.
type noArg struct{}

func adapt0(fn func()) func(noArg) {
	if fn == nil {
		return nil
	}
	return func(noArg) { fn() }
}

func adaptShared0(fn func(*Conn)) func(*Conn, noArg) {
	if fn == nil {
		return nil
	}
	return func(c *Conn, _ noArg) { fn(c) }
}

// hooks returns the connection's own callbacks and state, or nil.
func (c *Conn) hooks() *connExt { return c.ext }

func (c *Conn) fireOpen(ctx *Context) { fire(c, "open", nil, c.route.h.Open, ctx) }

func (c *Conn) fireMessage(m Message) {
	var own func(Message)
	if x := c.hooks(); x != nil {
		own = x.onMessage
	}
	fire(c, "message", own, c.route.h.Message, m)
}

func (c *Conn) firePing(data []byte) {
	var own func([]byte)
	if x := c.hooks(); x != nil {
		own = x.onPing
	}
	fire(c, "ping", own, c.route.h.Ping, data)
}

func (c *Conn) firePong(data []byte) {
	var own func([]byte)
	if x := c.hooks(); x != nil {
		own = x.onPong
	}
	fire(c, "pong", own, c.route.h.Pong, data)
}

func (c *Conn) fireClose(info CloseInfo) {
	var own func(CloseInfo)
	if x := c.hooks(); x != nil {
		own = x.onClose
	}
	fire(c, "close", own, c.route.h.Close, info)
}

func (c *Conn) fireError(err error) {
	if c.flags&flagUpgraded == 0 {
		return
	}
	var own func(error)
	if x := c.hooks(); x != nil {
		own = x.onError
	}
	fire(c, "error", own, c.route.h.Error, err)
}

func (c *Conn) fireDrop() {
	var own func()
	if x := c.hooks(); x != nil {
		own = x.onDrop
	}
	fire(c, "drop", adapt0(own), adaptShared0(c.route.h.Drop), noArg{})
}

func (c *Conn) fireDrain() {
	var own func()
	if x := c.hooks(); x != nil {
		own = x.onDrain
	}
	fire(c, "drain", adapt0(own), adaptShared0(c.route.h.Drain), noArg{})
}

func (c *Conn) fireEvent(e Event, own func(Event), shared func(*Conn, Event)) {
	fire(c, "event", own, shared, e)
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
