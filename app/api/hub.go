package api

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/pubsub"
)

// event is what travels on the bus for a conversation, and to clients.
type event struct {
	// Type is one of
	//
	//	message   a new message (Message)
	//	update    a message edited, hidden or shown (Message)
	//	presence  on the bus: who is online through node Node (Users);
	//	          to a client: who is online in the conversation
	//	who       on the bus: a node asks the others for their presence
	//	typing    User is typing
	//	resync    to a client: this node may have missed events, and the
	//	          client's stream catches up from the store
	Type    string       `json:"type"`
	Message *messageJSON `json:"message,omitempty"`
	// From is, on a resync a node publishes after failing to publish
	// events, the position and change cursor of the earliest of them.
	From  *cursor  `json:"from,omitempty"`
	Node  string   `json:"node,omitempty"`
	Users []person `json:"users,omitempty"`
	User  *person  `json:"user,omitempty"`
	// raw is the event's JSON for a client, when it was encoded once
	// for all the clients it goes to.
	raw []byte
}

// encode returns the event's JSON for a client.
func (e *event) encode() ([]byte, error) {
	if e.raw != nil {
		return e.raw, nil
	}
	return json.Marshal(e)
}

// encoded returns e with its JSON encoded once, for many clients.
func encoded(e event) event {
	e.raw, _ = json.Marshal(e) // nil on error: each client's encode reports it
	return e
}

// cursor is where a resync reads from.
type cursor struct {
	Pos     int64 `json:"pos"`
	Changed int64 `json:"changed"`
}

// earlier returns the cursor of whichever of a and b comes first in each
// of position and change.
func earlier(a, b *cursor) *cursor {
	if a == nil {
		return b
	}
	return &cursor{Pos: min(a.Pos, b.Pos), Changed: min(a.Changed, b.Changed)}
}

// cursorOf returns the cursor of a message event.
func cursorOf(ev event) *cursor {
	pos, _ := strconv.ParseInt(ev.Message.Pos, 10, 64)
	changed, _ := strconv.ParseInt(ev.Message.Changed, 10, 64)
	if ev.Type == "update" {
		return &cursor{Pos: math.MaxInt64, Changed: changed}
	}
	return &cursor{Pos: pos, Changed: changed}
}

// person is a user as presence and typing show them.
type person struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// hub fans out the events of conversations to this node's WebSocket
// clients — one bus subscription per conversation with clients here —
// and keeps their presence: each node announces who is connected through
// it (when that changes, when asked, and every beat), and forgets the
// announcement of a node that has not repeated it within the TTL, so the
// users of a node that died drop off.
type hub struct {
	bus  pubsub.Bus
	log  *slog.Logger
	node string
	beat time.Duration // how often a node announces its presence
	ttl  time.Duration // how long an announcement holds

	mu    sync.Mutex
	rooms map[string]*room // by topic
	// dirty holds the conversations of events that failed to publish,
	// and where the earliest of them was: until a resync reaches every
	// node, their clients may lack them.
	dirty map[string]dirtyTopic // by topic
	stop  chan struct{}
	done  chan struct{}
}

type dirtyTopic struct {
	tok  *chat.Token
	from *cursor
}

type room struct {
	tok *chat.Token // a token of the room's conversation, for publishing
	// ready is closed once the room's subscription is made (or failed,
	// with err); the first joiner subscribes outside the hub's lock, and
	// the others wait for it.
	ready   chan struct{}
	err     error
	cancel  func()
	clients map[*client]struct{}
	remote  map[string]announcement // by node
	online  []person                // as last sent to the clients
}

// announcement is another node's presence in a room.
type announcement struct {
	users   []person
	expires time.Time
}

func newHub(bus pubsub.Bus, log *slog.Logger, node string, beat, ttl time.Duration) *hub {
	h := &hub{bus: bus, log: log, node: node, beat: beat, ttl: ttl, rooms: map[string]*room{}, dirty: map[string]dirtyTopic{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go h.heartbeat()
	return h
}

// topic is the bus topic of a conversation: a hash, since ids may be
// longer than a topic can be.
func topic(tok *chat.Token) string {
	h := sha256.Sum256([]byte(tok.App + "/" + tok.Conversation))
	return "chat." + hex.EncodeToString(h[:16])
}

// publish sends an event of the token's conversation to every node. A
// failure is logged, not returned: what the event says is stored, and
// the conversation is marked for a resync, which the hub publishes as
// soon as the bus takes it, and which makes every client of the
// conversation catch up from the store. An event too large for the bus
// is replaced by a resync at once. Presence is repeated anyway.
func (h *hub) publish(ctx context.Context, tok *chat.Token, ev event) {
	b, err := json.Marshal(ev)
	if err == nil {
		err = h.bus.Publish(ctx, topic(tok), b)
	}
	stored := ev.Message != nil && (ev.Type == "message" || ev.Type == "update")
	if !stored {
		// Presence and typing are repeated or fleeting: a resync
		// cannot bring them.
		if err != nil {
			h.log.Warn("chat: publishing an event failed", "type", ev.Type, "error", err)
		}
		return
	}
	if errors.Is(err, pubsub.ErrTooLarge) {
		b, _ = json.Marshal(event{Type: "resync", From: cursorOf(ev)})
		err = h.bus.Publish(ctx, topic(tok), b)
	}
	if err == nil {
		return
	}
	h.log.Warn("chat: publishing an event failed; its conversation will resync", "type", ev.Type, "error", err)
	h.mu.Lock()
	d := h.dirty[topic(tok)]
	h.dirty[topic(tok)] = dirtyTopic{tok: tok, from: earlier(d.from, cursorOf(ev))}
	h.mu.Unlock()
}

// resync publishes a resync of each conversation whose events failed to
// publish, until the bus takes it.
func (h *hub) resync() {
	h.mu.Lock()
	dirty := h.dirty
	if len(dirty) == 0 {
		h.mu.Unlock()
		return
	}
	h.dirty = map[string]dirtyTopic{}
	h.mu.Unlock()
	// One deadline for the round, so that a bus that hangs holds the
	// heartbeat up for a beat at most.
	ctx, cancel := context.WithTimeout(context.Background(), h.beat)
	defer cancel()
	for t, d := range dirty {
		b, _ := json.Marshal(event{Type: "resync", From: d.from})
		if err := h.bus.Publish(ctx, t, b); err != nil {
			h.mu.Lock()
			later := h.dirty[t]
			h.dirty[t] = dirtyTopic{tok: d.tok, from: earlier(later.from, d.from)}
			h.mu.Unlock()
		}
	}
}

// join adds a client to its conversation's room, subscribing to the
// conversation on the bus if it is the room's first, and announces it.
func (h *hub) join(ctx context.Context, c *client) error {
	t := topic(c.tok)
	h.mu.Lock()
	r := h.rooms[t]
	fresh := r == nil
	if fresh {
		r = &room{tok: c.tok, ready: make(chan struct{}), clients: map[*client]struct{}{}, remote: map[string]announcement{}}
		h.rooms[t] = r
	}
	r.clients[c] = struct{}{}
	h.mu.Unlock()
	if fresh {
		// Outside the lock: the bus may take a round trip, or hang
		// until ctx ends.
		cancel, err := h.bus.Subscribe(ctx, t, func(ev pubsub.Event) { h.deliver(t, ev) })
		h.mu.Lock()
		r.cancel, r.err = cancel, err
		if err != nil && h.rooms[t] == r {
			delete(h.rooms, t) // its waiting joiners fail too
		}
		close(r.ready)
		h.mu.Unlock()
	} else {
		select {
		case <-r.ready:
		case <-ctx.Done():
			// ready is closed under h.mu: if it is not, the joiner
			// subscribing is still in the room, which this client may
			// leave without leaving it empty. If it is, this client
			// joined (select picks at random), and its caller's leave
			// ends the room if it is the last.
			h.mu.Lock()
			select {
			case <-r.ready:
				h.mu.Unlock()
			default:
				delete(r.clients, c)
				h.mu.Unlock()
				return ctx.Err()
			}
		}
	}
	if r.err != nil {
		return r.err
	}
	h.mu.Lock()
	users := r.local()
	h.refresh(r, false)                                 // the others, if the newcomer changed who is online
	c.enqueue(event{Type: "presence", Users: r.online}) // the newcomer, always
	h.mu.Unlock()
	h.publish(ctx, c.tok, event{Type: "presence", Node: h.node, Users: users})
	if fresh {
		h.publish(ctx, c.tok, event{Type: "who", Node: h.node})
	}
	return nil
}

// leave removes a client, announcing the change, and ends the room's
// subscription if it was the last.
func (h *hub) leave(c *client) {
	t := topic(c.tok)
	h.mu.Lock()
	r := h.rooms[t]
	if r == nil {
		h.mu.Unlock()
		return
	}
	delete(r.clients, c)
	users := r.local()
	var cancel func()
	if len(r.clients) == 0 {
		delete(h.rooms, t)
		cancel = r.cancel
	} else {
		h.refresh(r, false)
	}
	h.mu.Unlock()
	ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	h.publish(ctx, c.tok, event{Type: "presence", Node: h.node, Users: users})
	if cancel != nil {
		cancel()
	}
}

// local returns the room's users connected through this node.
func (r *room) local() []person {
	var out []person
	for c := range r.clients {
		p := person{ID: c.tok.User, Name: c.tok.Name}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b person) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// refresh sends the room's clients who is online, if that changed (or
// always, when force). h.mu is held.
func (h *hub) refresh(r *room, force bool) {
	online := r.local()
	now := time.Now()
	for node, a := range r.remote {
		if now.After(a.expires) {
			delete(r.remote, node)
			continue
		}
		for _, p := range a.users {
			if !slices.Contains(online, p) {
				online = append(online, p)
			}
		}
	}
	slices.SortFunc(online, func(a, b person) int { return cmp.Compare(a.ID, b.ID) })
	if !force && slices.Equal(online, r.online) {
		return
	}
	r.online = online
	e := encoded(event{Type: "presence", Users: online})
	for c := range r.clients {
		c.enqueue(e)
	}
}

// resyncEvery is how often the hub retries the resyncs of conversations
// whose events failed to publish.
const resyncEvery = 250 * time.Millisecond

// heartbeat announces this node's presence in every room each beat,
// drops the announcements of nodes that fell silent, and retries
// resyncs. It runs until close.
func (h *hub) heartbeat() {
	defer close(h.done)
	tick := time.NewTicker(h.beat)
	defer tick.Stop()
	retry := time.NewTicker(resyncEvery)
	defer retry.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-retry.C:
			h.resync()
			continue
		case <-tick.C:
		}
		type beat struct {
			tok   *chat.Token
			users []person
		}
		var beats []beat
		h.mu.Lock()
		for _, r := range h.rooms {
			beats = append(beats, beat{r.tok, r.local()})
			h.refresh(r, false)
		}
		h.mu.Unlock()
		for _, b := range beats {
			ctx, cancel := context.WithTimeout(context.Background(), h.beat)
			h.publish(ctx, b.tok, event{Type: "presence", Node: h.node, Users: b.users})
			cancel()
		}
	}
}

// close stops the heartbeat.
func (h *hub) close() {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	<-h.done
}

// closeAll tells every client of this node to go elsewhere (the node is
// shutting down): they reconnect, to another node, from their position.
func (h *hub) closeAll() {
	h.mu.Lock()
	var clients []*client
	for _, r := range h.rooms {
		for c := range r.clients {
			clients = append(clients, c)
		}
	}
	h.mu.Unlock()
	// In parallel: each close waits (a few seconds at most) for the
	// client's answer to its close frame.
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() { c.conn.Close(websocket.StatusGoingAway, "node shutting down: reconnect") })
	}
	wg.Wait()
}

// deliver handles a bus event of a room: messages and typing go to its
// clients, never blocking on one; presence is merged.
func (h *hub) deliver(t string, ev pubsub.Event) {
	var e event
	switch ev.Kind {
	case pubsub.Message:
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			h.log.Warn("chat: unreadable event on the bus", "topic", t)
			return
		}
	case pubsub.Lost, pubsub.Reset:
		e = event{Type: "resync"}
	default:
		return
	}
	h.mu.Lock()
	r := h.rooms[t]
	if r == nil {
		h.mu.Unlock()
		return
	}
	var answer *event
	switch e.Type {
	case "message", "update":
		if e.Message == nil {
			h.mu.Unlock()
			return
		}
	case "presence":
		if e.Node != h.node {
			r.remote[e.Node] = announcement{users: e.Users, expires: time.Now().Add(h.ttl)}
			h.refresh(r, false)
		}
		h.mu.Unlock()
		return
	case "who":
		if e.Node != h.node {
			answer = &event{Type: "presence", Node: h.node, Users: r.local()}
		}
	case "typing", "resync":
	default:
		h.mu.Unlock()
		return
	}
	var clients []*client
	if e.Type != "who" {
		for c := range r.clients {
			clients = append(clients, c)
		}
	}
	tok := r.tok
	h.mu.Unlock()
	if len(clients) > 0 && (e.Type == "message" || e.Type == "update" || e.Type == "typing") {
		e = encoded(e)
	}
	if answer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), h.beat)
		h.publish(ctx, tok, *answer)
		cancel()
	}
	for _, c := range clients {
		c.enqueue(e)
	}
}
