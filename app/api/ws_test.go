package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/app/internal/apptest"
	"github.com/strata-go/strata/pubsub"
)

// wsClient is a test's WebSocket client.
type wsClient struct {
	t       *testing.T
	conn    *websocket.Conn
	had     map[string]bool // message ids this client had, across reconnects
	lastPos string          // the greatest position it had, to reconnect from
	// What frames brought that a test has not asked for yet, so that
	// tests need not know the order of messages and updates.
	seen map[string]bool        // message ids this connection delivered
	msgs []string               // texts of new messages, not yet collected
	upd  map[string]messageJSON // the latest update of each message
}

// absorb records a frame's message and update events.
func (c *wsClient) absorb(f frame) {
	if c.seen == nil {
		c.seen, c.upd = map[string]bool{}, map[string]messageJSON{}
	}
	for _, e := range f.Events {
		switch e.Type {
		case "message":
			require.False(c.t, c.seen[e.Message.ID], "message %s delivered twice on one connection", e.Message.ID)
			c.seen[e.Message.ID] = true
			if c.had[e.Message.ID] {
				continue
			}
			c.had[e.Message.ID] = true
			if greater(e.Message.Pos, c.lastPos) {
				c.lastPos = e.Message.Pos
			}
			c.msgs = append(c.msgs, e.Message.Text)
		case "update":
			if have, ok := c.upd[e.Message.ID]; !ok || e.Message.Version >= have.Version {
				c.upd[e.Message.ID] = *e.Message
			}
		}
	}
}

func dialWS(t *testing.T, srv *httptest.Server, tok string, after string) *wsClient {
	return redialWS(t, srv, tok, after, map[string]bool{})
}

// redialWS connects as a client that had the messages had.
func redialWS(t *testing.T, srv *httptest.Server, tok string, after string, had map[string]bool) *wsClient {
	t.Helper()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/ws?token=" + url.QueryEscape(tok)
	if after != "" {
		u += "&after=" + after
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, u, nil)
	require.NoError(t, err)
	conn.SetReadLimit(1 << 20) // a browser's is larger still
	t.Cleanup(func() { conn.CloseNow() })
	return &wsClient{t: t, conn: conn, had: had}
}

func (c *wsClient) sendMsg(clientID, text string) {
	b, _ := json.Marshal(request{Type: "send", ClientID: clientID, Text: text})
	require.NoError(c.t, c.conn.Write(c.t.Context(), websocket.MessageText, b))
}

// next reads frames until fn says it has what it wants, or fails after a
// few seconds.
func (c *wsClient) next(fn func(f frame) bool) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 5*time.Second)
	defer cancel()
	for {
		_, data, err := c.conn.Read(ctx)
		require.NoError(c.t, err)
		var f frame
		require.NoError(c.t, json.Unmarshal(data, &f))
		if fn(f) {
			return
		}
	}
}

// collect reads message events until it has n new messages, and returns
// their texts in the order received. A message is delivered once per
// connection; after a reconnect, the overlap window of stores without
// gap-free positions may bring back messages the client had, which it
// drops by id (c.had), as the widget does.
func (c *wsClient) collect(n int) []string {
	c.t.Helper()
	if len(c.msgs) < n {
		c.next(func(f frame) bool {
			c.absorb(f)
			return len(c.msgs) >= n
		})
	}
	out := c.msgs[:n:n]
	c.msgs = c.msgs[n:]
	return out
}

func TestWebSocket(t *testing.T) {
	apptest.EachStore(t, func(t *testing.T, store string) { testWebSocket(t, newFixtureOn(t, store, Options{})) })
}

func testWebSocket(t *testing.T, f *fixture) {
	alice := f.token(false, "alice", "c1", chat.RoleMember)
	bob := f.token(false, "bob", "c1", chat.RoleMember)
	f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "h1", Text: "before bob came"}, nil)

	b := dialWS(t, f.srv, bob, "")
	require.Equal(t, []string{"before bob came"}, b.collect(1), "catch-up from the start")
	a := dialWS(t, f.srv, alice, "")
	a.collect(1)
	a.sendMsg("w1", "live one")
	var acked bool
	a.next(func(fr frame) bool {
		if fr.Type == "ack" && fr.ClientID == "w1" {
			acked = true
		}
		return acked
	})
	require.Equal(t, []string{"live one"}, b.collect(1))

	// A send over HTTP reaches WebSocket clients too; a retried send is
	// not delivered twice.
	f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "h2", Text: "over http"}, nil)
	f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "h2", Text: "over http"}, nil)
	f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "h3", Text: "third"}, nil)
	require.Equal(t, []string{"over http", "third"}, b.collect(2))

	// Bob reconnects from the position he had: what was sent meanwhile
	// comes, in order, and nothing before it.
	var last messageJSON
	f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "h3", Text: "third"}, &last)
	b.conn.Close(websocket.StatusNormalClosure, "")
	for i := range 3 {
		f.do("POST", "/v1/messages", alice, sendRequest{ClientID: fmt.Sprint("m", i), Text: fmt.Sprint("missed ", i)}, nil)
	}
	b2 := redialWS(t, f.srv, bob, last.Pos, b.had)
	require.Equal(t, []string{"missed 0", "missed 1", "missed 2"}, b2.collect(3))

	// Errors come back as frames, and the connection stays.
	a.sendMsg("w2", "")
	a.next(func(fr frame) bool { return fr.Type == "error" && fr.Status == 400 && fr.ClientID == "w2" })
	a.sendMsg("w3", "still here")
	require.Equal(t, []string{"still here"}, b2.collect(1))
}

// Two app nodes share a store and a bus: a message sent through one
// reaches a client of the other.
func TestWebSocketAcrossNodes(t *testing.T) {
	apptest.EachStore(t, testAcrossNodes)
}

func testAcrossNodes(t *testing.T, store string) {
	bus := pubsub.NewLocal()
	t.Cleanup(func() { bus.Close() })
	f := newFixtureOn(t, store, Options{Bus: bus})
	s2, err := New(f.svc, Options{Bus: bus})
	require.NoError(t, err)
	node2 := httptest.NewServer(s2)
	t.Cleanup(node2.Close)

	bob := dialWS(t, node2, f.token(false, "bob", "c1", chat.RoleMember), "")
	// Wait until bob's stream is live (a first message through node 2).
	f.do("POST", "/v1/messages", f.token(false, "alice", "c1", chat.RoleMember), sendRequest{ClientID: "n0", Text: "first"}, nil)
	require.Equal(t, []string{"first"}, bob.collect(1))
	a := dialWS(t, f.srv, f.token(false, "alice", "c1", chat.RoleMember), "")
	a.collect(1)
	for i := range 5 {
		a.sendMsg(fmt.Sprint("x", i), fmt.Sprint("via node 1: ", i))
	}
	require.Equal(t, []string{"via node 1: 0", "via node 1: 1", "via node 1: 2", "via node 1: 3", "via node 1: 4"}, bob.collect(5))
}

// A bad token never upgrades.
func TestWebSocketRefusesBadTokens(t *testing.T) {
	f := newFixture(t, Options{})
	for _, tok := range []string{"", "garbage", f.token(false, "alice", "c1", chat.RoleMember) + "x"} {
		u := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/v1/ws?token=" + url.QueryEscape(tok)
		_, resp, err := websocket.Dial(t.Context(), u, nil)
		require.Error(t, err)
		require.NotNil(t, resp)
		require.Equal(t, 401, resp.StatusCode)
	}
}

// A user holds at most MaxUserConns connections on a node; closing one
// makes room for another, and other users are not counted against it.
func TestConnectionsPerUser(t *testing.T) {
	f := newFixture(t, Options{MaxUserConns: 2})
	alice := f.token(false, "alice", "c1", chat.RoleMember)
	first := dialWS(t, f.srv, alice, "")
	dialWS(t, f.srv, f.token(false, "alice", "c2", chat.RoleMember), "") // another conversation, the same user
	u := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/v1/ws?token=" + url.QueryEscape(alice)
	_, resp, err := websocket.Dial(t.Context(), u, nil)
	require.Error(t, err)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
	dialWS(t, f.srv, f.token(false, "bob", "c1", chat.RoleMember), "")
	first.conn.Close(websocket.StatusNormalClosure, "")
	require.Eventually(t, func() bool {
		conn, _, err := websocket.Dial(t.Context(), u, nil)
		if err == nil {
			conn.CloseNow()
		}
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "a closed connection frees its place")
}

// A client that reads nothing is dropped once its queue is full; the
// others get every message meanwhile.
func TestSlowClientIsDropped(t *testing.T) {
	bus := pubsub.NewLocal()
	t.Cleanup(func() { bus.Close() })
	f := newFixture(t, Options{UserRate: 100000, AppRate: 100000, Bus: bus})
	// A node whose sockets buffer little, so that a client that reads
	// nothing stalls its writer soon.
	s2, err := New(f.svc, Options{Bus: bus})
	require.NoError(t, err)
	t.Cleanup(func() { s2.Close() })
	node := httptest.NewUnstartedServer(s2)
	node.Listener = smallBuffers{node.Listener}
	node.Start()
	t.Cleanup(node.Close)
	fast := dialWS(t, f.srv, f.token(false, "fast", "c1", chat.RoleMember), "")
	slow := dialWS(t, node, f.token(false, "slow", "c1", chat.RoleMember), "")
	_ = slow // never reads
	sender := f.token(false, "sender", "c1", chat.RoleMember)
	const n = wsQueue * 3
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			st, _ := f.do("POST", "/v1/messages", sender, sendRequest{ClientID: fmt.Sprint("s", i), Text: strings.Repeat("x", 2000)}, nil)
			if st != 200 {
				t.Errorf("send %d: %d", i, st)
				return
			}
		}
	}()
	require.Len(t, fast.collect(n), n, "the fast client got every message")
	<-done
	// The slow one was closed by the server (or its socket filled up
	// first); either way reading ends with an error, not a hang.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = nil
	for err == nil {
		_, _, err = slow.conn.Read(ctx)
	}
	require.NotErrorIs(t, err, context.DeadlineExceeded, "the slow client was never dropped")
}

// smallBuffers shrinks the send buffer of the connections it accepts.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// Three nodes share a store and a bus. A client's node dies while
// messages keep coming through another; the client moves to a third node
// from the last position it saw, and ends with every message exactly
// once, in order.
func TestFailoverLosesNothing(t *testing.T) {
	apptest.EachStore(t, func(t *testing.T, store string) {
		bus := pubsub.NewLocal()
		t.Cleanup(func() { bus.Close() })
		f := newFixtureOn(t, store, Options{Bus: bus, UserRate: 100000, AppRate: 100000})
		var nodes []*httptest.Server
		for range 2 {
			s, err := New(f.svc, Options{Bus: bus})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			n := httptest.NewServer(s)
			t.Cleanup(n.Close)
			nodes = append(nodes, n)
		}
		dying, survivor := nodes[0], nodes[1]
		reader := f.token(false, "reader", "c1", chat.RoleMember)
		c := dialWS(t, dying, reader, "")
		sender := f.token(false, "sender", "c1", chat.RoleMember)
		const total = 60
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			for i := range total {
				st, _ := f.do("POST", "/v1/messages", sender, sendRequest{ClientID: fmt.Sprint("f", i), Text: fmt.Sprint(i)}, nil)
				if st != 200 {
					t.Errorf("send %d: %d", i, st)
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
		got := c.collect(10)
		// The node dies: its connections drop without a goodbye.
		dying.CloseClientConnections()
		last := c.lastPos
		<-sent
		c2 := redialWS(t, survivor, reader, last, c.had)
		c2.lastPos = last
		got = append(got, c2.collect(total-len(got))...)
		want := make([]string, total)
		for i := range want {
			want[i] = fmt.Sprint(i)
		}
		require.Equal(t, want, got)
	})
}
