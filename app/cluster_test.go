package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/app/internal/appnode"
	"github.com/strata-go/strata/app/internal/chatclient"
	"github.com/strata-go/strata/internal/testservers"
)

// bins holds the app's binary, built once per test run (TestMain
// removes it).
var bins = appnode.NewBinaries("strata-chat-")

func TestMain(m *testing.M) {
	code := m.Run()
	bins.Remove()
	os.Exit(code)
}

// proc is an app node running as a process of its own, restarted on the
// same address.
type proc struct {
	t    *testing.T
	bin  string
	args []string
	addr string // host:port, kept across restarts
	node *appnode.Node
}

// startProc starts a node on addr ("127.0.0.1:0" the first time).
func startProc(t *testing.T, bin, addr string, args ...string) *proc {
	p := &proc{t: t, bin: bin, args: args, addr: addr}
	p.start()
	t.Cleanup(func() {
		if p.node != nil {
			p.node.Kill()
		}
	})
	return p
}

func (p *proc) start() {
	p.t.Helper()
	n, err := appnode.Start(p.bin, append([]string{"-addr", p.addr, "-data", p.t.TempDir()}, p.args...)...)
	require.NoError(p.t, err)
	p.node, p.addr = n, n.Addr()
}

// base is the node's URL.
func (p *proc) base() string { return "http://" + p.addr }

// kill ends the node at once (SIGKILL): no goodbye to its clients.
func (p *proc) kill() {
	p.node.Kill()
	p.node = nil
}

// stop ends the node gracefully (SIGTERM): its clients are told to move.
func (p *proc) stop() {
	p.t.Helper()
	err := p.node.Stop(30 * time.Second)
	require.NoError(p.t, err, "a node stopped by SIGTERM exits cleanly; logs:\n%s", p.node.Logs)
	p.node = nil
}

// Three app nodes, each a process, share PostgreSQL and a Redis bus.
// Clients spread over them while senders send: messages cross nodes; a
// node killed outright loses its clients to the others without a lost or
// doubled message, and its users drop out of presence; then a rolling
// restart (SIGTERM, start again) of all three under traffic loses and
// doubles nothing either.
func TestClusterOfProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the app's binary")
	}
	store, bus := testservers.PostgresSchema(t), testservers.RedisURL(t)
	bin, err := bins.App()
	require.NoError(t, err)
	args := []string{"-store", store, "-bus", bus, "-presence-beat", "200ms", "-user-rate", "100000", "-app-rate", "100000"}
	nodes := []*proc{startProc(t, bin, "127.0.0.1:0", args...)} // the first migrates alone
	for range 2 {
		nodes = append(nodes, startProc(t, bin, "127.0.0.1:0", args...))
	}
	bases := func() []string {
		var out []string
		for _, n := range nodes {
			out = append(out, n.base())
		}
		return out
	}()
	token := func(user string) string {
		var tok struct{ Token string }
		require.Equal(t, 200, getJSON(t, nodes[0].base()+"/demo/token?user="+user, &tok))
		return tok.Token
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	t.Cleanup(cancel)
	type received struct {
		mu  sync.Mutex
		pos []int64
		ids map[string]bool
	}
	const readers = 6
	var got [readers]*received
	var clients []*chatclient.Client
	for i := range readers {
		r := &received{ids: map[string]bool{}}
		got[i] = r
		c := chatclient.New(chatclient.Options{Nodes: bases, Start: i, Token: token(fmt.Sprint("reader", i)),
			OnMessage: func(m chatclient.Message, _ time.Time) {
				p, _ := strconv.ParseInt(m.Pos, 10, 64)
				r.mu.Lock()
				r.pos = append(r.pos, p)
				r.ids[m.ID] = true
				r.mu.Unlock()
			}})
		clients = append(clients, c)
		wg.Go(func() { c.Run(ctx) })
	}
	// Presence: a watcher on node 0 and a user on node 1 only, who will
	// not come back when node 1 dies.
	var presence sync.Map // user → true while online
	watcher := chatclient.New(chatclient.Options{Nodes: bases[:1], Token: token("watcher"), OnPresence: func(users []chatclient.Person) {
		presence.Clear()
		for _, u := range users {
			presence.Store(u.ID, true)
		}
	}})
	wg.Go(func() { watcher.Run(ctx) })
	ghost, _, err := websocket.Dial(ctx, "ws"+nodes[1].base()[len("http"):]+"/v1/ws?token="+url.QueryEscape(token("ghost")), nil)
	require.NoError(t, err)
	defer ghost.CloseNow()
	go func() {
		for {
			if _, _, err := ghost.Read(ctx); err != nil {
				return
			}
		}
	}()
	for _, c := range append(clients, watcher) {
		require.NoError(t, c.WaitConnected(ctx))
	}
	online := func(user string) bool { _, ok := presence.Load(user); return ok }
	require.Eventually(t, func() bool { return online("ghost") && online("reader5") }, 5*time.Second, 10*time.Millisecond,
		"presence crosses nodes")

	// Senders, each on its own node to start with.
	const senders = 3
	var acked sync.Map // message id → true
	var sendClients []*chatclient.Client
	for i := range senders {
		c := chatclient.New(chatclient.Options{Nodes: bases, Start: i, Token: token(fmt.Sprint("sender", i)),
			OnAck: func(_ string, m chatclient.Message, _ time.Time) { acked.Store(m.ID, true) }})
		sendClients = append(sendClients, c)
		wg.Go(func() { c.Run(ctx) })
		require.NoError(t, c.WaitConnected(ctx))
	}
	// They send until the faults are over, and once more after.
	faultsDone, sendDone := make(chan struct{}), make(chan struct{})
	var sent int
	go func() {
		defer close(sendDone)
		for k := 0; ; k++ {
			for i, c := range sendClients {
				c.Send(ctx, fmt.Sprintf("s%d-%d", i, k), fmt.Sprintf("sender %d message %d", i, k))
				sent++
			}
			select {
			case <-faultsDone:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	// Node 1 dies; its users drop out of presence; it comes back.
	time.Sleep(150 * time.Millisecond)
	nodes[1].kill()
	require.Eventually(t, func() bool { return !online("ghost") }, 5*time.Second, 10*time.Millisecond,
		"the dead node's users drop out of presence")
	nodes[1].start()
	// A rolling restart of all three.
	for _, n := range nodes {
		time.Sleep(150 * time.Millisecond)
		n.stop()
		n.start()
	}
	close(faultsDone)
	<-sendDone

	total := sent
	t.Logf("%d messages sent while one node was killed and each was restarted", total)
	count := func(m *sync.Map) (n int) {
		m.Range(func(_, _ any) bool { n++; return true })
		return n
	}
	require.Eventually(t, func() bool { return count(&acked) == total }, 20*time.Second, 20*time.Millisecond,
		"every send is acknowledged in the end (%d of %d)", count(&acked), total)
	for i, r := range got {
		require.Eventually(t, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return len(r.ids) >= total
		}, 20*time.Second, 20*time.Millisecond, "reader %d", i)
		r.mu.Lock()
		require.Len(t, r.ids, total, "reader %d: exactly the messages sent", i)
		acked.Range(func(id, _ any) bool {
			require.True(t, r.ids[id.(string)], "reader %d lacks acknowledged message %s", i, id)
			return true
		})
		require.True(t, slices.IsSorted(r.pos), "reader %d got the messages in position order", i)
		require.Len(t, slices.Compact(slices.Clone(r.pos)), total, "reader %d: no position twice", i)
		r.mu.Unlock()
		st := clients[i].Stats()
		require.Zero(t, st.Duplicates, "reader %d: no connection delivered a message twice", i)
		require.Greater(t, st.Connects, 1, "reader %d was moved between nodes", i)
	}
}
