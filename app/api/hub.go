package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"

	"github.com/coder/websocket"

	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/pubsub"
)

// event is what travels on the bus for a conversation, and to clients.
type event struct {
	// Type is "message" (a new one), "update" (edited, hidden or shown),
	// or, to a client only, "resync" (this node may have missed events:
	// the client's stream catches up from the store).
	Type    string       `json:"type"`
	Message *messageJSON `json:"message,omitempty"`
}

// hub fans out the events of conversations to this node's WebSocket
// clients: one bus subscription per conversation with clients here.
type hub struct {
	bus pubsub.Bus
	log *slog.Logger

	mu    sync.Mutex
	rooms map[string]*room // by topic
}

type room struct {
	cancel  func()
	clients map[*client]struct{}
}

func newHub(bus pubsub.Bus, log *slog.Logger) *hub {
	return &hub{bus: bus, log: log, rooms: map[string]*room{}}
}

// topic is the bus topic of a conversation: a hash, since ids may be
// longer than a topic can be.
func topic(tok *chat.Token) string {
	h := sha256.Sum256([]byte(tok.App + "/" + tok.Conversation))
	return "chat." + hex.EncodeToString(h[:16])
}

// publish sends an event of the token's conversation to every node. A
// failure is logged, not returned: the event is stored, and clients that
// miss it catch up from the store.
func (h *hub) publish(ctx context.Context, tok *chat.Token, ev event) {
	b, err := json.Marshal(ev)
	if err == nil {
		err = h.bus.Publish(ctx, topic(tok), b)
	}
	if err != nil {
		h.log.Warn("chat: publishing an event failed; clients will catch up from the store", "error", err)
	}
}

// join adds a client to its conversation's room, subscribing to the
// conversation on the bus if it is the room's first.
func (h *hub) join(ctx context.Context, c *client) error {
	t := topic(c.tok)
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[t]
	if r == nil {
		r = &room{clients: map[*client]struct{}{}}
		cancel, err := h.bus.Subscribe(ctx, t, func(ev pubsub.Event) { h.deliver(t, ev) })
		if err != nil {
			return err
		}
		r.cancel = cancel
		h.rooms[t] = r
	}
	r.clients[c] = struct{}{}
	return nil
}

// leave removes a client, ending the room's subscription if it was the
// last.
func (h *hub) leave(c *client) {
	t := topic(c.tok)
	h.mu.Lock()
	r := h.rooms[t]
	if r == nil {
		h.mu.Unlock()
		return
	}
	delete(r.clients, c)
	var cancel func()
	if len(r.clients) == 0 {
		delete(h.rooms, t)
		cancel = r.cancel
	}
	h.mu.Unlock()
	if cancel != nil {
		cancel()
	}
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

// deliver hands a bus event to the room's clients, never blocking on one.
func (h *hub) deliver(t string, ev pubsub.Event) {
	var e event
	switch ev.Kind {
	case pubsub.Message:
		if err := json.Unmarshal(ev.Data, &e); err != nil || (e.Type != "message" && e.Type != "update") || e.Message == nil {
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
	var clients []*client
	if r != nil {
		for c := range r.clients {
			clients = append(clients, c)
		}
	}
	h.mu.Unlock()
	for _, c := range clients {
		c.enqueue(e)
	}
}
