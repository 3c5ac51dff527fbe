package redis

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/strata-go/strata/internal/redisurl"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
)

func init() {
	for _, scheme := range redisurl.Schemes {
		repo.Register(scheme, func(ctx context.Context, u *url.URL) (driver.Adapter, error) {
			return Open(ctx, u.String())
		})
	}
}

// Open opens an adapter from a URL:
//
//	redis://[user:password@]host:port[/db]           one server
//	rediss://...                                     one server over TLS
//	redis+cluster://[user:password@]h1:p1,h2:p2,...  a Redis Cluster (any of its nodes)
//	rediss+cluster://...                             a cluster over TLS
//
// The query may hold the adapter's options — namespace, shards, replicas,
// replica_timeout, write_id_ttl, sweep_every (durations such as 500ms)
// and ttl.<collection> (a collection's time to live, as ttl.presence=30s)
// — and, for
// one server, go-redis's own (dial_timeout, pool_size, …; see
// goredis.ParseURL). Open checks that the store answers and loads the
// scripts.
func Open(ctx context.Context, rawURL string) (*Adapter, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: redis: %v", driver.ErrInvalid, err)
	}
	q := u.Query()
	opts, err := takeOptions(q)
	if err != nil {
		return nil, err
	}
	u.RawQuery = q.Encode()
	client, err := redisurl.NewClient(u)
	if err != nil {
		return nil, fmt.Errorf("%w: redis: %v", driver.ErrInvalid, err)
	}
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("redis: open %s: %w", u.Redacted(), err)
	}
	a, err := New(ctx, client, opts)
	if err != nil {
		client.Close()
		return nil, err
	}
	return a, nil
}

// takeOptions takes the adapter's parameters out of q.
func takeOptions(q url.Values) (Options, error) {
	var o Options
	take := func(name string) string {
		v := q.Get(name)
		q.Del(name)
		return v
	}
	o.Namespace = take("namespace")
	ints := map[string]*int{"shards": &o.Shards, "replicas": &o.Replicas}
	for name, p := range ints {
		if v := take(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return o, fmt.Errorf("%w: redis: %s=%q is not a count", driver.ErrInvalid, name, v)
			}
			*p = n
		}
	}
	durations := map[string]*time.Duration{"replica_timeout": &o.ReplicaTimeout, "write_id_ttl": &o.WriteIDTTL, "sweep_every": &o.SweepEvery}
	for name := range q {
		coll, ok := strings.CutPrefix(name, "ttl.")
		if !ok {
			continue
		}
		v := take(name)
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return o, fmt.Errorf("%w: redis: %s=%q is not a duration", driver.ErrInvalid, name, v)
		}
		if o.TTL == nil {
			o.TTL = map[string]time.Duration{}
		}
		o.TTL[coll] = d
	}
	for name, p := range durations {
		if v := take(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return o, fmt.Errorf("%w: redis: %s=%q is not a duration", driver.ErrInvalid, name, v)
			}
			*p = d
		}
	}
	return o, nil
}
