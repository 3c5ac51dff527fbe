package riak

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/strata-go/strata/adapters/riak/pb"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
)

func init() {
	repo.Register("riak", func(ctx context.Context, u *url.URL) (driver.Adapter, error) {
		return Open(ctx, u.String())
	})
}

// Open opens an adapter from a URL:
//
//	riak://h1:8087,h2:8087?bucket_type=strata&n_val=3&namespace=app
//
// naming the nodes of a cluster (the client fails over between them) and,
// in the query, the adapter's Options: bucket_type, namespace, n_val,
// fetchers, maps (collections stored as Riak maps, comma-separated) and
// map_type. Open checks that a node answers.
func Open(ctx context.Context, rawURL string) (*Adapter, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "riak" || u.Host == "" {
		return nil, fmt.Errorf("%w: riak: %q is not a riak://host:port,... URL", driver.ErrInvalid, rawURL)
	}
	q := u.Query()
	opts := Options{BucketType: q.Get("bucket_type"), Namespace: q.Get("namespace"), MapType: q.Get("map_type")}
	if v := q.Get("maps"); v != "" {
		opts.Maps = strings.Split(v, ",")
	}
	for name, p := range map[string]*int{"fetchers": &opts.Fetchers} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%w: riak: %s=%q is not a count", driver.ErrInvalid, name, v)
			}
			*p = n
		}
	}
	if v := q.Get("n_val"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%w: riak: n_val=%q", driver.ErrInvalid, v)
		}
		opts.NVal = uint32(n)
	}
	cl, err := pb.NewCluster(strings.Split(u.Host, ","), pb.ClusterOptions{})
	if err != nil {
		return nil, fmt.Errorf("riak: open: %w", err)
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("riak: open %s: %w", u.Host, err)
	}
	return New(cl, opts)
}
