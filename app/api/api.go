// Package api serves the chat (package chat) over HTTP, on Echo: a
// versioned JSON API for the integrating site's users, authenticated by
// the tokens the site signs, with limits on request size and on the rate
// of sends per user and per app.
//
// Every error is a JSON object {"error": "..."} with a 4xx status that
// says what was wrong (401 bad token, 403 forbidden, 400 bad input, 404
// no such message, 413 too large, 429 too many, with Retry-After), a 503
// when this node cannot serve it now but another may (chat.ErrUnavailable,
// a shutdown, a store call cancelled or timed out), or a 500 whose cause
// is logged and not shown.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/ephemeral"
	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/repo"
)

// Limits of the API.
const (
	MaxBody = "64KiB" // a request body (a message of MaxText characters, JSON-escaped, fits)
	// DefaultUserRate and DefaultAppRate are the sends allowed per
	// RateWindow to one user in one conversation, and to one app.
	DefaultUserRate = 20
	DefaultAppRate  = 2000
	RateWindow      = 10 * time.Second
)

// Options configure the API.
type Options struct {
	// Limits counts sends for the rate limits: an ephemeral.Local for one
	// node, an ephemeral.Redis shared by all (nil: a Local of the API's
	// own).
	Limits ephemeral.Cache
	// UserRate and AppRate are the sends per RateWindow (0: the
	// defaults).
	UserRate, AppRate int64
	// Logger logs failures (nil: slog.Default()).
	Logger *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
	// Bus carries the conversations' events between the app's nodes
	// (nil: an in-process bus, for a single node).
	Bus pubsub.Bus
	// Node names this node in presence announcements ("": random).
	Node string
	// MaxUserConns is how many WebSocket connections one user of an app
	// may hold on this node at once (0: DefaultMaxUserConns).
	MaxUserConns int
	// PresenceBeat is how often the node announces who is connected
	// through it, and PresenceTTL how long others trust an announcement
	// (0: DefaultPresenceBeat, and three beats).
	PresenceBeat, PresenceTTL time.Duration
}

// DefaultPresenceBeat is how often a node announces its presence.
const DefaultPresenceBeat = 5 * time.Second

// DefaultMaxUserConns is how many WebSocket connections a user may hold
// on one node: tabs and devices, not a flood.
const DefaultMaxUserConns = 16

// Server is the API.
type Server struct {
	svc  *chat.Service
	opts Options
	log  *slog.Logger
	echo *echo.Echo
	hub  *hub
	// closeBus closes the bus New made (nil if the caller gave one).
	closeBus func() error
	// draining refuses new WebSocket connections during a shutdown;
	// conns counts the open ones (added to under connMu, which Shutdown
	// takes to set draining, so that none is added once it waits).
	draining atomic.Bool
	connMu   sync.Mutex
	conns    sync.WaitGroup
	// userConns counts each user's open connections (by app/user).
	userMu    sync.Mutex
	userConns map[string]int
}

// New returns the API over svc; mount it with Handler or Routes.
func New(svc *chat.Service, opts Options) (*Server, error) {
	if opts.Limits == nil {
		l, err := ephemeral.NewLocal(ephemeral.LocalOptions{})
		if err != nil {
			return nil, err
		}
		opts.Limits = l
	}
	if opts.UserRate == 0 {
		opts.UserRate = DefaultUserRate
	}
	if opts.AppRate == 0 {
		opts.AppRate = DefaultAppRate
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Node == "" {
		opts.Node = fmt.Sprintf("node-%08x", rand.Uint32())
	}
	if opts.MaxUserConns <= 0 {
		opts.MaxUserConns = DefaultMaxUserConns
	}
	if opts.PresenceBeat <= 0 {
		opts.PresenceBeat = DefaultPresenceBeat
	}
	if opts.PresenceTTL <= 0 {
		opts.PresenceTTL = 3 * opts.PresenceBeat
	}
	var closeBus func() error
	if opts.Bus == nil {
		local := pubsub.NewLocal()
		opts.Bus, closeBus = local, local.Close
	}
	s := &Server{svc: svc, opts: opts, log: opts.Logger, echo: echo.New(), hub: newHub(opts.Bus, opts.Logger, opts.Node, opts.PresenceBeat, opts.PresenceTTL), closeBus: closeBus,
		userConns: map[string]int{}}
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.Recover(), middleware.BodyLimit(MaxBody))
	e.GET("/v1/ws", s.websocket)
	v1 := e.Group("/v1", s.authenticate)
	v1.POST("/join", s.join)
	v1.POST("/messages", s.send)
	v1.GET("/messages", s.history)
	v1.GET("/messages/since", s.since)
	v1.GET("/messages/updates", s.updates)
	v1.PATCH("/messages/:id", s.edit)
	v1.POST("/messages/:id/hide", s.hide(true))
	v1.POST("/messages/:id/unhide", s.hide(false))
	v1.POST("/bans", s.ban)
	v1.DELETE("/bans/:user", s.unban)
	v1.POST("/read", s.read)
	v1.GET("/unread", s.unread)
	s.mountAdmin()
	return s, nil
}

// Shutdown refuses new WebSocket connections (503), tells the open ones
// to reconnect elsewhere, and waits (until ctx ends) for their handlers
// to end; call it when the node stops, before http.Server.Shutdown,
// which does not reach hijacked connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.connMu.Lock()
	s.draining.Store(true)
	s.connMu.Unlock()
	s.hub.closeAll()
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the server's presence heartbeat and releases what New made
// (its in-process bus).
func (s *Server) Close() error {
	s.hub.close()
	if s.closeBus != nil {
		return s.closeBus()
	}
	return nil
}

// Echo returns the Echo instance, for mounting more routes (the app's
// health checks, metrics, WebSocket and static files).
func (s *Server) Echo() *echo.Echo { return s.echo }

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// tokenKey is where authenticate leaves the request's token.
const tokenKey = "chat.token"

// authenticate checks the request's bearer token.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		if !ok {
			return fmt.Errorf("%w: no bearer token", chat.ErrToken)
		}
		tok, err := chat.ParseToken(c.Request().Context(), strings.TrimSpace(raw), s.svc.KeyFunc(), s.opts.Now())
		if err != nil {
			return err
		}
		c.Set(tokenKey, tok)
		return next(c)
	}
}

func token(c echo.Context) *chat.Token { return c.Get(tokenKey).(*chat.Token) }

// messageJSON is a message as the API shows it.
type messageJSON struct {
	ID       string `json:"id"`
	SID      string `json:"sid"` // the snowflake id, as a string (JSON numbers lose int64s)
	Pos      string `json:"pos"`
	User     string `json:"user"`
	Name     string `json:"name"`
	ClientID string `json:"client_id"`
	Text     string `json:"text"`
	Hidden   bool   `json:"hidden,omitempty"`
	// Version orders a message's updates: apply the one with the highest;
	// on a tie (concurrent changes on an AP store, merged) hidden wins.
	Version int64 `json:"version"`
	// Changed is the message's change cursor: a client keeps the
	// greatest it has seen and resumes updates from it (the WebSocket's
	// changed=, GET /v1/messages/updates?seen=).
	Changed  string     `json:"changed"`
	EditedAt *time.Time `json:"edited_at,omitempty"`
	SentAt   time.Time  `json:"sent_at"`
}

func toJSON(tok *chat.Token, m *chat.Message) messageJSON {
	return messageJSON{
		ID: m.Key, SID: strconv.FormatInt(m.ID, 10), Pos: strconv.FormatInt(m.Pos, 10),
		User: strings.TrimPrefix(m.User, tok.App+"/"), Name: m.Name, ClientID: m.ClientID,
		Text: m.Text, Hidden: m.Hidden, Version: m.Version, Changed: strconv.FormatInt(m.Cursor(), 10),
		EditedAt: m.EditedAt, SentAt: m.InsertedAt,
	}
}

func list(tok *chat.Token, ms []chat.Message) []messageJSON {
	out := make([]messageJSON, len(ms))
	for i := range ms {
		out[i] = toJSON(tok, &ms[i])
	}
	return out
}

func (s *Server) join(c echo.Context) error {
	tok := token(c)
	ctx := c.Request().Context()
	if err := s.svc.Join(ctx, tok); err != nil {
		return err
	}
	n, err := s.svc.Unread(ctx, tok)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{
		"user": tok.User, "name": tok.Name, "conversation": tok.Conversation, "role": tok.Role,
		"unread": n, "gap_free": s.svc.GapFree(), "expires": tok.Expires,
	})
}

type sendRequest struct {
	ClientID string `json:"client_id"`
	Text     string `json:"text"`
}

func (s *Server) send(c echo.Context) error {
	tok := token(c)
	var req sendRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	m, err := s.sendAndPublish(c.Request().Context(), tok, req.ClientID, req.Text)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

// rateError is a send refused by a rate limit, to retry after Retry
// seconds.
type rateError struct{ retry int }

func (e *rateError) Error() string { return "too many messages; retry later" }

// limitSend counts a send against the user's and the app's rate limits.
func (s *Server) limitSend(ctx context.Context, tok *chat.Token) error {
	window := s.opts.Now().UnixNano() / int64(RateWindow)
	for _, l := range []struct {
		key string
		max int64
	}{
		{fmt.Sprintf("rate:u:%s/%s/%s:%d", tok.App, tok.Conversation, tok.User, window), s.opts.UserRate},
		{fmt.Sprintf("rate:a:%s:%d", tok.App, window), s.opts.AppRate},
	} {
		n, err := s.opts.Limits.Incr(ctx, l.key, 1, 2*RateWindow)
		if err != nil {
			return err
		}
		if n > l.max {
			next := time.Unix(0, (window+1)*int64(RateWindow))
			return &rateError{retry: max(1, int(next.Sub(s.opts.Now()).Seconds()+0.999))}
		}
	}
	return nil
}

// position parses a position query parameter ("" is 0).
func position(c echo.Context, name string) (int64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s=%q is not a position", chat.ErrInput, name, v)
	}
	return n, nil
}

func limitParam(c echo.Context) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > chat.MaxHistory {
		return 0, fmt.Errorf("%w: limit=%q is not 1–%d", chat.ErrInput, v, chat.MaxHistory)
	}
	return n, nil
}

func (s *Server) history(c echo.Context) error {
	tok := token(c)
	before, err := position(c, "before")
	if err != nil {
		return err
	}
	n, err := limitParam(c)
	if err != nil {
		return err
	}
	ms, err := s.svc.History(c.Request().Context(), tok, before, n)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"messages": list(tok, ms)})
}

func (s *Server) since(c echo.Context) error {
	tok := token(c)
	after, err := position(c, "after")
	if err != nil {
		return err
	}
	n, err := limitParam(c)
	if err != nil {
		return err
	}
	ms, err := s.svc.Since(c.Request().Context(), tok, after, n)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"messages": list(tok, ms)})
}

// updates serves GET /v1/messages/updates?seen=CURSOR (the greatest
// change cursor the client has seen: the overlap window before it is
// re-read) or ?after=NEXT (the next of the previous page): the messages
// edited, hidden or shown since, and where to go on from.
func (s *Server) updates(c echo.Context) error {
	tok := token(c)
	seen, err := position(c, "seen")
	if err != nil {
		return err
	}
	after, err := position(c, "after")
	if err != nil {
		return err
	}
	if seen > 0 && after > 0 {
		return fmt.Errorf("%w: give seen= or after=, not both", chat.ErrInput)
	}
	if seen > 0 {
		after = s.svc.UpdatesFrom(seen)
	}
	ms, next, more, err := s.svc.Updates(c.Request().Context(), tok, after)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"messages": list(tok, ms), "next": strconv.FormatInt(next, 10), "more": more})
}

func (s *Server) edit(c echo.Context) error {
	tok := token(c)
	var req struct {
		Text string `json:"text"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	if err := s.limitSend(c.Request().Context(), tok); err != nil {
		return err
	}
	m, err := s.svc.Edit(c.Request().Context(), tok, c.Param("id"), req.Text)
	if err != nil {
		return err
	}
	mj := toJSON(tok, m)
	s.announce(c.Request().Context(), tok, event{Type: "update", Message: &mj})
	return c.JSON(http.StatusOK, mj)
}

func (s *Server) hide(hidden bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok := token(c)
		m, err := s.svc.SetHidden(c.Request().Context(), tok, c.Param("id"), hidden)
		if err != nil {
			return err
		}
		mj := toJSON(tok, m)
		s.announce(c.Request().Context(), tok, event{Type: "update", Message: &mj})
		return c.JSON(http.StatusOK, mj)
	}
}

func (s *Server) ban(c echo.Context) error {
	var req struct {
		User    string `json:"user"`
		Seconds int64  `json:"seconds"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	if req.Seconds <= 0 || req.Seconds > int64(chat.MaxBan/time.Second) {
		return fmt.Errorf("%w: seconds must be 1–%d", chat.ErrInput, int64(chat.MaxBan/time.Second))
	}
	if err := s.svc.Ban(c.Request().Context(), token(c), req.User, time.Duration(req.Seconds)*time.Second); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) unban(c echo.Context) error {
	if err := s.svc.Unban(c.Request().Context(), token(c), c.Param("user")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) read(c echo.Context) error {
	var req struct {
		Pos string `json:"pos"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	pos, err := strconv.ParseInt(req.Pos, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: pos %q is not a position", chat.ErrInput, req.Pos)
	}
	if err := s.svc.MarkRead(c.Request().Context(), token(c), pos); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) unread(c echo.Context) error {
	n, err := s.svc.Unread(c.Request().Context(), token(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"unread": n})
}

// bind decodes a JSON body strictly.
func bind(c echo.Context, v any) error {
	if ct := c.Request().Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return &apiError{status: http.StatusUnsupportedMediaType, msg: "send JSON (Content-Type: application/json)"}
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields() // a misspelt field is an error, not a default
	// A failed read (the body limit's 413, for a body sent without its
	// length) comes back from the decoder as it is, and answers as such.
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: bad JSON body: %w", chat.ErrInput, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("more after the JSON value")
		}
		return fmt.Errorf("%w: bad JSON body: %w", chat.ErrInput, err)
	}
	return nil
}

// apiError is an error with its HTTP status and public message (and the
// seconds to retry after, if set).
type apiError struct {
	status int
	msg    string
	retry  int
}

func (e *apiError) Error() string { return e.msg }

// handleError answers an error as JSON with the status its kind says.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := s.status(err)
	var re *rateError
	var ae *apiError
	if errors.As(err, &re) {
		c.Response().Header().Set("Retry-After", strconv.Itoa(re.retry))
	} else if errors.As(err, &ae) && ae.retry > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(ae.retry))
	}
	if status >= 500 || status == http.StatusUnauthorized {
		s.log.LogAttrs(c.Request().Context(), levelOf(status), "chat api", slog.Int("status", status),
			slog.String("path", c.Path()), slog.Any("error", err))
	}
	if err := c.JSON(status, map[string]string{"error": msg}); err != nil {
		s.log.Warn("chat api: writing an error", "error", err)
	}
}

// status returns the HTTP status of an error and the message a client
// may see.
func (s *Server) status(err error) (int, string) {
	var ae *apiError
	var he *echo.HTTPError
	var re *rateError
	switch {
	case errors.As(err, &ae):
		return ae.status, ae.msg
	case errors.As(err, &re):
		return http.StatusTooManyRequests, re.Error()
	case errors.As(err, &he):
		if he.Code == http.StatusRequestEntityTooLarge {
			return he.Code, "request body larger than " + MaxBody
		}
		return he.Code, http.StatusText(he.Code)
	case errors.Is(err, chat.ErrToken):
		return http.StatusUnauthorized, "invalid or expired token"
	case errors.Is(err, chat.ErrForbidden):
		return http.StatusForbidden, publicMessage(err)
	case errors.Is(err, chat.ErrInput), errors.Is(err, repo.ErrInvalid):
		return http.StatusBadRequest, publicMessage(err)
	case errors.Is(err, chat.ErrUnavailable):
		return http.StatusServiceUnavailable, publicMessage(err)
	case errors.Is(err, repo.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "request cancelled or timed out"
	}
	return http.StatusInternalServerError, "internal error"
}

func levelOf(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}

// publicMessage is the part of a chat error meant for the client: the
// text after the last "chat: <kind>: " prefix.
func publicMessage(err error) string {
	msg := err.Error()
	for _, kind := range []error{chat.ErrForbidden, chat.ErrInput, chat.ErrUnavailable, repo.ErrInvalid} {
		if i := strings.LastIndex(msg, kind.Error()+": "); i >= 0 {
			return msg[i+len(kind.Error())+2:]
		}
	}
	return msg
}
