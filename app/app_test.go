package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/ephemeral"
	"github.com/strata-go/strata/internal/redisurl"
	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/snowflake"
)

// start runs the app on a free port with a fresh data directory and
// returns its base URL and a function that stops it (as SIGTERM does)
// and returns run's error.
func start(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	cfg, _, err := parseConfig(append([]string{"-addr", "127.0.0.1:0", "-data", t.TempDir()}, args...), func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, pw); pw.Close() }()
	lines := bufio.NewScanner(pr)
	require.True(t, lines.Scan(), "the app printed nothing")
	base := regexp.MustCompile(`http://[0-9.:]+`).FindString(lines.Text())
	require.NotEmpty(t, base, "no URL in %q", lines.Text())
	require.True(t, lines.Scan())
	require.Contains(t, lines.Text(), base+"/demo", "it says where the demo page is")
	go io.Copy(io.Discard, pr)
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			t.Fatal("the app did not stop")
			return nil
		}
	}
	t.Cleanup(func() { cancel() })
	return base, stop
}

func getJSON(t *testing.T, u string, out any) int {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

// sendJSON sends a message over the HTTP API and fails the test unless
// it is stored.
func sendJSON(t *testing.T, base, tok, clientID, text string) {
	t.Helper()
	body := fmt.Sprintf(`{"client_id":%q,"text":%q}`, clientID, text)
	req, err := http.NewRequestWithContext(t.Context(), "POST", base+"/v1/messages", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
}

// The node list for the widget, and /metrics on a listener of its own.
func TestNodesAndMetricsAddr(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	metrics := ln.Addr().String()
	ln.Close()
	base, stop := start(t, "-nodes", "https://n1.example,https://n2.example", "-metrics-addr", metrics)
	var nodes struct{ Nodes []string }
	require.Equal(t, 200, getJSON(t, base+"/v1/nodes", &nodes))
	require.Equal(t, []string{"https://n1.example", "https://n2.example"}, nodes.Nodes)
	require.Equal(t, 404, getJSON(t, base+"/metrics", nil), "not on the public listener")
	resp, err := http.Get("http://" + metrics + "/metrics")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, string(b), "go_goroutines")
	require.Equal(t, 404, getJSON(t, base+"/debug/pprof/heap", nil), "no profiles on the public listener")
	resp, err = http.Get("http://" + metrics + "/debug/pprof/heap?debug=1")
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, string(b), "heap profile")
	require.NoError(t, stop())
	_, err = http.Get("http://" + metrics + "/metrics")
	require.Error(t, err, "the metrics listener stops with the app")
}

// The default app: health, the demo page, and two users chatting over
// WebSocket; stopping it tells its clients to go elsewhere.
func TestApp(t *testing.T) {
	base, stop := start(t)
	require.Equal(t, 200, getJSON(t, base+"/healthz", nil))
	require.Equal(t, 200, getJSON(t, base+"/readyz", nil))
	resp, err := http.Get(base + "/demo")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(page), "/demo/page.js")
	for _, path := range []string{"/widget.js", "/demo/page.js", "/demo/sw.js", "/demo/manifest.webmanifest"} {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, path)
	}
	resp, err = http.Get(base + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	dial := func(user string) *websocket.Conn {
		var tok map[string]string
		require.Equal(t, 200, getJSON(t, base+"/demo/token?user="+user, &tok))
		c, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(base, "http")+"/v1/ws?token="+url.QueryEscape(tok["token"]), nil)
		require.NoError(t, err)
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	ann, bob := dial("ann"), dial("bob")
	require.NoError(t, ann.Write(t.Context(), websocket.MessageText, []byte(`{"type":"send","client_id":"c1","text":"hi bob"}`)))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for got := false; !got; {
		_, data, err := bob.Read(ctx)
		require.NoError(t, err)
		got = strings.Contains(string(data), `"text":"hi bob"`)
	}

	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := bob.Read(context.Background()); err != nil {
				closed <- err
				return
			}
		}
	}()
	go func() { // ann answers her close frame too, as a browser does
		for {
			if _, _, err := ann.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	require.NoError(t, stop())
	err = <-closed
	require.Equal(t, websocket.StatusGoingAway, websocket.CloseStatus(err), "a stopping node tells its clients to go elsewhere: %v", err)
}

func TestConfig(t *testing.T) {
	env := map[string]string{"STRATA_CHAT_ADDR": ":9", "STRATA_CHAT_NODE": "7", "STRATA_CHAT_DEMO": "false"}
	c, args, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	require.Empty(t, args)
	require.Equal(t, ":9", c.Addr)
	require.Equal(t, 7, c.Node)
	require.False(t, c.Demo)
	require.True(t, strings.HasPrefix(c.Store, "sqlite://") && strings.HasSuffix(c.Store, "/chat.db"))
	c, args, err = parseConfig([]string{"-addr", ":10", "-store", "memory://", "app", "create", "X"}, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{"app", "create", "X"}, args, "what follows the flags is a command")
	require.Equal(t, ":10", c.Addr, "a flag wins over the environment")
	require.Equal(t, "memory://", c.Store)
	for _, bad := range [][]string{{"-node", "5000"}, {"-nope"}} {
		_, _, err := parseConfig(bad, func(string) string { return "" }, io.Discard)
		require.Error(t, err, "%v", bad)
	}
	_, _, err = parseConfig(nil, func(k string) string { return map[string]string{"STRATA_CHAT_DEMO": "maybe"}[k] }, io.Discard)
	require.Error(t, err)
}

// A configuration file fills what neither a flag nor the environment
// sets; unknown or malformed settings are refused with the file's name.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		name := filepath.Join(dir, fmt.Sprint(len(body), ".json"))
		require.NoError(t, os.WriteFile(name, []byte(body), 0o600))
		return name
	}
	file := write(`{"addr": ":11", "store": "memory://", "store-ap": "memory://ap", "bus": "redis://r:6379",
		"node": 12, "demo": false, "nodes": ["https://n1.example", "https://n2.example/"], "metrics-addr": "127.0.0.1:9100"}`)
	env := map[string]string{"STRATA_CHAT_CONFIG": file, "STRATA_CHAT_BUS": "postgres://db/x"}
	c, _, err := parseConfig([]string{"-node", "3"}, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, ":11", c.Addr)
	require.Equal(t, "memory://", c.Store)
	require.Equal(t, "memory://ap", c.StoreAP)
	require.Empty(t, c.StoreCP)
	require.Equal(t, "postgres://db/x", c.Bus, "the environment wins over the file")
	require.Equal(t, 3, c.Node, "a flag wins over the file")
	require.False(t, c.Demo)
	require.Equal(t, []string{"https://n1.example", "https://n2.example"}, c.Nodes)
	require.Equal(t, "127.0.0.1:9100", c.MetricsAddr)

	for body, msg := range map[string]string{
		`{"stor": "memory://"}`:          `unknown setting "stor"`,
		`{"demo": "maybe"}`:              "demo",
		`{"nodes": [1]}`:                 "a list holds strings",
		`{"store": {"url": "x"}}`:        "want a string",
		`not json`:                       "not a JSON object",
		`null`:                           "not a JSON object: null",
		`{"addr": ":1"} }`:               "more after it",
		`{"nodes": "ftp://n1"}`:          "not a node's base URL",
		`{"nodes": "https://n1/chat/x"}`: "not a node's base URL",
		`{"node": 1024}`:                 "not 0–1023",
	} {
		_, _, err := parseConfig([]string{"-config", write(body)}, func(string) string { return "" }, io.Discard)
		require.ErrorContains(t, err, msg, body)
	}
	_, _, err = parseConfig([]string{"-config", filepath.Join(dir, "missing.json")}, func(string) string { return "" }, io.Discard)
	require.Error(t, err)
}

// Nodes that share a Redis lease distinct node ids, keep them while they
// run, and free them when they stop; a node whose id was taken stops.
func TestNodeLease(t *testing.T) {
	rdb, err := redisurl.Parse(testservers.RedisURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { rdb.Close() })
	c, err := ephemeral.NewRedis(rdb, ephemeral.RedisOptions{Prefix: fmt.Sprintf("lease-test-%d:", time.Now().UnixNano())})
	require.NoError(t, err)
	ids := map[int]func(){}
	for range 20 {
		l, release, err := leaseNode(t.Context(), c, slog.New(slog.DiscardHandler), nodeLeaseTTL, func(error) { t.Error("a lease lost") })
		require.NoError(t, err)
		require.NotContains(t, ids, l.node, "two live nodes leased the same id")
		ids[l.node] = release
		id, err := l.Next()
		require.NoError(t, err)
		require.Equal(t, l.node, id.Node(), "a leased id's source draws ids of that node")
	}
	for id, release := range ids {
		_, err := c.Get(t.Context(), leaseKey(id))
		require.NoError(t, err, "a live node's lease is held")
		release()
		_, err = c.Get(t.Context(), leaseKey(id))
		require.ErrorIs(t, err, ephemeral.ErrNotFound, "a stopped node frees its id")
	}
	// A lease that expired and was taken by another node is not renewed
	// over it.
	require.NoError(t, c.Set(t.Context(), leaseKey(5), []byte("theirs"), time.Minute))
	require.ErrorIs(t, renewLease(t.Context(), c, 5, []byte("mine"), time.Minute), errLeaseLost)
	require.NoError(t, c.Delete(t.Context(), leaseKey(5)))
	require.NoError(t, renewLease(t.Context(), c, 5, []byte("mine"), time.Minute), "an expired lease is retaken")
	v, err := c.Get(t.Context(), leaseKey(5))
	require.NoError(t, err)
	require.Equal(t, "mine", string(v))

	// A node renewing every 100 ms whose id another node takes is told
	// so, and draws no more ids; stopping, it leaves the other's lease
	// alone.
	lost := make(chan error, 1)
	l, release, err := leaseNode(t.Context(), c, slog.New(slog.DiscardHandler), 300*time.Millisecond, func(err error) { lost <- err })
	require.NoError(t, err)
	require.NoError(t, c.Set(t.Context(), leaseKey(l.node), []byte("theirs"), time.Minute))
	select {
	case err := <-lost:
		require.ErrorIs(t, err, errLeaseLost)
	case <-time.After(5 * time.Second):
		t.Fatal("a node whose id was taken was not told")
	}
	_, err = l.Next()
	require.ErrorIs(t, err, errLeaseLost)
	require.ErrorIs(t, err, chat.ErrUnavailable, "the API answers 503")
	release()
	v, err = c.Get(t.Context(), leaseKey(l.node))
	require.NoError(t, err)
	require.Equal(t, "theirs", string(v), "the other node's lease is left alone")
}

// A leased id's source refuses ids once its lease may have expired
// (no renewal got through for about the lease's time), and draws them
// again after a renewal.
func TestLeasedIDsInDoubt(t *testing.T) {
	g, err := snowflake.New(7)
	require.NoError(t, err)
	l := &leasedIDs{node: 7, g: g}
	l.held(time.Now(), time.Minute)
	_, err = l.Next()
	require.NoError(t, err)
	l.held(time.Now().Add(-55*time.Second), time.Minute) // the last renewal that got through, 55 s ago
	_, err = l.Next()
	require.ErrorIs(t, err, chat.ErrUnavailable)
	require.NotErrorIs(t, err, errLeaseLost)
	l.held(time.Now(), time.Minute)
	_, err = l.Next()
	require.NoError(t, err)
}

// The app on a router: the messages on one store (AP), the rest on
// another (CP).
func TestStoreRoutes(t *testing.T) {
	dir := t.TempDir()
	base, stop := start(t, "-store-ap", "sqlite://"+dir+"/ap.db", "-store-cp", "sqlite://"+dir+"/cp.db")
	var tok struct{ Token string }
	require.Equal(t, 200, getJSON(t, base+"/demo/token?user=ann", &tok))
	sendJSON(t, base, tok.Token, "r1", "routed")
	require.NoError(t, stop())
	for name, want := range map[string]bool{"ap.db": true, "cp.db": false} {
		db, err := sql.Open("sqlite", filepath.Join(dir, name))
		require.NoError(t, err)
		var n int
		err = db.QueryRow("SELECT count(*) FROM chat_messages").Scan(&n)
		db.Close()
		require.Equal(t, want, err == nil && n == 1, "%s holds the message: %v", name, err)
	}
	_, err := os.Stat(filepath.Join(dir, "chat.db"))
	require.True(t, os.IsNotExist(err), "no default store is opened when AP and CP are both given")
}

// The admin commands: an app and its keys, made and rotated on the
// store the app serves; a token of a disabled key is refused.
func TestAdmin(t *testing.T) {
	dir := t.TempDir()
	cfg, _, err := parseConfig([]string{"-data", dir}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	do := func(args ...string) string {
		t.Helper()
		var out strings.Builder
		require.NoError(t, admin(t.Context(), cfg, args, &out), "%v", args)
		return out.String()
	}
	require.Equal(t, "migrated\n", do("migrate"))
	created := do("app", "create", "Acme")
	m := regexp.MustCompile(`app (pk_[0-9a-f]+) \(Acme\)\nkey (k[0-9a-f]+) secret ([0-9a-f]{64})\n`).FindStringSubmatch(created)
	require.NotNil(t, m, "%q", created)
	app, key1 := m[1], m[2]
	added := do("app", "key", "add", app)
	key2 := regexp.MustCompile(`key (k[0-9a-f]+) secret`).FindStringSubmatch(added)[1]
	require.Equal(t, "key "+key1+" disabled\n", do("app", "key", "disable", app, key1))
	keys := do("app", "keys", app)
	require.Contains(t, keys, "key "+key1+" disabled")
	require.Contains(t, keys, "key "+key2+" enabled")
	var out strings.Builder
	require.Error(t, admin(t.Context(), cfg, []string{"app", "key", "disable", app, "k000"}, &out))
	require.Error(t, admin(t.Context(), cfg, []string{"frobnicate"}, &out))
}

// With the bus on Redis, every node counts rate limits in one place.
func TestLimitsShared(t *testing.T) {
	u := testservers.RedisURL(t)
	a, err := openLimits(u)
	require.NoError(t, err)
	defer a.Close()
	b, err := openLimits(u)
	require.NoError(t, err)
	defer b.Close()
	key := "limit-test-" + strings.ReplaceAll(time.Now().Format(time.RFC3339Nano), ":", "")
	n1, err := a.Incr(t.Context(), key, 1, time.Minute)
	require.NoError(t, err)
	n2, err := b.Incr(t.Context(), key, 1, time.Minute)
	require.NoError(t, err)
	require.Equal(t, n1+1, n2, "two nodes share the count")
	local, err := openLimits("")
	require.NoError(t, err)
	defer local.Close()
	n, err := local.Incr(t.Context(), key, 1, time.Minute)
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "without a Redis bus, each node counts its own")
}
