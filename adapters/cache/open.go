package cache

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/strata-go/strata/internal/redisurl"
	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/pubsub/busurl"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
)

func init() { repo.RegisterWrapper("cache", open) }

// open opens a cache over the store of a URL whose scheme is "cache+"
// and the store's scheme (whose adapter package must be imported), as
// repo.Open("cache+postgres://…") does. The cache's options are query
// parameters starting with "cache.", taken out before the store's URL is
// opened:
//
//	cache.size=N          L1 records (Options.Size)
//	cache.ttl=D           L1 time to live (Options.TTL), a duration such as 30s
//	cache.l2=URL          Redis URL of the L2 (redis://, rediss://, redis+cluster://h1,h2)
//	cache.l2_ttl=D        L2 time to live
//	cache.bus=URL         invalidation bus: a Redis URL (pub/sub) or a
//	                      postgres:// URL (LISTEN/NOTIFY)
//	cache.namespace=NAME  Options.Namespace
//	cache.node=NAME       Options.Node
//	cache.negative=D      cache "not found" for D
//	cache.queries=D       cache query results for D
//	cache.max_rows=N      largest query result cached
//
// Values are percent-decoded except that '+' stays '+', so Redis Cluster
// URLs need no escaping; a value holding '&', '#' or '%' must be
// percent-encoded. The L2 client and the bus opened here are closed with
// the adapter.
func open(ctx context.Context, u *url.URL, inner driver.Opener) (driver.Adapter, error) {
	return openURL(ctx, u, inner)
}

func openURL(ctx context.Context, u *url.URL, inner driver.Opener) (_ *Adapter, err error) {
	scheme, ok := strings.CutPrefix(u.Scheme, "cache+")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("%w: cache: URL scheme %q does not start with cache+", driver.ErrInvalid, u.Scheme)
	}
	q, rest, err := splitQuery(u.RawQuery)
	if err != nil {
		return nil, err
	}
	opts, l2URL, busURL, err := takeOptions(q)
	if err != nil {
		return nil, err
	}
	storeURL := *u
	storeURL.Scheme = scheme
	storeURL.RawQuery = rest // the store's parameters, untouched

	var closers []func() error
	defer func() {
		if err != nil {
			for _, c := range closers {
				c()
			}
		}
	}()
	if l2URL != "" {
		rdb, err := redisurl.Parse(l2URL)
		if err != nil {
			return nil, fmt.Errorf("%w: cache: cache.l2: %v", driver.ErrInvalid, err)
		}
		closers = append(closers, rdb.Close)
		if err := rdb.Ping(ctx).Err(); err != nil {
			return nil, fmt.Errorf("cache: cache.l2: %w", err)
		}
		opts.L2 = rdb
	}
	if busURL != "" {
		bus, err := busurl.Open(ctx, busURL)
		if errors.Is(err, pubsub.ErrInvalid) {
			return nil, fmt.Errorf("%w: cache: cache.bus: %v", driver.ErrInvalid, err)
		} else if err != nil {
			return nil, fmt.Errorf("cache: cache.bus: %w", err)
		}
		closers = append(closers, bus.Close)
		opts.Bus = bus
	}
	store, err := inner(ctx, &storeURL)
	if err != nil {
		return nil, err
	}
	a, err := New(store, opts)
	if err != nil {
		store.Close()
		return nil, err
	}
	a.owned = closers
	return a, nil
}

// splitQuery takes the cache's parameters ("cache.*") out of a raw
// query, returning them and the rest. Their values are unescaped as paths
// are, so that a '+' stays a '+' (as in cache.l2=redis+cluster://…); a
// value holding '&' or '#' must be percent-encoded.
func splitQuery(raw string) (url.Values, string, error) {
	opts := url.Values{}
	var rest []string
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil || !strings.HasPrefix(name, "cache.") {
			rest = append(rest, part)
			continue
		}
		val, err := url.PathUnescape(v)
		if err != nil {
			return nil, "", fmt.Errorf("%w: cache: %s: %v", driver.ErrInvalid, name, err)
		}
		if opts.Has(name) {
			return nil, "", fmt.Errorf("%w: cache: %s given twice", driver.ErrInvalid, name)
		}
		opts.Set(name, val)
	}
	return opts, strings.Join(rest, "&"), nil
}

// takeOptions takes the cache's parameters out of q.
func takeOptions(q url.Values) (o Options, l2URL, busURL string, err error) {
	var errs []error
	take := func(name string) string {
		v := q.Get(name)
		q.Del(name)
		return v
	}
	count := func(name string, p *int) {
		if v := take(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				errs = append(errs, fmt.Errorf("%s=%q is not a positive count", name, v))
			}
			*p = n
		}
	}
	duration := func(name string, p *time.Duration) {
		if v := take(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("%s=%q is not a positive duration", name, v))
			}
			*p = d
		}
	}
	count("cache.size", &o.Size)
	count("cache.max_rows", &o.MaxRows)
	duration("cache.ttl", &o.TTL)
	duration("cache.l2_ttl", &o.L2TTL)
	duration("cache.negative", &o.Negative)
	duration("cache.queries", &o.QueryTTL)
	o.Queries = o.QueryTTL > 0
	o.Namespace = take("cache.namespace")
	o.Node = take("cache.node")
	l2URL, busURL = take("cache.l2"), take("cache.bus")
	for name := range q {
		if strings.HasPrefix(name, "cache.") {
			errs = append(errs, fmt.Errorf("unknown parameter %s", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return o, "", "", fmt.Errorf("%w: cache: %v", driver.ErrInvalid, err)
	}
	return o, l2URL, busURL, nil
}
