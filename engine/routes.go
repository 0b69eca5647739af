package engine

import (
	"fmt"
	"net/http"
	"time"

	"github.com/openspeed/wsd/rooms"
)

// Handlers are the callbacks of a WebSocket route, shared by every connection of the route: no closure
// is allocated per connection, which is what a route with a million idle connections wants. Every
// callback runs on the connection's event loop and must not block. Nil callbacks are skipped.
// A connection can still override Message, Close, Error, Ping and Pong for itself with Conn.OnMessage
// and friends (the plugin's style); its own callback then replaces the route's.
type Handlers struct {
	// Open runs once the 101 answer is queued; ctx is the upgrade request.
	Open func(ws *Conn, ctx *Context)
	// Message runs for each complete data message; m's bytes are valid until it returns.
	Message func(ws *Conn, m Message)
	// Close runs once when the TCP connection is gone.
	Close func(ws *Conn, info CloseInfo)
	// Error runs when the server fails the connection (protocol violation, handler panic), just before
	// the close frame is queued.
	Error func(ws *Conn, err error)
	// Ping runs after the automatic pong; data is valid until it returns.
	Ping func(ws *Conn, data []byte)
	// Pong runs for each pong; data is valid until it returns.
	Pong func(ws *Conn, data []byte)
	// Events maps custom event types to handlers: a message {"type": T, ...} whose T is a key goes to
	// Events[T] instead of Message (see Conn.On).
	Events map[string]func(ws *Conn, e Event)
	// Drop runs after one or more messages for the connection were dropped by the slow-consumer policy
	// since it last ran.
	Drop func(ws *Conn)
	// Drain runs when a connection that had messages dropped has written its backlog down to half of
	// MaxBackpressure.
	Drain func(ws *Conn)

	// Options tune the route.
	Options RouteOptions
}

// wsRoute is a registered WebSocket route.
type wsRoute struct {
	pattern         string
	h               Handlers
	opts            RouteOptions
	maxMessage      int64 // < 0: no cap
	maxBackpressure int64 // < 0: no bound
	slowClose       bool
	roomOpts        rooms.RoomOptions
	origin          originPolicy
	maxFrame        int64      // 0: no cap
	maxFragments    int        // 0: no cap
	rate            *RateLimit // nil: no limit
	control         Rate       // PerSecond 0: no limit
	clocked         bool       // reads of inbound bytes read the clock (heartbeat or a limit)
	events          map[string]routeEvent
	protocols       []string
	compress        Compression
	render          uint8  // index+1 in App.renders of the route's Render; 0: none
	pingTicks       uint32 // 0: no pings
	idleTicks       uint32 // 0: no idle timeout
}

func (w *wsRoute) checkOrigin(ctx *Context) bool { return w.origin.check(ctx) }

// newWSRoute resolves a route's options against the App's config.
func (a *App) newWSRoute(path string, h Handlers) *wsRoute {
	o, cfg := h.Options, a.cfg
	ws := &wsRoute{pattern: path, h: h, opts: o}
	ws.origin = newOriginPolicy(cfg.CheckOrigin, cfg.AllowedOrigins, cfg.RejectMissingOrigin)
	if o.AllowedOrigins != nil || o.RejectMissingOrigin {
		ws.origin = newOriginPolicy(cfg.CheckOrigin, o.AllowedOrigins, o.RejectMissingOrigin)
	}
	if o.CheckOrigin != nil {
		ws.origin.custom = o.CheckOrigin
	}
	ws.maxFrame = pick(o.MaxFrameSize, cfg.MaxFrameSize)
	ws.maxFragments = pick(o.MaxFragments, cfg.MaxFragments)
	ws.rate = &a.cfg.RateLimit
	if o.RateLimit != nil {
		ws.rate = o.RateLimit
	}
	if !ws.rate.active() {
		ws.rate = nil
	}
	ws.control = cfg.ControlLimit
	if o.ControlLimit.PerSecond != 0 {
		ws.control = o.ControlLimit
	}
	if ws.control.PerSecond < 0 {
		ws.control = Rate{}
	}
	ws.maxMessage = pick(o.MaxMessageSize, cfg.MaxMessageSize)
	ws.maxBackpressure = pick(o.MaxBackpressure, cfg.MaxBackpressure)
	policy := cfg.SlowConsumer
	if o.SlowConsumer != SlowDefault {
		policy = o.SlowConsumer
	}
	ws.slowClose = policy == SlowClose
	ws.roomOpts = rooms.RoomOptions{
		Limit:   max(pick(o.MaxRoomMembers, cfg.MaxRoomMembers), 0),
		History: resolveHistory(inheritHistory(o.History, cfg.History)),
	}
	if o.Render != nil {
		if len(a.renders) == maxRenders {
			panic(fmt.Sprintf("engine: route %s: at most %d routes may set RouteOptions.Render", path, maxRenders))
		}
		a.renders = append(a.renders, renderHook{fn: o.Render, presence: o.PresenceEvents})
		ws.render = uint8(len(a.renders))
	}
	ws.compress = cfg.Compression
	if o.Compression != nil {
		ws.compress = *o.Compression
	}
	if ws.compress.Threshold <= 0 {
		ws.compress.Threshold = defaultThreshold
	}
	if t := int64(ws.compress.Threshold); ws.compress.Enabled &&
		(a.minThreshold.Load() == 0 || t < a.minThreshold.Load()) {
		a.minThreshold.Store(t) // broadcasts compress what at least one route would
	}
	ws.pingTicks = durTicks(pick(o.PingInterval, cfg.PingInterval))
	ws.idleTicks = durTicks(pick(o.IdleTimeout, cfg.IdleTimeout))
	ws.clocked = ws.beats() || ws.rate != nil || ws.control.PerSecond > 0
	ws.protocols = o.Subprotocols
	if len(ws.protocols) == 0 {
		ws.protocols = defaultSubprotocols
	}
	if len(ws.protocols) > maxSubprotocols {
		panic(fmt.Sprintf("engine: route %s lists %d subprotocols, at most %d", path, len(ws.protocols),
			maxSubprotocols))
	}
	if len(h.Events) > 0 {
		ws.events = make(map[string]routeEvent, len(h.Events))
		for typ, fn := range h.Events {
			checkEventName("Handlers.Events", typ)
			ws.events[typ] = routeEvent{typ, fn}
		}
	}
	return ws
}

// pick returns the route's value when set, else the App's.
func pick[T int | int64 | time.Duration](route, app T) T {
	if route != 0 {
		return route
	}
	return app
}

// WS registers a WebSocket route in the plugin's style (app.ws(path, (ws, ctx) => ...)): open runs for
// each new connection, on its loop, and usually registers that connection's callbacks (ws.OnMessage,
// ws.OnClose, ws.On, ...). For route options or handlers shared by every connection, use Route. It
// panics on a malformed pattern, a conflicting route, or after Start. Call it before Start, from one
// goroutine.
func (a *App) WS(path string, open func(ws *Conn, ctx *Context)) {
	a.Route(path, Handlers{Open: open})
}

// Route registers a WebSocket route with handlers shared by all its connections and its options
// (Handlers.Options). It panics on a malformed pattern, a conflicting route, a built-in event name in
// Handlers.Events, or after Start. Call it before Start, from one goroutine.
func (a *App) Route(path string, h Handlers) {
	a.addRoute(&route{method: methodWS, pattern: path, ws: a.newWSRoute(path, h)})
}

// Handle registers a plain HTTP route for method (HEAD, OPTIONS and the others without a shortcut
// below). GET routes also answer HEAD (without the body) unless a HEAD route is registered. It panics
// on a malformed pattern, a conflict, or after Start. Call it before Start, from one goroutine.
func (a *App) Handle(method, path string, h HandlerFunc) {
	if h == nil {
		panic(fmt.Sprintf("engine: nil handler for %s %s", method, path))
	}
	a.addRoute(&route{method: method, pattern: path, http: h})
}

// GET registers h for GET (and HEAD) requests to path. See Handle. Call it before Start, from one
// goroutine.
func (a *App) GET(path string, h HandlerFunc) { a.Handle(http.MethodGet, path, h) }

// POST registers h for POST requests to path. See Handle. Call it before Start, from one goroutine.
func (a *App) POST(path string, h HandlerFunc) { a.Handle(http.MethodPost, path, h) }

func (a *App) addRoute(rt *route) {
	if a.started.Load() {
		panic(fmt.Sprintf("engine: %s %s registered after Start", rt.method, rt.pattern))
	}
	a.router.add(rt)
}

// open turns an upgraded connection into a WebSocket and runs the route's Open handler.
func (c *Conn) open(rt *route, ctx *Context, proto string) {
	ws := rt.ws
	c.route = ws
	c.hs = nil
	c.flags |= flagUpgraded
	c.loop.unschedule(c)
	c.snapshotUpgrade(ctx, proto)
	if ws.opts.Presence {
		c.x().id = c.loop.app.ids.Add(1) // before any goroutine can list the connection
	}
	if proto == "msgpack" {
		c.mode |= codecMsgPack
	}
	c.loop.app.codecConns[c.codecIdx()].Add(1)
	c.loop.stats.upgrades.Add(1)
	c.armHeartbeat()
	c.setPhase(phaseOpen)
	c.fireOpen(ctx)
	if ws.opts.ReleaseContext {
		c.ctx.Store(nil) // nothing of the request left: keep the idle connection small
	}
}
