// Package chatclient is a Go client of the chat's WebSocket protocol
// that behaves as the widget does: it connects to one of the chat's
// nodes, fails over to the next when its connection ends, resumes from
// the last position and change cursor it saw, drops what it already has
// (by message id), and keeps unacknowledged sends in an outbox that it
// resends with their client ids. The multi-node tests and the load
// generator run it; it is internal because the protocol's public
// description is the README and the widget.
package chatclient

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Message is a message as the chat sends it.
type Message struct {
	ID       string `json:"id"`
	SID      string `json:"sid"`
	Pos      string `json:"pos"`
	User     string `json:"user"`
	Name     string `json:"name"`
	ClientID string `json:"client_id"`
	Text     string `json:"text"`
	Hidden   bool   `json:"hidden"`
	Version  int64  `json:"version"`
	Changed  string `json:"changed"`
}

// Person is a user in a presence list.
type Person struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type event struct {
	Type    string   `json:"type"`
	Message *Message `json:"message"`
	Users   []Person `json:"users"`
	User    *Person  `json:"user"`
}

type frame struct {
	Type     string   `json:"type"`
	Events   []event  `json:"events"`
	ClientID string   `json:"client_id"`
	Message  *Message `json:"message"`
	Error    string   `json:"error"`
	Status   int      `json:"status"`
}

// Options configure a Client.
type Options struct {
	// Nodes are the chat nodes' base URLs (http://host:port); the client
	// starts at Nodes[Start % len] and fails over in order.
	Nodes []string
	Start int
	// Token is the user's token.
	Token string
	// OnMessage is called, from the client's reader, once for each
	// message the client gets, with when it got it (not on a
	// connection's re-delivery of a message it had).
	OnMessage func(m Message, at time.Time)
	// OnAck is called when a send is acknowledged (with the stored
	// message), and OnRefused when the chat refuses it for good (4xx
	// other than 429, which the outbox retries).
	OnAck     func(clientID string, m Message, at time.Time)
	OnRefused func(clientID string, status int, msg string)
	// OnPresence is called with each list of who is online.
	OnPresence func(users []Person)
	// Retry is the wait before reconnecting to the next node after a
	// failed dial, and the first wait before resending a send the chat
	// answered with 429 or 5xx (0: 50 ms); MaxRetry bounds the resends'
	// backoff (0: 5 s).
	Retry    time.Duration
	MaxRetry time.Duration
	// ReadLimit bounds a frame (0: 1 MiB).
	ReadLimit int64
}

// Client is one user's connection to the chat, across nodes.
type Client struct {
	o Options

	mu        sync.Mutex
	conn      *websocket.Conn
	node      string
	last      int64 // the greatest position seen
	changed   int64 // the greatest change cursor seen
	have      map[string]bool
	outbox    map[string]string // client id → text, until acknowledged
	attempts  map[string]int    // client id → 429 and 5xx answers so far
	order     []string          // outbox in send order
	dups      int               // messages delivered twice on one connection
	connects  int
	connected chan struct{} // closed while connected
}

// New returns a client; Run connects it.
func New(o Options) *Client {
	if o.Retry <= 0 {
		o.Retry = 50 * time.Millisecond
	}
	if o.MaxRetry <= 0 {
		o.MaxRetry = 5 * time.Second
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = 1 << 20
	}
	return &Client{o: o, have: map[string]bool{}, outbox: map[string]string{}, attempts: map[string]int{}, connected: make(chan struct{})}
}

// Run connects and reconnects, failing over between nodes, until ctx
// ends.
func (c *Client) Run(ctx context.Context) error {
	for i := c.o.Start; ctx.Err() == nil; i++ {
		node := c.o.Nodes[i%len(c.o.Nodes)]
		if err := c.session(ctx, node); err != nil && ctx.Err() == nil {
			select {
			case <-time.After(c.o.Retry):
			case <-ctx.Done():
			}
		}
	}
	return ctx.Err()
}

// session serves one connection to node until it ends.
func (c *Client) session(ctx context.Context, node string) error {
	c.mu.Lock()
	u := "ws" + strings.TrimPrefix(node, "http") + "/v1/ws?token=" + url.QueryEscape(c.o.Token)
	if c.last > 0 || c.changed > 0 {
		u += "&after=" + strconv.FormatInt(c.last, 10) + "&changed=" + strconv.FormatInt(c.changed, 10)
	}
	c.mu.Unlock()
	conn, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	conn.SetReadLimit(c.o.ReadLimit)
	seen := map[string]bool{} // this connection's messages
	// Resends after a backoff belong to this connection: they stop,
	// and are waited for, when it ends.
	sctx, cancel := context.WithCancel(ctx)
	retries := &timers{}
	defer retries.stop()
	defer cancel()
	c.mu.Lock()
	c.conn, c.node = conn, node
	c.connects++
	close(c.connected)
	pending := slices.Clone(c.order)
	texts := make([]string, len(pending))
	for i, id := range pending {
		texts[i] = c.outbox[id]
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.conn, c.node = nil, ""
		c.connected = make(chan struct{})
		c.mu.Unlock()
	}()
	for i, id := range pending {
		if err := write(ctx, conn, id, texts[i]); err != nil {
			return err
		}
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		at := time.Now()
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			return err
		}
		switch f.Type {
		case "events":
			for _, e := range f.Events {
				c.event(e, seen, at)
			}
		case "ack":
			c.mu.Lock()
			_, was := c.outbox[f.ClientID]
			c.dropOutbox(f.ClientID)
			c.mu.Unlock()
			if was && c.o.OnAck != nil && f.Message != nil {
				c.o.OnAck(f.ClientID, *f.Message, at)
			}
		case "error":
			if f.ClientID == "" {
				continue
			}
			if f.Status == 429 || f.Status >= 500 {
				// The outbox resends it on the next connection, and on
				// this one after a backoff.
				retries.after(c.backoff(f.ClientID), func() { c.resend(sctx, f.ClientID) })
				continue
			}
			c.mu.Lock()
			c.dropOutbox(f.ClientID)
			c.mu.Unlock()
			if c.o.OnRefused != nil {
				c.o.OnRefused(f.ClientID, f.Status, f.Error)
			}
		}
	}
}

func (c *Client) event(e event, seen map[string]bool, at time.Time) {
	switch e.Type {
	case "presence":
		if c.o.OnPresence != nil {
			c.o.OnPresence(e.Users)
		}
		return
	case "message", "update":
	default:
		return
	}
	m := e.Message
	if m == nil {
		return
	}
	c.mu.Lock()
	if ch, _ := strconv.ParseInt(m.Changed, 10, 64); ch > c.changed {
		c.changed = ch
	}
	if e.Type != "message" {
		c.mu.Unlock()
		return
	}
	if seen[m.ID] {
		c.dups++
	}
	seen[m.ID] = true
	if p, _ := strconv.ParseInt(m.Pos, 10, 64); p > c.last {
		c.last = p
	}
	fresh := !c.have[m.ID]
	c.have[m.ID] = true
	c.mu.Unlock()
	if fresh && c.o.OnMessage != nil {
		c.o.OnMessage(*m, at)
	}
}

// backoff returns how long to wait before resending a send the chat
// answered with 429 or 5xx: doubling from Retry with each answer, to at
// most MaxRetry, with jitter so that clients refused together do not
// come back together.
func (c *Client) backoff(id string) time.Duration {
	c.mu.Lock()
	n := c.attempts[id]
	c.attempts[id] = n + 1
	c.mu.Unlock()
	d := c.o.Retry << min(n, 16)
	if d > c.o.MaxRetry || d <= 0 {
		d = c.o.MaxRetry
	}
	return d/2 + rand.N(d/2+1)
}

// timers are a connection's pending resends.
type timers struct {
	mu      sync.Mutex
	wg      sync.WaitGroup
	pending map[*time.Timer]struct{}
	stopped bool
}

// after runs f after d, unless stop comes first.
func (t *timers) after(d time.Duration, f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	if t.pending == nil {
		t.pending = map[*time.Timer]struct{}{}
	}
	t.wg.Add(1)
	var tm *time.Timer
	tm = time.AfterFunc(d, func() {
		defer t.wg.Done()
		t.mu.Lock()
		delete(t.pending, tm)
		stopped := t.stopped
		t.mu.Unlock()
		if !stopped {
			f()
		}
	})
	t.pending[tm] = struct{}{}
}

// stop cancels the pending resends and waits for those running.
func (t *timers) stop() {
	t.mu.Lock()
	t.stopped = true
	for tm := range t.pending {
		if tm.Stop() {
			t.wg.Done()
		}
	}
	t.pending = nil
	t.mu.Unlock()
	t.wg.Wait()
}

func (c *Client) dropOutbox(id string) {
	delete(c.attempts, id)
	if _, ok := c.outbox[id]; !ok {
		return
	}
	delete(c.outbox, id)
	for i, o := range c.order {
		if o == id {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}

// Send puts a message in the outbox and writes it if connected; it is
// resent with the same client id on every connection until acknowledged
// (OnAck) or refused (OnRefused).
func (c *Client) Send(ctx context.Context, clientID, text string) {
	c.mu.Lock()
	if _, ok := c.outbox[clientID]; !ok {
		c.outbox[clientID] = text
		c.order = append(c.order, clientID)
	}
	c.mu.Unlock()
	c.resend(ctx, clientID)
}

// resend writes an outbox entry on the current connection, if any.
func (c *Client) resend(ctx context.Context, clientID string) {
	c.mu.Lock()
	conn := c.conn
	text, ok := c.outbox[clientID]
	c.mu.Unlock()
	if conn != nil && ok {
		_ = write(ctx, conn, clientID, text) // a failed write is resent on reconnect
	}
}

func write(ctx context.Context, conn *websocket.Conn, clientID, text string) error {
	b, _ := json.Marshal(map[string]string{"type": "send", "client_id": clientID, "text": text})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return conn.Write(ctx, websocket.MessageText, b)
}

// WaitConnected waits until the client is connected, or ctx ends.
func (c *Client) WaitConnected(ctx context.Context) error {
	c.mu.Lock()
	ch := c.connected
	c.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return errors.Join(errors.New("chatclient: not connected"), ctx.Err())
	}
}

// Stats are what a client has seen.
type Stats struct {
	Messages   int    // distinct messages received
	Duplicates int    // messages a connection delivered twice (the chat's fault)
	Connects   int    // connections made
	Outbox     int    // sends not yet acknowledged
	Node       string // the node connected to ("" if none)
}

// Stats returns the client's counts.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Messages: len(c.have), Duplicates: c.dups, Connects: c.connects, Outbox: len(c.outbox), Node: c.node}
}
