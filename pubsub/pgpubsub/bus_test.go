package pgpubsub

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/pubsub/internal/faultproxy"
	"github.com/strata-go/strata/pubsub/internal/leakcheck"
	"github.com/strata-go/strata/pubsub/pubsubtest"
)

func TestContract(t *testing.T) {
	rawURL := testservers.PostgresURL(t)
	pubsubtest.Run(t, func(t *testing.T) pubsub.Bus {
		return newBus(t, rawURL, Options{Prefix: pubsubtest.Prefix(t), QueueSize: pubsubtest.QueueSize})
	})
}

// newBus makes a bus on the server of rawURL, closed when t ends.
func newBus(t *testing.T, rawURL string, opts Options) *Bus {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = pubsubtest.Prefix(t)
	}
	ctx, cancel := context.WithTimeout(t.Context(), pubsubtest.Patience)
	defer cancel()
	b, err := New(ctx, rawURL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// viaProxy returns the server's URL with a fault proxy's address, and the
// proxy.
func viaProxy(t *testing.T) (string, *faultproxy.Proxy) {
	t.Helper()
	u, err := url.Parse(testservers.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	p := faultproxy.Start(t, u.Host)
	u.Host = p.Addr()
	return u.String(), p
}

func publishT(t *testing.T, b pubsub.Bus, topic, msg string) {
	t.Helper()
	if err := b.Publish(t.Context(), topic, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

func subscribeT(t *testing.T, b pubsub.Bus, topic string) *pubsubtest.Recorder {
	t.Helper()
	r := pubsubtest.NewRecorder(topic)
	cancel, err := b.Subscribe(t.Context(), topic, r.Handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return r
}

func lastMessage(m string) func([]pubsub.Event) bool {
	return func(evs []pubsub.Event) bool {
		got := pubsubtest.Messages(evs)
		return len(got) > 0 && got[len(got)-1] == m
	}
}

// TestTerminateListener: when PostgreSQL ends the listening session, its
// subscribers get Lost, then Reset once the bus listens again on a new
// session, then the messages published since.
func TestTerminateListener(t *testing.T) {
	t.Parallel()
	rawURL := testservers.PostgresURL(t)
	sub := newBus(t, rawURL, Options{})
	pub := newBus(t, rawURL, Options{})
	admin, err := pgx.Connect(t.Context(), rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())

	r := subscribeT(t, sub, "k")
	publishT(t, pub, "k", "before")
	r.WaitMessages(t, "before")
	for round := 1; round <= 3; round++ {
		pid := sub.pid.Load()
		var ok bool
		if err := admin.QueryRow(t.Context(), "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&ok); err != nil || !ok {
			t.Fatalf("pg_terminate_backend(%d): %v, %v", pid, ok, err)
		}
		evs := r.Wait(t, "Reset", func(evs []pubsub.Event) bool {
			return strings.Count(pubsubtest.Kinds(evs), "R") == round
		})
		if k := pubsubtest.Kinds(evs); !strings.HasSuffix(k, "LR") {
			t.Fatalf("events %s, want Lost then Reset", k)
		}
		if sub.pid.Load() == pid {
			t.Fatal("still the terminated session")
		}
		m := fmt.Sprint("after", round)
		publishT(t, pub, "k", m)
		r.Wait(t, m, lastMessage(m))
	}
	r.CheckWellFormed(t)
}

// TestStalledConnection: a listening connection that stops answering,
// without being closed, is found out by the health check.
func TestStalledConnection(t *testing.T) {
	t.Parallel()
	proxied, proxy := viaProxy(t)
	prefix := pubsubtest.Prefix(t)
	sub := newBus(t, proxied, Options{Prefix: prefix, HealthCheck: 250 * time.Millisecond})
	pub := newBus(t, testservers.PostgresURL(t), Options{Prefix: prefix})
	r := subscribeT(t, sub, "s")
	publishT(t, pub, "s", "before")
	r.WaitMessages(t, "before")
	start := time.Now()
	proxy.Stall()
	r.WaitKind(t, pubsub.Lost)
	t.Logf("Lost %v after the stall", time.Since(start).Round(time.Millisecond))
	r.WaitKind(t, pubsub.Reset)
	publishT(t, pub, "s", "after")
	r.Wait(t, "after", lastMessage("after"))
	checkRecovered(t, r)
}

// TestOutage: while the server cannot be reached, subscribers have Lost
// and Subscribe fails; when it can again, they get Reset and messages.
func TestOutage(t *testing.T) {
	t.Parallel()
	proxied, proxy := viaProxy(t)
	prefix := pubsubtest.Prefix(t)
	sub := newBus(t, proxied, Options{Prefix: prefix, HealthCheck: 200 * time.Millisecond})
	pub := newBus(t, testservers.PostgresURL(t), Options{Prefix: prefix})
	r := subscribeT(t, sub, "o")
	publishT(t, pub, "o", "before")
	r.WaitMessages(t, "before")

	proxy.Cut()
	r.WaitKind(t, pubsub.Lost)
	// Once a new connection has failed, Subscribe fails at once.
	deadline := time.Now().Add(pubsubtest.Patience)
	for {
		sub.mu.Lock()
		down := sub.connErr != nil
		sub.mu.Unlock()
		if down {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no failed reconnection")
		}
		time.Sleep(10 * time.Millisecond)
	}
	never := func(pubsub.Event) { t.Error("handler of a failed Subscribe called") }
	ctx, cancel := context.WithTimeout(t.Context(), pubsubtest.Patience)
	defer cancel()
	if c, err := sub.Subscribe(ctx, "other", never); err == nil || c != nil || errors.Is(err, pubsub.ErrInvalid) || ctx.Err() != nil {
		t.Fatalf("Subscribe during the outage: %v, want a connection error at once", err)
	} else {
		t.Logf("Subscribe during the outage: %v", err)
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
	r2 := subscribeT(t, sub, "other")
	publishT(t, pub, "other", "x")
	r2.WaitMessages(t, "x")
}

// TestSubscribeWaitsForServer: over a slow connection, a message published
// (over a fast one) as soon as Subscribe returns is delivered, so
// Subscribe waited for LISTEN.
func TestSubscribeWaitsForServer(t *testing.T) {
	t.Parallel()
	proxied, proxy := viaProxy(t)
	prefix := pubsubtest.Prefix(t)
	sub := newBus(t, proxied, Options{Prefix: prefix})
	pub := newBus(t, testservers.PostgresURL(t), Options{Prefix: prefix})
	proxy.SetDelay(30 * time.Millisecond)
	for i := range 5 {
		topic := fmt.Sprint("w", i)
		r := subscribeT(t, sub, topic)
		publishT(t, pub, topic, "now")
		r.WaitMessages(t, "now")
	}
}

// TestSubscribeHonoursContext: Subscribe gives up when its context ends
// before LISTEN has committed.
func TestSubscribeHonoursContext(t *testing.T) {
	t.Parallel()
	proxied, proxy := viaProxy(t)
	sub := newBus(t, proxied, Options{HealthCheck: time.Hour})
	subscribeT(t, sub, "c")
	proxy.Stall()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	c, err := sub.Subscribe(ctx, "d", func(pubsub.Event) {})
	if !errors.Is(err, context.DeadlineExceeded) || c != nil {
		t.Fatalf("Subscribe: %v, want context.DeadlineExceeded", err)
	}
}

// TestForeignNotification: a NOTIFY on the bus's channel that is not one
// of its messages is dropped; the subscription goes on.
func TestForeignNotification(t *testing.T) {
	t.Parallel()
	rawURL := testservers.PostgresURL(t)
	b := newBus(t, rawURL, Options{})
	r := subscribeT(t, b, "f")
	conn, err := pgx.Connect(t.Context(), rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, payload := range []string{"not base64!", "YQ", "", "\u00e9"} {
		if _, err := conn.Exec(t.Context(), "SELECT pg_notify($1, $2)", channelName(b.opts.Prefix, "f"), payload); err != nil {
			t.Fatal(err)
		}
	}
	publishT(t, b, "f", "mine")
	// The empty payload is the empty message, base64 or not.
	r.WaitMessages(t, "", "mine")
	r.CheckNoLoss(t)
}

func TestOptions(t *testing.T) {
	ctx := context.Background()
	for _, o := range []Options{
		{Prefix: "bad prefix"},
		{Prefix: strings.Repeat("p", MaxPrefix+1)},
		{HealthCheck: -1},
		{QueueSize: -1},
		{MaxConns: -1},
	} {
		if _, err := New(ctx, "postgres://127.0.0.1:1/x", o); !errors.Is(err, pubsub.ErrInvalid) {
			t.Errorf("New(%+v): %v, want ErrInvalid", o, err)
		}
	}
	if _, err := New(ctx, "postgres://127.0.0.1:1/x?sslmode=nonsense", Options{}); !errors.Is(err, pubsub.ErrInvalid) {
		t.Errorf("New with a bad connection string: %v, want ErrInvalid", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := New(ctx, "postgres://127.0.0.1:1/x?connect_timeout=1", Options{}); err == nil || errors.Is(err, pubsub.ErrInvalid) {
		t.Errorf("New on a closed port: %v, want a connection error", err)
	}
}

// TestNoLeak: Close ends every goroutine of the bus, even after a lost
// connection. Not parallel: it looks at every goroutine.
func TestNoLeak(t *testing.T) {
	rawURL := testservers.PostgresURL(t)
	b := newBus(t, rawURL, Options{})
	r := subscribeT(t, b, "t")
	cancel, err := b.Subscribe(t.Context(), "u", func(pubsub.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	publishT(t, b, "t", "x")
	r.WaitMessages(t, "x")
	admin, err := pgx.Connect(t.Context(), rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(t.Context(), "SELECT pg_terminate_backend($1)", int32(b.pid.Load())); err != nil {
		t.Fatal(err)
	}
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
