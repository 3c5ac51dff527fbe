package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/strata-go/strata/app/chat"
)

// WebSocket limits.
const (
	wsReadLimit  = 64 << 10         // a client frame (a message of MaxText characters, JSON-escaped, fits)
	wsQueue      = 256              // events waiting for a slow client before it is dropped
	wsBatch      = 64               // events coalesced into one frame at most
	wsFrameBytes = 32 << 10         // and their size, about (a frame of one event may be larger)
	wsWriteLimit = 10 * time.Second // one frame's write
	wsPing       = 30 * time.Second
	maxSeen      = 4096                   // message ids remembered for de-duplication
	tailPage     = 50                     // messages sent first to a client without a position
	typingEvery  = 2 * time.Second        // a connection's typing events, at most
	readEvery    = 200 * time.Millisecond // a connection's read positions, at most
)

// client is one WebSocket connection. The handler's goroutine reads the
// client's frames; events are sent, in order and coalesced, by a writer
// goroutine that runs only while there is something to send (the first
// catch-up, then whenever events wait) and is owned by the handler,
// which waits for it: an idle connection holds no goroutine but its
// reader.
type client struct {
	s    *Server
	tok  *chat.Token
	conn *websocket.Conn
	ctx  context.Context    // the connection's; cancel ends it
	stop context.CancelFunc // (nil in tests of enqueue alone)
	st   *stream            // what the client has been sent: the writer's alone

	mu      sync.Mutex
	queue   []event
	writing bool // a writer is running: it drains queue before it exits
	slow    bool // dropped for falling behind, or failed: nothing more is sent
	done    bool // the connection is ending: no writer starts
	ping    *time.Timer
	wg      sync.WaitGroup // the writers
}

// enqueue hands the writer an event (starting one if none runs), or
// drops a client that has fallen too far behind (it reconnects and
// catches up from the store).
func (c *client) enqueue(e event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.slow || c.done {
		return
	}
	if e.Type == "presence" {
		// Only the latest list of who is online matters: replace a
		// waiting one rather than queue another (a room's joins would
		// otherwise fill every client's queue).
		for i := range c.queue {
			if c.queue[i].Type == "presence" {
				c.queue[i] = e
				return
			}
		}
	}
	if len(c.queue) >= wsQueue {
		// At once, not with a close handshake: the writer may be stuck
		// in a write to this client, holding the connection's write
		// lock that a close frame would wait for.
		c.slow = true
		c.conn.CloseNow()
		return
	}
	c.queue = append(c.queue, e)
	if !c.writing {
		c.writing = true
		c.wg.Go(c.drain)
	}
}

// drain sends what waits in the queue until it is empty, then ends.
func (c *client) drain() {
	for {
		c.mu.Lock()
		batch := c.queue
		c.queue = nil
		if len(batch) == 0 {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if err := c.handle(batch); err != nil {
			c.fail(err)
			return
		}
	}
}

// fail ends the connection after the writer's error: nothing more is
// queued or sent, and the reader returns.
func (c *client) fail(err error) {
	c.mu.Lock()
	c.slow = true
	c.queue = nil
	c.mu.Unlock()
	if c.ctx.Err() == nil {
		c.s.log.Debug("chat ws: writer ended", "error", err)
	}
	c.stop()
}

// close stops new writers and the ping timer, and waits for a running
// writer (which ends soon: the connection's context is done).
func (c *client) close() {
	c.mu.Lock()
	c.done = true
	if c.ping != nil {
		c.ping.Stop()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// pingDue queues a ping (the writer sends it, in turn with the events)
// and re-arms itself.
func (c *client) pingDue() {
	c.enqueue(event{Type: pingEvent})
	c.mu.Lock()
	if !c.done {
		c.ping.Reset(wsPing)
	}
	c.mu.Unlock()
}

// pingEvent is the queue's entry for a ping: never sent as an event.
const pingEvent = "ping"

// frame is what the server sends a client: events, an ack of a send, or
// an error.
type frame struct {
	Type     string       `json:"type"` // "events", "ack", "error"
	Events   []event      `json:"events,omitempty"`
	ClientID string       `json:"client_id,omitempty"`
	Message  *messageJSON `json:"message,omitempty"`
	Error    string       `json:"error,omitempty"`
	Status   int          `json:"status,omitempty"`
}

// request is what a client sends: a message to post, that its user is
// typing, or a read position.
type request struct {
	Type     string `json:"type"` // "send", "typing", "read"
	ClientID string `json:"client_id"`
	Text     string `json:"text"`
	Pos      string `json:"pos"`
}

// websocket serves GET /v1/ws?token=…&after=POS&changed=CURSOR: the
// conversation's messages after position POS (without after=, the
// latest page of them), the updates (edits,
// hides) of its messages after change cursor CURSOR (the greatest
// "changed" the client has seen), then its live events; and the
// client's sends. (A browser cannot set headers on a WebSocket, hence
// the token in the query.)
func (s *Server) websocket(c echo.Context) error {
	if s.draining.Load() {
		return &apiError{status: http.StatusServiceUnavailable, msg: "this node is shutting down; connect to another"}
	}
	ctx := c.Request().Context()
	tok, err := chat.ParseToken(ctx, c.QueryParam("token"), s.svc.KeyFunc(), s.opts.Now())
	if err != nil {
		return err
	}
	after := int64(-1) // no after=: the latest page first
	if c.QueryParams().Has("after") {
		if after, err = position(c, "after"); err != nil {
			return err
		}
	}
	changed, err := position(c, "changed")
	if err != nil {
		return err
	}
	if err := checkUpgrade(c); err != nil {
		return err
	}
	release, err := s.holdConn(tok)
	if err != nil {
		return err
	}
	handedOff := false
	defer func() {
		if !handedOff {
			release()
		}
	}()
	if err := s.svc.Join(ctx, tok); err != nil {
		return err
	}
	conn, err := websocket.Accept(c.Response(), c.Request(), &websocket.AcceptOptions{
		// The token authenticates; the widget runs on other sites' pages.
		OriginPatterns: []string{"*"},
	})
	if err != nil {
		return nil // Accept has answered
	}
	conn.SetReadLimit(wsReadLimit)
	// From here a goroutine of the connection's own serves it, owned by
	// the server (Shutdown waits for it), and the handler returns:
	// net/http leaves a hijacked connection alone, and the handler's
	// goroutine — its stack grown by the token check and the store — is
	// not kept for the connection's life.
	s.connMu.Lock()
	if s.draining.Load() {
		s.connMu.Unlock()
		conn.Close(websocket.StatusGoingAway, "node shutting down: reconnect")
		return nil
	}
	s.conns.Add(1)
	s.connMu.Unlock()
	handedOff = true
	go func() {
		defer s.conns.Done()
		defer release()
		s.serveConn(tok, conn, after, changed)
	}()
	return nil
}

// checkUpgrade refuses, with a JSON error like the API's others, a
// request that is not a WebSocket handshake the server can accept
// (websocket.Accept would answer it in plain text).
func checkUpgrade(c echo.Context) error {
	h := c.Request().Header
	switch {
	case !headerHas(h, "Connection", "upgrade") || !headerHas(h, "Upgrade", "websocket"):
		c.Response().Header().Set("Upgrade", "websocket")
		return &apiError{status: http.StatusUpgradeRequired, msg: "connect with a WebSocket"}
	case h.Get("Sec-WebSocket-Version") != "13":
		c.Response().Header().Set("Sec-WebSocket-Version", "13")
		return &apiError{status: http.StatusUpgradeRequired, msg: "WebSocket version 13 only"}
	case h.Get("Sec-WebSocket-Key") == "":
		return &apiError{status: http.StatusBadRequest, msg: "WebSocket handshake without Sec-WebSocket-Key"}
	}
	return nil
}

// headerHas reports whether header name lists token (case-insensitive).
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// serveConn serves an accepted connection until it ends: its live
// events and catch-ups (the writer), and its frames (read here).
func (s *Server) serveConn(tok *chat.Token, conn *websocket.Conn, after, changed int64) {
	defer conn.CloseNow()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("chat ws: panic serving a connection", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	// The connection lives as long as its token: the client reconnects
	// with a fresh one.
	ctx, cancel := context.WithDeadline(context.Background(), tok.Expires)
	defer cancel()
	cl := &client{s: s, tok: tok, conn: conn, ctx: ctx, stop: cancel,
		st:      &stream{last: after, changed: changed, seen: map[string]struct{}{}},
		writing: true} // the first writer catches up, below
	defer cl.close()
	// Live events first, so that none falls between the catch-up and
	// the stream (the writer drops what the catch-up already sent).
	if err := s.hub.join(ctx, cl); err != nil {
		conn.Close(websocket.StatusTryAgainLater, "the bus is unavailable")
		return
	}
	defer s.hub.leave(cl)
	if s.draining.Load() {
		// Shutdown began, and its goodbyes may have missed this
		// connection, which was not in the hub yet.
		conn.Close(websocket.StatusGoingAway, "node shutting down: reconnect")
		return
	}
	cl.wg.Go(func() {
		if err := cl.catchUpFirst(after, changed); err != nil {
			cl.fail(err)
			return
		}
		cl.drain()
	})
	cl.mu.Lock()
	cl.ping = time.AfterFunc(wsPing, cl.pingDue)
	cl.mu.Unlock()
	cl.read(ctx)
	cancel()
}

// holdConn counts a connection of the token's user, or refuses it (429)
// past Options.MaxUserConns; release uncounts it.
func (s *Server) holdConn(tok *chat.Token) (release func(), err error) {
	key := tok.App + "/" + tok.User
	s.userMu.Lock()
	defer s.userMu.Unlock()
	if s.userConns[key] >= s.opts.MaxUserConns {
		return nil, &apiError{status: http.StatusTooManyRequests, msg: fmt.Sprintf("at most %d connections per user", s.opts.MaxUserConns), retry: 5}
	}
	s.userConns[key]++
	return func() {
		s.userMu.Lock()
		defer s.userMu.Unlock()
		if s.userConns[key]--; s.userConns[key] == 0 {
			delete(s.userConns, key)
		}
	}, nil
}

// read serves the client's frames until the connection ends.
func (c *client) read(ctx context.Context) {
	var lastTyping, lastRead time.Time
	for {
		_, data, err := c.conn.Read(ctx)
		if err != nil {
			return
		}
		var req request
		if err := json.Unmarshal(data, &req); err != nil {
			c.reply(ctx, frame{Type: "error", Error: "bad JSON", Status: http.StatusBadRequest})
			continue
		}
		switch req.Type {
		case "send":
			// A store that cannot say whether the token's key is still
			// valid is a 5xx, which the client resends.
			err := c.s.stillValid(ctx, c.tok)
			if errors.Is(err, chat.ErrToken) {
				c.reply(ctx, frame{Type: "error", ClientID: req.ClientID, Error: "token no longer valid", Status: http.StatusUnauthorized})
				return
			}
			var m *messageJSON
			if err == nil {
				m, err = c.s.sendAndPublish(ctx, c.tok, req.ClientID, req.Text)
			}
			if err != nil {
				c.replyError(ctx, req.ClientID, err)
				continue
			}
			c.reply(ctx, frame{Type: "ack", ClientID: req.ClientID, Message: m})
		case "typing":
			if now := time.Now(); now.Sub(lastTyping) >= typingEvery {
				lastTyping = now
				c.s.hub.publish(ctx, c.tok, event{Type: "typing", User: &person{ID: c.tok.User, Name: c.tok.Name}})
			}
		case "read":
			if now := time.Now(); now.Sub(lastRead) < readEvery {
				c.reply(ctx, frame{Type: "error", Error: "read positions too often", Status: http.StatusTooManyRequests})
				continue
			} else {
				lastRead = now
			}
			pos, err := strconv.ParseInt(req.Pos, 10, 64)
			if err != nil {
				err = fmt.Errorf("%w: pos must be a position (a decimal integer)", chat.ErrInput)
			} else {
				err = c.s.svc.MarkRead(ctx, c.tok, pos)
			}
			if err != nil {
				c.replyError(ctx, "", err)
			}
		default:
			c.reply(ctx, frame{Type: "error", Error: "unknown request type", Status: http.StatusBadRequest})
		}
	}
}

// replyError answers a request (of client id clientID, for a send) with
// err's status and public message, as the HTTP API does, logging the
// cause of a 5xx.
func (c *client) replyError(ctx context.Context, clientID string, err error) {
	st, msg := c.s.status(err)
	if st >= 500 {
		c.s.log.LogAttrs(ctx, levelOf(st), "chat ws", slog.Int("status", st), slog.Any("error", err))
	}
	c.reply(ctx, frame{Type: "error", ClientID: clientID, Error: msg, Status: st})
}

// reply sends a frame from the reader's goroutine (coder/websocket
// allows one concurrent writer besides the writer goroutine's: writes
// are serialized by the library).
func (c *client) reply(ctx context.Context, f frame) {
	ctx, cancel := context.WithTimeout(ctx, wsWriteLimit)
	defer cancel()
	b, _ := json.Marshal(f)
	_ = c.conn.Write(ctx, websocket.MessageText, b)
}

// catchUpFirst sends the client the conversation after position after
// (or its latest page, if after < 0) and the updates after change cursor
// changed: what it missed before its live events.
func (c *client) catchUpFirst(after, changed int64) error {
	st := c.st
	if after < 0 {
		if err := c.tail(c.ctx, st); err != nil {
			return err
		}
	}
	// Updates first: the messages' catch-up raises the change cursor
	// (the client's too) past edits it has not been sent yet. A new
	// client has every message as it is now.
	if changed > 0 {
		if err := c.catchUpUpdates(c.ctx, st, changed); err != nil {
			return err
		}
	}
	return c.catchUp(c.ctx, st, st.last)
}

// handle sends a batch of queued events, catching up from the store
// again whenever the client may have missed some (a position skipped, or
// the bus said so), and pings.
func (c *client) handle(batch []event) error {
	ctx, st := c.ctx, c.st
	var out []event
	for _, e := range batch {
		switch {
		case e.Type == pingEvent:
			// A key disabled since the connection began ends it.
			if err := c.s.stillValid(ctx, c.tok); errors.Is(err, chat.ErrToken) {
				c.conn.Close(websocket.StatusPolicyViolation, "token no longer valid")
				return err
			} else if err != nil {
				// The store cannot say; the next ping asks again.
				c.s.log.Warn("chat ws: checking a token's key", "error", err)
			}
			pctx, cancel := context.WithTimeout(ctx, wsWriteLimit)
			err := c.conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		case e.Type == "resync":
			// From where the stream is, or from the earliest event
			// a node failed to publish, if that is before: traffic
			// from the other nodes may have moved the stream on.
			if err := c.send(ctx, out); err != nil {
				return err
			}
			out = nil
			from := st.changed
			if e.From != nil && e.From.Changed > 0 {
				from = min(from, e.From.Changed)
			}
			if err := c.catchUpUpdates(ctx, st, from); err != nil {
				return err
			}
			pos := st.last
			if e.From != nil && e.From.Pos > 0 {
				pos = min(pos, e.From.Pos-1)
			}
			if err := c.catchUp(ctx, st, pos); err != nil {
				return err
			}
		case e.Type == "update":
			st.changes(e.Message)
			out = append(out, c.visible(e))
		case e.Type != "message":
			out = append(out, c.visible(e)) // presence, typing
		case st.have(e.Message), c.s.svc.GapFree() && st.pos(e.Message) <= st.last:
			// Had it (from the catch-up), or before the position
			// the client came from.
		case c.s.svc.GapFree() && st.pos(e.Message) > st.last+1:
			// A position was skipped: the bus lost an event, or
			// this one overtook it. The store has both.
			if err := c.send(ctx, out); err != nil {
				return err
			}
			out = nil
			if err := c.catchUp(ctx, st, st.last); err != nil {
				return err
			}
		default:
			st.add(e.Message)
			out = append(out, c.visible(e))
		}
	}
	return c.send(ctx, out)
}

// catchUp sends what the store has after position from (the stream's,
// or before it on a resync), dropping what the stream has had.
func (c *client) catchUp(ctx context.Context, st *stream, from int64) error {
	for {
		ms, err := c.s.svc.Since(ctx, c.tok, from, chat.MaxHistory)
		if err != nil {
			return err
		}
		var out []event
		after := 0 // messages of the page after from (the rest: the overlap window)
		for i := range ms {
			if ms[i].Pos > from {
				after++
			}
			if ms[i].Pos < st.floor {
				continue // before the latest page a new client was sent
			}
			mj := toJSON(c.tok, &ms[i])
			if st.have(&mj) {
				continue
			}
			st.add(&mj)
			out = append(out, event{Type: "message", Message: &mj})
		}
		if err := c.send(ctx, out); err != nil {
			return err
		}
		if after < chat.MaxHistory {
			return nil
		}
		from = ms[len(ms)-1].Pos
	}
}

// tail sends a client that comes without a position the latest page of
// the conversation (older pages are GET /v1/messages?before=), and
// starts its stream after it.
func (c *client) tail(ctx context.Context, st *stream) error {
	st.last = 0
	ms, err := c.s.svc.History(ctx, c.tok, 0, tailPage)
	if err != nil {
		return err
	}
	if len(ms) > 0 {
		st.floor = ms[len(ms)-1].Pos
	}
	out := make([]event, 0, len(ms))
	for i := len(ms) - 1; i >= 0; i-- {
		mj := toJSON(c.tok, &ms[i])
		st.add(&mj)
		out = append(out, event{Type: "message", Message: &mj})
	}
	return c.send(ctx, out)
}

// catchUpUpdates sends the updates the store has after the stream's
// change cursor (re-reading the overlap window before it).
func (c *client) catchUpUpdates(ctx context.Context, st *stream, from int64) error {
	if from == 0 {
		return nil // the client has no message yet
	}
	after := c.s.svc.UpdatesFrom(from)
	for {
		ms, next, more, err := c.s.svc.Updates(ctx, c.tok, after)
		if err != nil {
			return err
		}
		out := make([]event, 0, len(ms))
		for i := range ms {
			mj := toJSON(c.tok, &ms[i])
			st.changes(&mj)
			out = append(out, event{Type: "update", Message: &mj})
		}
		if err := c.send(ctx, out); err != nil {
			return err
		}
		if !more {
			return nil
		}
		after = next
	}
}

// visible blanks a hidden message's text for a member.
func (c *client) visible(e event) event {
	if e.Message != nil && e.Message.Hidden && c.tok.Role != chat.RoleModerator {
		m := *e.Message
		m.Text = ""
		e.Message = &m
		e.raw = nil // the moderators' encoding
	}
	return e
}

// send writes events in frames of at most wsBatch events and
// wsFrameBytes of JSON (a frame of one event may be larger).
func (c *client) send(ctx context.Context, events []event) error {
	const head, tail = `{"type":"events","events":[`, `]}`
	var buf []byte
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		buf = append(buf, tail...)
		wctx, cancel := context.WithTimeout(ctx, wsWriteLimit)
		defer cancel()
		err := c.conn.Write(wctx, websocket.MessageText, buf)
		buf, n = buf[:0], 0
		return err
	}
	for i := range events {
		b, err := events[i].encode()
		if err != nil {
			return err
		}
		if n > 0 && (n == wsBatch || len(buf)+1+len(b)+len(tail) > wsFrameBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		if n == 0 {
			buf = append(buf, head...)
		} else {
			buf = append(buf, ',')
		}
		buf = append(buf, b...)
		n++
	}
	return flush()
}

// stream is what a client has been sent: the greatest position, and the
// ids of the messages (for the overlap window of stores without gap-free
// positions, and for events that arrive after the catch-up sent them).
type stream struct {
	last    int64
	floor   int64 // the oldest position of a new client's first page
	changed int64 // the greatest change cursor sent
	seen    map[string]struct{}
	order   []string
}

// changes records a message's change cursor.
func (st *stream) changes(m *messageJSON) {
	c, _ := strconv.ParseInt(m.Changed, 10, 64)
	st.changed = max(st.changed, c)
}

func (st *stream) pos(m *messageJSON) int64 {
	p, _ := strconv.ParseInt(m.Pos, 10, 64)
	return p
}

func (st *stream) have(m *messageJSON) bool {
	_, ok := st.seen[m.ID]
	return ok
}

func (st *stream) add(m *messageJSON) {
	st.seen[m.ID] = struct{}{}
	st.order = append(st.order, m.ID)
	if len(st.order) > maxSeen {
		delete(st.seen, st.order[0])
		st.order = st.order[1:]
	}
	st.last = max(st.last, st.pos(m))
	st.changes(m)
}

// sendAndPublish stores a message (rate-limited) and tells every node.
func (s *Server) sendAndPublish(ctx context.Context, tok *chat.Token, clientID, text string) (*messageJSON, error) {
	if err := s.limitSend(ctx, tok); err != nil {
		return nil, err
	}
	m, err := s.svc.Send(ctx, tok, clientID, text)
	if err != nil {
		return nil, err
	}
	mj := toJSON(tok, m)
	if m.Fresh { // a retry's answer was announced by the first attempt
		s.announce(ctx, tok, event{Type: "message", Message: &mj})
	}
	return &mj, nil
}

// announce publishes an event of a change that has been stored, even if
// the request that made it has ended.
func (s *Server) announce(ctx context.Context, tok *chat.Token, e event) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wsWriteLimit)
	defer cancel()
	s.hub.publish(ctx, tok, e)
}

// stillValid reports whether a token's key is still enabled (a site that
// disables a key ends the connections it signed).
func (s *Server) stillValid(ctx context.Context, tok *chat.Token) error {
	if s.opts.Now().After(tok.Expires) {
		return chat.ErrToken
	}
	_, err := s.svc.KeyFunc()(ctx, tok.App, tok.KeyID)
	return err
}
