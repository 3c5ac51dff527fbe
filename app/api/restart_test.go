package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/pubsub"
)

// cluster is a set of app nodes sharing a store and a bus, any of which a
// test may restart.
type cluster struct {
	t     *testing.T
	f     *fixture
	bus   pubsub.Bus
	mu    sync.Mutex
	nodes []*httptest.Server
	apis  []*Server
}

func (c *cluster) start(i int) {
	s, err := New(c.f.svc, Options{Bus: c.bus, UserRate: 100000, AppRate: 100000, Node: fmt.Sprint("n", i)})
	require.NoError(c.t, err)
	srv := httptest.NewServer(s)
	c.mu.Lock()
	c.nodes[i], c.apis[i] = srv, s
	c.mu.Unlock()
}

// stop shuts node i down gracefully: its clients are told to reconnect
// elsewhere.
func (c *cluster) stop(i int) {
	c.mu.Lock()
	srv, s := c.nodes[i], c.apis[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	s.Shutdown(context.Background())
	srv.Close()
	s.Close()
}

// url returns a running node's URL, trying from node i on.
func (c *cluster) url(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range len(c.nodes) {
		if n := c.nodes[(i+k)%len(c.nodes)]; n != nil {
			return n.URL
		}
	}
	return ""
}

// follower is a client that stays in the conversation across node
// restarts, as the widget does: when its connection ends it reconnects
// to another node from the last position it saw, and drops messages it
// already has.
type follower struct {
	mu   sync.Mutex
	have map[string]bool
	got  []string
	last string
}

func (fl *follower) run(ctx context.Context, c *cluster, tok string, node int) {
	for ctx.Err() == nil {
		u := c.url(node)
		node++
		if u == "" {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		fl.mu.Lock()
		ws := "ws" + strings.TrimPrefix(u, "http") + "/v1/ws?token=" + url.QueryEscape(tok) + "&after=" + fl.last
		fl.mu.Unlock()
		conn, _, err := websocket.Dial(ctx, ws, nil)
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				break
			}
			var f frame
			if json.Unmarshal(data, &f) != nil {
				continue
			}
			fl.mu.Lock()
			for _, e := range f.Events {
				if e.Type != "message" || fl.have[e.Message.ID] {
					continue
				}
				fl.have[e.Message.ID] = true
				fl.got = append(fl.got, e.Message.Text)
				if greater(e.Message.Pos, fl.last) {
					fl.last = e.Message.Pos
				}
			}
			fl.mu.Unlock()
		}
		conn.CloseNow()
	}
}

func (fl *follower) count() int {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return len(fl.got)
}

// A rolling restart of three nodes under traffic: every node is stopped
// (its clients told to go elsewhere) and started again in turn while a
// sender keeps sending; every client ends with every message once, in
// order.
func TestRollingRestart(t *testing.T) {
	bus := pubsub.NewLocal()
	t.Cleanup(func() { bus.Close() })
	f := newFixture(t, Options{Bus: bus})
	c := &cluster{t: t, f: f, bus: bus, nodes: make([]*httptest.Server, 3), apis: make([]*Server, 3)}
	for i := range 3 {
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range 3 {
			if c.nodes[i] != nil {
				c.stop(i)
			}
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var followers []*follower
	var wg sync.WaitGroup
	for i := range 6 {
		fl := &follower{have: map[string]bool{}}
		followers = append(followers, fl)
		tok := f.token(false, fmt.Sprint("reader", i), "c1", chat.RoleMember)
		wg.Go(func() { fl.run(ctx, c, tok, i) })
	}
	sender := f.token(false, "sender", "c1", chat.RoleMember)
	var sent atomic.Int64
	sendDone := make(chan struct{})
	go func() {
		defer close(sendDone)
		for i := 0; ctx.Err() == nil && i < 150; i++ {
			// Through whichever node is up; a send that fails on a
			// stopping node is retried with the same client id.
			for ctx.Err() == nil {
				if st := sendVia(c.url(i), sender, fmt.Sprint("r", i), fmt.Sprint(i)); st == 200 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			sent.Add(1)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	for i := range 3 {
		time.Sleep(60 * time.Millisecond)
		c.stop(i)
		time.Sleep(20 * time.Millisecond)
		c.start(i)
	}
	<-sendDone
	total := int(sent.Load())
	require.Equal(t, 150, total)
	want := make([]string, total)
	for i := range want {
		want[i] = fmt.Sprint(i)
	}
	for i, fl := range followers {
		require.Eventually(t, func() bool { return fl.count() >= total }, 10*time.Second, 10*time.Millisecond, "reader %d got %d of %d", i, fl.count(), total)
		fl.mu.Lock()
		require.Equal(t, want, fl.got, "reader %d", i)
		fl.mu.Unlock()
	}
	cancel()
	wg.Wait()
}

// sendVia posts a message through a node and returns the status (0 if
// the node could not be reached).
func sendVia(base, tok, clientID, text string) int {
	if base == "" {
		return 0
	}
	b, _ := json.Marshal(sendRequest{ClientID: clientID, Text: text})
	req, err := newJSONRequest("POST", base+"/v1/messages", tok, b)
	if err != nil {
		return 0
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
