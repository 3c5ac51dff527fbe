// Package redisurl opens go-redis clients from Strata's Redis URLs, the
// one form every part of Strata that talks to Redis accepts (the Redis
// adapter, the cache's L2, the Redis pub/sub bus):
//
//	redis://[user:password@]host:port[/db][?go-redis options]   one server
//	rediss://...                                                one server over TLS
//	redis+cluster://[user:password@]h1:p1,h2:p2,...             a Redis Cluster (any of its nodes)
//	rediss+cluster://...                                        a cluster over TLS
//
// The caller takes its own parameters out of the URL's query first; for
// one server the rest are go-redis's own (see redis.ParseURL), and a
// cluster URL accepts none.
package redisurl

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Schemes are the URL schemes NewClient accepts.
var Schemes = []string{"redis", "rediss", "redis+cluster", "rediss+cluster"}

// NewClient returns a client for the server or cluster u names. It does
// not connect; its errors are about the URL, and callers wrap them in
// their package's kind of invalid input.
func NewClient(u *url.URL) (redis.UniversalClient, error) {
	switch u.Scheme {
	case "redis", "rediss":
		o, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, err
		}
		return redis.NewClient(o), nil
	case "redis+cluster", "rediss+cluster":
		if u.Host == "" {
			return nil, fmt.Errorf("%s URL names no nodes", u.Scheme)
		}
		o := &redis.ClusterOptions{Addrs: strings.Split(u.Host, ",")}
		if u.User != nil {
			o.Username = u.User.Username()
			o.Password, _ = u.User.Password()
		}
		if u.Scheme == "rediss+cluster" {
			// The same TLS defaults as redis.ParseURL's for rediss.
			plain, err := redis.ParseURL("rediss://" + o.Addrs[0])
			if err != nil {
				return nil, err
			}
			o.TLSConfig = plain.TLSConfig
		}
		if q := u.Query(); len(q) > 0 {
			return nil, fmt.Errorf("unknown cluster URL parameters %v", q)
		}
		return redis.NewClusterClient(o), nil
	}
	return nil, fmt.Errorf("unknown Redis URL scheme %q (want %s)", u.Scheme, strings.Join(Schemes, ", "))
}

// Parse parses rawURL and returns a client for it, as NewClient.
func Parse(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	return NewClient(u)
}
