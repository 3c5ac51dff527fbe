package api

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/app/internal/apptest"
	"github.com/strata-go/strata/pubsub"
)

// updates reads frames until the client has, for every message key in
// want, an update with that text (the latest by version, as the widget
// keeps them; "(hidden)" for a hidden one without its text).
func (c *wsClient) updates(want map[string]string) {
	c.t.Helper()
	done := func() bool {
		for k, v := range want {
			m, ok := c.upd[k]
			text := m.Text
			if m.Hidden && text == "" {
				text = "(hidden)"
			}
			if !ok || text != v {
				return false
			}
		}
		return true
	}
	if c.upd != nil && done() {
		return
	}
	c.next(func(f frame) bool {
		c.absorb(f)
		return done()
	})
}

// A client that was away gets, when it comes back with its position and
// its change cursor, the messages it missed and the edits and hides of
// the messages it had.
func TestReconnectCatchesUpUpdates(t *testing.T) {
	apptest.EachStore(t, func(t *testing.T, store string) {
		f := newFixtureOn(t, store, Options{})
		alice := f.token(false, "alice", "c1", chat.RoleMember)
		mod := f.token(false, "mod", "c1", chat.RoleModerator)
		var sent []messageJSON
		for i := range 3 {
			var m messageJSON
			st, _ := f.do("POST", "/v1/messages", alice, sendRequest{ClientID: fmt.Sprint("m", i), Text: fmt.Sprint("text ", i)}, &m)
			require.Equal(t, 200, st)
			sent = append(sent, m)
		}
		bob := f.token(false, "bob", "c1", chat.RoleMember)
		b := dialWS(t, f.srv, bob, "")
		require.Len(t, b.collect(3), 3)
		b.conn.Close(websocket.StatusNormalClosure, "")

		// Away: an edit, a hide, a new message.
		st, _ := f.do("PATCH", "/v1/messages/"+sent[0].ID, alice, map[string]string{"text": "text 0, edited"}, nil)
		require.Equal(t, 200, st)
		st, _ = f.do("POST", "/v1/messages/"+sent[2].ID+"/hide", mod, nil, nil)
		require.Equal(t, 200, st)
		f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "m3", Text: "text 3"}, nil)

		var cursor int64
		for _, m := range sent {
			cursor = max(cursor, atoi(t, m.Changed))
		}
		u := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/v1/ws?token=" + bob + "&after=" + b.lastPos + fmt.Sprint("&changed=", cursor)
		conn, _, err := websocket.Dial(t.Context(), u, nil)
		require.NoError(t, err)
		t.Cleanup(func() { conn.CloseNow() })
		b2 := &wsClient{t: t, conn: conn, had: b.had}
		b2.updates(map[string]string{sent[0].ID: "text 0, edited", sent[2].ID: "(hidden)"}) // updates come first
		require.Equal(t, []string{"text 3"}, b2.collect(1))

		// The same over HTTP, in pages.
		var page struct {
			Messages []messageJSON `json:"messages"`
			Next     string        `json:"next"`
			More     bool          `json:"more"`
		}
		st, _ = f.do("GET", fmt.Sprint("/v1/messages/updates?seen=", cursor), bob, nil, &page)
		require.Equal(t, 200, st)
		require.Len(t, page.Messages, 2)
		require.False(t, page.More)
		st, _ = f.do("GET", "/v1/messages/updates?after="+page.Next, bob, nil, &page)
		require.Equal(t, 200, st)
		require.Empty(t, page.Messages)
		st, _ = f.do("GET", "/v1/messages/updates?after=1&seen=1", bob, nil, nil)
		require.Equal(t, 400, st)
	})
}

func atoi(t *testing.T, s string) int64 {
	var n int64
	_, err := fmt.Sscan(s, &n)
	require.NoError(t, err)
	return n
}

// flakyBus is a bus whose publishes fail while failing is set.
type flakyBus struct {
	pubsub.Bus
	failing atomic.Bool
}

func (b *flakyBus) Publish(ctx context.Context, topic string, msg []byte) error {
	if b.failing.Load() {
		return errors.New("flaky bus: publish failed")
	}
	return b.Bus.Publish(ctx, topic, msg)
}

// Events that fail to publish (the bus is down, or they are too large
// for it) still reach every client: the conversation is resynced, and
// its clients catch up from the store.
func TestUnpublishedEventsArriveByResync(t *testing.T) {
	apptest.EachStore(t, func(t *testing.T, store string) {
		local := pubsub.NewLocal(pubsub.WithMaxMessage(2000))
		t.Cleanup(func() { local.Close() })
		bus := &flakyBus{Bus: local}
		f := newFixtureOn(t, store, Options{Bus: bus})
		s2, err := New(f.svc, Options{Bus: bus})
		require.NoError(t, err)
		t.Cleanup(func() { s2.Close() })
		node2 := httptest.NewServer(s2)
		t.Cleanup(node2.Close)

		alice := f.token(false, "alice", "c1", chat.RoleMember)
		mod := f.token(false, "mod", "c1", chat.RoleModerator)
		var first messageJSON
		f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "m0", Text: "first"}, &first)
		b := dialWS(t, node2, f.token(false, "bob", "c1", chat.RoleMember), "")
		require.Equal(t, []string{"first"}, b.collect(1))

		// Too large for the bus: a message and an edit of 1,500 "é".
		long := strings.Repeat("é", 1500)
		st, _ := f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "big", Text: long}, nil)
		require.Equal(t, 200, st)
		require.Equal(t, []string{long}, b.collect(1))
		st, _ = f.do("PATCH", "/v1/messages/"+first.ID, alice, map[string]string{"text": long + "!"}, nil)
		require.Equal(t, 200, st)
		b.updates(map[string]string{first.ID: long + "!"})

		// The bus fails for a while: a message and a hide.
		bus.failing.Store(true)
		st, _ = f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "m1", Text: "while the bus was down"}, nil)
		require.Equal(t, 200, st, "a send is stored whatever the bus does")
		st, _ = f.do("POST", "/v1/messages/"+first.ID+"/hide", mod, nil, nil)
		require.Equal(t, 200, st)
		bus.failing.Store(false)
		b.updates(map[string]string{first.ID: "(hidden)"}) // a resync sends updates first
		require.Equal(t, []string{"while the bus was down"}, b.collect(1))
	})
}

// An edit made while a client was away, then, more than the overlap
// window later, a new message: the client that comes back gets both (the
// messages' catch-up must not move its change cursor past the edit).
func TestEditThenLaterMessageWhileAway(t *testing.T) {
	for _, store := range []string{"memory", "sqlite", "riaktest"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			f := newFixtureOn(t, store, Options{})
			alice := f.token(false, "alice", "c1", chat.RoleMember)
			var first messageJSON
			st, _ := f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "m0", Text: "t0"}, &first)
			require.Equal(t, 200, st)
			bob := f.token(false, "bob", "c1", chat.RoleMember)
			b := dialWS(t, f.srv, bob, "")
			require.Len(t, b.collect(1), 1)
			b.conn.Close(websocket.StatusNormalClosure, "")
			st, _ = f.do("PATCH", "/v1/messages/"+first.ID, alice, map[string]string{"text": "t0 edited"}, nil)
			require.Equal(t, 200, st)
			time.Sleep(1500 * time.Millisecond) // past the fixture's 1 s window
			f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "m1", Text: "t1"}, nil)
			u := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/v1/ws?token=" + bob + "&after=" + b.lastPos + "&changed=" + first.Changed
			conn, _, err := websocket.Dial(t.Context(), u, nil)
			require.NoError(t, err)
			t.Cleanup(func() { conn.CloseNow() })
			b2 := &wsClient{t: t, conn: conn, had: b.had}
			b2.updates(map[string]string{first.ID: "t0 edited"})
			require.Equal(t, []string{"t1"}, b2.collect(1))
		})
	}
}

// Node 1 fails to publish an edit and a message while node 2's traffic
// goes on for longer than the overlap window: the resync node 1 publishes
// later reads from the earliest event it failed to announce, not from
// where node 2's traffic has moved its clients' streams.
func TestResyncReadsFromTheFailedEvent(t *testing.T) {
	for _, store := range []string{"memory", "riaktest"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			local := pubsub.NewLocal()
			t.Cleanup(func() { local.Close() })
			bus1 := &flakyBus{Bus: local}
			f := newFixtureOn(t, store, Options{Bus: bus1})
			s2, err := New(f.svc, Options{Bus: local})
			require.NoError(t, err)
			t.Cleanup(func() { s2.Close() })
			node2 := httptest.NewServer(s2)
			t.Cleanup(node2.Close)
			alice := f.token(false, "alice", "c1", chat.RoleMember)
			var first messageJSON
			f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "m0", Text: "first"}, &first)
			b := dialWS(t, node2, f.token(false, "bob", "c1", chat.RoleMember), "")
			require.Equal(t, []string{"first"}, b.collect(1))

			bus1.failing.Store(true)
			st, _ := f.do("PATCH", "/v1/messages/"+first.ID, alice, map[string]string{"text": "first, edited"}, nil)
			require.Equal(t, 200, st)
			st, _ = f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "m1", Text: "unannounced"}, nil)
			require.Equal(t, 200, st)
			time.Sleep(1500 * time.Millisecond)
			other := &fixture{t: t, srv: node2, client: f.client}
			st, _ = other.do("POST", "/v1/messages", f.token(false, "carol", "c1", chat.RoleMember), sendRequest{ClientID: "c1", Text: "from node 2"}, nil)
			require.Equal(t, 200, st)
			// A store of gap-free positions finds the unannounced message
			// by the gap the next one leaves; the others by the resync.
			bus1.failing.Store(false)
			require.ElementsMatch(t, []string{"from node 2", "unannounced"}, b.collect(2))
			b.updates(map[string]string{first.ID: "first, edited"})
		})
	}
}

// A client without a position gets the latest page in order, and
// nothing older, on a store whose positions are ids (whose catch-up
// re-reads an overlap window).
func TestTailIsTheLatestPageInOrder(t *testing.T) {
	f := newFixtureOn(t, "riaktest", Options{UserRate: 100000, AppRate: 100000})
	alice := f.token(false, "alice", "c1", chat.RoleMember)
	for i := range 70 {
		st, _ := f.do("POST", "/v1/messages", alice, sendRequest{ClientID: fmt.Sprint("m", i), Text: fmt.Sprint(i)}, nil)
		require.Equal(t, 200, st)
	}
	b := dialWS(t, f.srv, f.token(false, "bob", "c1", chat.RoleMember), "")
	got := b.collect(tailPage)
	want := make([]string, tailPage)
	for i := range want {
		want[i] = fmt.Sprint(70 - tailPage + i)
	}
	require.Equal(t, want, got)
	f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "last", Text: "70"}, nil)
	require.Equal(t, []string{"70"}, b.collect(1), "then live, and nothing from before the page")
}
