package redispubsub

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/pubsub/internal/faultproxy"
	"github.com/strata-go/strata/pubsub/internal/leakcheck"
	"github.com/strata-go/strata/pubsub/pubsubtest"
)

func TestContract(t *testing.T) {
	t.Run("Standalone", func(t *testing.T) {
		t.Parallel()
		rawURL := testservers.RedisURL(t)
		pubsubtest.Run(t, func(t *testing.T) pubsub.Bus { return openBus(t, rawURL) })
	})
	t.Run("Cluster", func(t *testing.T) {
		t.Parallel()
		rawURL := testservers.RedisClusterURL(t)
		pubsubtest.Run(t, func(t *testing.T) pubsub.Bus { return openBus(t, rawURL) })
	})
}

// openBus opens a bus of t's network on the server of rawURL, as the
// contract wants it.
func openBus(t *testing.T, rawURL string) pubsub.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), pubsubtest.Patience)
	defer cancel()
	b, err := Open(ctx, rawURL, Options{Prefix: pubsubtest.Prefix(t), QueueSize: pubsubtest.QueueSize})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// server is a Redis server or cluster under test.
type server struct {
	name    string
	url     func(testing.TB) string
	cluster bool
}

var servers = []server{
	{"Standalone", testservers.RedisURL, false},
	{"Cluster", testservers.RedisClusterURL, true},
}

// named makes a bus whose connections carry the client name name, so that
// the test can find and kill them. addr overrides the server's address
// (for a proxy) when set. The bus and client are closed when t ends.
func named(t *testing.T, s server, name, addr string, opts Options) *Bus {
	t.Helper()
	u, err := url.Parse(s.url(t))
	if err != nil {
		t.Fatal(err)
	}
	var client redis.UniversalClient
	if s.cluster {
		client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(u.Host, ","), ClientName: name})
	} else {
		o, err := redis.ParseURL(u.String())
		if err != nil {
			t.Fatal(err)
		}
		o.ClientName = name
		if addr != "" {
			o.Addr = addr
		}
		client = redis.NewClient(o)
	}
	t.Cleanup(func() { client.Close() })
	if opts.Prefix == "" {
		opts.Prefix = pubsubtest.Prefix(t)
	}
	b, err := New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// killSubscriber kills, with CLIENT KILL ID, the subscription connections
// whose client name is name (on every node of a cluster), and returns how
// many it killed. It kills nothing of other tests, which share the server.
func killSubscriber(t *testing.T, s server, name string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), pubsubtest.Patience)
	defer cancel()
	killed := 0
	kill := func(ctx context.Context, c *redis.Client) error {
		list, err := c.Do(ctx, "CLIENT", "LIST", "TYPE", "pubsub").Text()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
			f := clientFields(line)
			if f["name"] != name {
				continue
			}
			if err := c.Do(ctx, "CLIENT", "KILL", "ID", f["id"]).Err(); err != nil {
				return fmt.Errorf("CLIENT KILL ID %s: %w", f["id"], err)
			}
			killed++
		}
		return nil
	}
	u, _ := url.Parse(s.url(t))
	var err error
	if s.cluster {
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(u.Host, ",")})
		defer cc.Close()
		err = cc.ForEachShard(ctx, kill)
	} else {
		o, _ := redis.ParseURL(u.String())
		c := redis.NewClient(o)
		defer c.Close()
		err = kill(ctx, c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return killed
}

// clientFields parses a line of CLIENT LIST: "id=5 addr=... name=x ...".
func clientFields(line string) map[string]string {
	f := map[string]string{}
	for _, kv := range strings.Fields(line) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			f[k] = v
		}
	}
	return f
}

// clientName returns a client name unique to t.
func clientName(t *testing.T) string {
	return strings.TrimSuffix(pubsubtest.Prefix(t), ":")
}

// TestKillConnection: when Redis kills the subscription connection, the
// subscriber gets Lost, then Reset once the bus has subscribed again, then
// the messages published since.
func TestKillConnection(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			name := clientName(t)
			sub := named(t, s, name, "", Options{})
			pub := named(t, s, name+"-pub", "", Options{})
			r := pubsubtest.NewRecorder("k")
			if _, err := sub.Subscribe(t.Context(), "k", r.Handle); err != nil {
				t.Fatal(err)
			}
			publishT(t, pub, "k", "before")
			r.WaitMessages(t, "before")
			for round := 1; round <= 3; round++ {
				if n := killSubscriber(t, s, name); n != 1 {
					t.Fatalf("killed %d subscription connections, want 1", n)
				}
				evs := r.Wait(t, "Reset", func(evs []pubsub.Event) bool {
					return strings.Count(pubsubtest.Kinds(evs), "R") == round
				})
				if k := pubsubtest.Kinds(evs); !strings.HasSuffix(k, "LR") {
					t.Fatalf("events %s, want Lost then Reset", k)
				}
				m := fmt.Sprint("after", round)
				publishT(t, pub, "k", m)
				r.Wait(t, m, func(evs []pubsub.Event) bool {
					got := pubsubtest.Messages(evs)
					return got[len(got)-1] == m
				})
			}
			r.CheckWellFormed(t)
		})
	}
}

// TestStalledConnection: a subscription connection that stops answering,
// without being closed, is found out by the health check.
func TestStalledConnection(t *testing.T) {
	t.Parallel()
	s := servers[0]
	u, _ := url.Parse(s.url(t))
	proxy := faultproxy.Start(t, u.Host)
	prefix := pubsubtest.Prefix(t)
	sub := named(t, s, clientName(t), proxy.Addr(), Options{Prefix: prefix, HealthCheck: 250 * time.Millisecond})
	pub := named(t, s, clientName(t)+"-pub", "", Options{Prefix: prefix})
	r := pubsubtest.NewRecorder("s")
	if _, err := sub.Subscribe(t.Context(), "s", r.Handle); err != nil {
		t.Fatal(err)
	}
	publishT(t, pub, "s", "before")
	r.WaitMessages(t, "before")
	start := time.Now()
	proxy.Stall()
	r.WaitKind(t, pubsub.Lost)
	t.Logf("Lost %v after the stall", time.Since(start).Round(time.Millisecond))
	r.WaitKind(t, pubsub.Reset)
	publishT(t, pub, "s", "after")
	r.Wait(t, "after", func(evs []pubsub.Event) bool {
		got := pubsubtest.Messages(evs)
		return got[len(got)-1] == "after"
	})
	checkRecovered(t, r)
}

// TestOutage: while the server cannot be reached, subscribers have Lost
// and Subscribe fails; when it can again, they get Reset and messages.
func TestOutage(t *testing.T) {
	t.Parallel()
	s := servers[0]
	u, _ := url.Parse(s.url(t))
	proxy := faultproxy.Start(t, u.Host)
	prefix := pubsubtest.Prefix(t)
	sub := named(t, s, clientName(t), proxy.Addr(), Options{Prefix: prefix, HealthCheck: 200 * time.Millisecond})
	pub := named(t, s, clientName(t)+"-pub", "", Options{Prefix: prefix})
	r := pubsubtest.NewRecorder("o")
	if _, err := sub.Subscribe(t.Context(), "o", r.Handle); err != nil {
		t.Fatal(err)
	}
	publishT(t, pub, "o", "before")
	r.WaitMessages(t, "before")

	proxy.Cut()
	r.WaitKind(t, pubsub.Lost)
	ctx, cancel := context.WithTimeout(t.Context(), pubsubtest.Patience)
	defer cancel()
	start := time.Now()
	never := func(pubsub.Event) { t.Error("handler of a failed Subscribe called") }
	if c, err := sub.Subscribe(ctx, "other", never); err == nil || c != nil || errors.Is(err, pubsub.ErrInvalid) {
		t.Fatalf("Subscribe during the outage: %v, want a connection error", err)
	} else {
		t.Logf("Subscribe during the outage: %v (after %v)", err, time.Since(start).Round(time.Millisecond))
	}
	if ctx.Err() != nil {
		t.Fatal("Subscribe during the outage waited for its context instead of failing")
	}
	time.Sleep(300 * time.Millisecond) // a few failed reconnections
	if k := pubsubtest.Kinds(r.Events()); !strings.HasPrefix(k, "mL") || strings.Contains(k, "R") {
		t.Fatalf("events during the outage %s, want mL, then no Reset", k)
	}

	proxy.Restore()
	r.WaitKind(t, pubsub.Reset)
	publishT(t, pub, "o", "after")
	r.WaitMessages(t, "before", "after")
	checkRecovered(t, r)
	r2 := pubsubtest.NewRecorder("other")
	if _, err := sub.Subscribe(t.Context(), "other", r2.Handle); err != nil {
		t.Fatalf("Subscribe after the outage: %v", err)
	}
	publishT(t, pub, "other", "x")
	r2.WaitMessages(t, "x")
}

// TestSubscribeWaitsForServer: over a slow connection, a message
// published (over a fast one) as soon as Subscribe returns is delivered,
// so Subscribe waited for the server.
func TestSubscribeWaitsForServer(t *testing.T) {
	t.Parallel()
	s := servers[0]
	u, _ := url.Parse(s.url(t))
	proxy := faultproxy.Start(t, u.Host)
	prefix := pubsubtest.Prefix(t)
	sub := named(t, s, clientName(t), proxy.Addr(), Options{Prefix: prefix})
	pub := named(t, s, clientName(t)+"-pub", "", Options{Prefix: prefix})
	proxy.SetDelay(30 * time.Millisecond)
	for i := range 5 {
		topic := fmt.Sprint("w", i)
		r := pubsubtest.NewRecorder(topic)
		if _, err := sub.Subscribe(t.Context(), topic, r.Handle); err != nil {
			t.Fatal(err)
		}
		publishT(t, pub, topic, "now")
		r.WaitMessages(t, "now")
	}
}

// TestSubscribeHonoursContext: Subscribe gives up when its context ends
// before Redis confirms.
func TestSubscribeHonoursContext(t *testing.T) {
	t.Parallel()
	s := servers[0]
	u, _ := url.Parse(s.url(t))
	proxy := faultproxy.Start(t, u.Host)
	sub := named(t, s, clientName(t), proxy.Addr(), Options{HealthCheck: time.Hour})
	r := pubsubtest.NewRecorder("c")
	if _, err := sub.Subscribe(t.Context(), "c", r.Handle); err != nil {
		t.Fatal(err)
	}
	proxy.Stall() // commands vanish: no confirmation comes
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	c, err := sub.Subscribe(ctx, "d", func(pubsub.Event) {})
	if !errors.Is(err, context.DeadlineExceeded) || c != nil {
		t.Fatalf("Subscribe: %v, want context.DeadlineExceeded", err)
	}
}

func publishT(t *testing.T, b pubsub.Bus, topic, msg string) {
	t.Helper()
	if err := b.Publish(t.Context(), topic, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

func TestOptions(t *testing.T) {
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	for _, o := range []Options{
		{Prefix: "bad prefix"},
		{Prefix: strings.Repeat("p", MaxPrefix+1)},
		{HealthCheck: -1},
		{QueueSize: -1},
		{MaxMessage: -1},
		{MaxMessage: MaxMaxMessage + 1},
	} {
		if _, err := New(client, o); !errors.Is(err, pubsub.ErrInvalid) {
			t.Errorf("New(%+v): %v, want ErrInvalid", o, err)
		}
	}
	if _, err := New(nil, Options{}); !errors.Is(err, pubsub.ErrInvalid) {
		t.Errorf("New(nil): %v, want ErrInvalid", err)
	}
	for _, u := range []string{
		"http://127.0.0.1:1",
		"redis://127.0.0.1:1/0?queue_size=x",
		"redis://127.0.0.1:1/0?health_check=-1s",
		"redis://127.0.0.1:1/0?prefix=a%20b",
		"redis://127.0.0.1:1/0?max_message=0",
		"redis+cluster://127.0.0.1:1?pool_size=3",
		"redis+cluster://",
		"redis://127.0.0.1:1/0?no_such_option=1",
		"::",
	} {
		if _, err := Open(ctx, u, Options{}); !errors.Is(err, pubsub.ErrInvalid) {
			t.Errorf("Open(%q): %v, want ErrInvalid", u, err)
		}
	}
	// A server that is not there.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := Open(ctx, "redis://127.0.0.1:1/0?dial_timeout=100ms", Options{}); err == nil || errors.Is(err, pubsub.ErrInvalid) {
		t.Errorf("Open of a closed port: %v, want a connection error", err)
	}
}

func TestOpenOptions(t *testing.T) {
	rawURL := testservers.RedisURL(t)
	sep := "?"
	if strings.Contains(rawURL, "?") {
		sep = "&"
	}
	b, err := Open(t.Context(), rawURL+sep+"prefix=app1:&health_check=250ms&queue_size=7&max_message=100&pool_size=2", Options{Prefix: "ignored:", QueueSize: 9})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	want := Options{Prefix: "app1:", HealthCheck: 250 * time.Millisecond, QueueSize: 7, MaxMessage: 100}
	if b.opts != want {
		t.Fatalf("options %+v, want %+v", b.opts, want)
	}
	if b.MaxMessage() != 100 {
		t.Fatalf("MaxMessage() = %d", b.MaxMessage())
	}
}

// TestNoLeak: Close ends every goroutine of the bus, even after a lost
// connection. Not parallel: it looks at every goroutine.
func TestNoLeak(t *testing.T) {
	s := servers[0]
	name := clientName(t)
	b := named(t, s, name, "", Options{})
	r := pubsubtest.NewRecorder("t")
	if _, err := b.Subscribe(t.Context(), "t", r.Handle); err != nil {
		t.Fatal(err)
	}
	cancel, err := b.Subscribe(t.Context(), "u", func(pubsub.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	publishT(t, b, "t", "x")
	r.WaitMessages(t, "x")
	killSubscriber(t, s, name)
	r.WaitKind(t, pubsub.Reset)
	if n := len(leakcheck.Running()); n < 2 {
		t.Fatalf("leakcheck sees %d goroutines of an open bus: are its Creators stale?", n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Check(t)
}

// checkRecovered checks the events of a subscription that received a
// message, lost its connection, recovered and received another: a
// message, Lost, then (after any further failures) Reset and the message.
func checkRecovered(t *testing.T, r *pubsubtest.Recorder) {
	t.Helper()
	r.CheckWellFormed(t)
	if k := pubsubtest.Kinds(r.Events()); !strings.HasPrefix(k, "mL") || !strings.HasSuffix(k, "Rm") || strings.Count(k, "m") != 2 {
		t.Fatalf("events %s, want mL…Rm", k)
	}
}
