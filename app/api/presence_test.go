package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/pubsub"
)

// cuttable is a node's view of the bus that a test can cut, as if the
// node had died: it then sends nothing.
type cuttable struct {
	pubsub.Bus
	cut atomic.Bool
}

func (b *cuttable) Publish(ctx context.Context, topic string, msg []byte) error {
	if b.cut.Load() {
		return nil
	}
	return b.Bus.Publish(ctx, topic, msg)
}

// waitPresence reads frames until the client is told exactly who is
// online.
func (c *wsClient) waitPresence(want ...string) {
	c.t.Helper()
	c.next(func(f frame) bool {
		for _, e := range f.Events {
			if e.Type != "presence" {
				continue
			}
			var ids []string
			for _, u := range e.Users {
				ids = append(ids, u.ID)
			}
			if slices.Equal(ids, want) {
				return true
			}
		}
		return false
	})
}

func TestPresenceAndTyping(t *testing.T) {
	bus := pubsub.NewLocal()
	t.Cleanup(func() { bus.Close() })
	const beat, ttl = 50 * time.Millisecond, 300 * time.Millisecond
	f := newFixture(t, Options{Bus: bus, Node: "n1", PresenceBeat: beat, PresenceTTL: ttl})
	bus2 := &cuttable{Bus: bus}
	s2, err := New(f.svc, Options{Bus: bus2, Node: "n2", PresenceBeat: beat, PresenceTTL: ttl})
	require.NoError(t, err)
	t.Cleanup(func() { s2.Close() })
	node2 := httptest.NewServer(s2)
	t.Cleanup(node2.Close)

	alice := dialWS(t, f.srv, f.token(false, "alice", "c1", chat.RoleMember), "")
	alice.waitPresence("alice")
	bob := dialWS(t, node2, f.token(false, "bob", "c1", chat.RoleMember), "")
	bob.waitPresence("alice", "bob") // node 2 asked node 1 who is there
	alice.waitPresence("alice", "bob")

	// Typing goes to the others, stored nowhere.
	require.NoError(t, alice.conn.Write(t.Context(), 1, []byte(`{"type":"typing"}`)))
	bob.next(func(fr frame) bool {
		for _, e := range fr.Events {
			if e.Type == "typing" && e.User != nil && e.User.ID == "alice" {
				return true
			}
		}
		return false
	})

	// A second tab of bob's through node 1, then it closes: bob stays.
	bobTab := dialWS(t, f.srv, f.token(false, "bob", "c1", chat.RoleMember), "")
	bobTab.waitPresence("alice", "bob")
	bobTab.conn.CloseNow()

	// Node 2 dies: it says nothing more, and its users drop off once its
	// last announcement has expired.
	bus2.cut.Store(true)
	start := time.Now()
	bob.conn.CloseNow()
	alice.waitPresence("alice")
	require.Less(t, time.Since(start), ttl+time.Second, "a dead node's users linger")
}

// A waiting presence list is replaced by a newer one, not queued after
// it: joins never fill a client's queue.
func TestPresenceCoalesces(t *testing.T) {
	c := &client{writing: true} // as if its writer were busy
	for i := range wsQueue * 2 {
		c.enqueue(event{Type: "presence", Users: []person{{ID: fmt.Sprint(i)}}})
	}
	require.Len(t, c.queue, 1)
	require.Equal(t, fmt.Sprint(wsQueue*2-1), c.queue[0].Users[0].ID, "the latest list")
	require.False(t, c.slow)
}
