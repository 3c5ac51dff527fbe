package redispubsub

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/strata-go/strata/internal/redisurl"
	"github.com/strata-go/strata/pubsub"
)

// Open opens a bus on the Redis server or cluster that rawURL names, in
// the forms Strata's Redis adapter accepts:
//
//	redis://[user:password@]host:port[/db]           one server
//	rediss://...                                     one server over TLS
//	redis+cluster://[user:password@]h1:p1,h2:p2,...  a Redis Cluster (any of its nodes)
//	rediss+cluster://...                             a cluster over TLS
//
// The query may set the bus's options, overriding those of opts: prefix,
// health_check (a duration, as 500ms), queue_size and max_message; for one
// server, the rest are go-redis's own (dial_timeout, pool_size, …; see
// redis.ParseURL), and a cluster URL takes no other. (The db matters not:
// Redis pub/sub channels are global to a server.)
//
// Open checks that the server answers. The bus owns the client it makes,
// and closes it on Close.
func Open(ctx context.Context, rawURL string, opts Options) (*Bus, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("pubsub: redis: %w: %v", pubsub.ErrInvalid, err)
	}
	q := u.Query()
	if err := takeOptions(q, &opts); err != nil {
		return nil, fmt.Errorf("pubsub: redis: %s: %w", u.Redacted(), err)
	}
	if _, err := opts.withDefaults(); err != nil {
		return nil, fmt.Errorf("pubsub: redis: %w", err)
	}
	u.RawQuery = q.Encode()
	client, err := redisurl.NewClient(u)
	if err != nil {
		return nil, fmt.Errorf("pubsub: redis: %s: %w: %v", u.Redacted(), pubsub.ErrInvalid, err)
	}
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("pubsub: redis: open %s: %w", u.Redacted(), err)
	}
	b, err := New(client, opts)
	if err != nil {
		client.Close()
		return nil, err
	}
	b.ownsClient = true
	return b, nil
}

// takeOptions moves the bus's parameters from q to o.
func takeOptions(q url.Values, o *Options) error {
	take := func(name string) (string, bool) {
		v, ok := q[name]
		q.Del(name)
		if !ok {
			return "", false
		}
		return v[len(v)-1], true
	}
	if v, ok := take("prefix"); ok {
		o.Prefix = v
	}
	if v, ok := take("health_check"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%w: health_check=%q is not a duration", pubsub.ErrInvalid, v)
		}
		o.HealthCheck = d
	}
	for name, p := range map[string]*int{"queue_size": &o.QueueSize, "max_message": &o.MaxMessage} {
		if v, ok := take(name); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("%w: %s=%q is not a positive number", pubsub.ErrInvalid, name, v)
			}
			*p = n
		}
	}
	return nil
}
