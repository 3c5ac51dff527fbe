package ephemeral_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/ephemeral"
	"github.com/strata-go/strata/internal/testservers"
)

// standaloneClient returns a client of the test Redis server (skipping t
// without one), closed when t ends.
func standaloneClient(t *testing.T) redis.UniversalClient {
	t.Helper()
	o, err := redis.ParseURL(testservers.RedisURL(t))
	require.NoError(t, err)
	return pinged(t, redis.NewClient(o))
}

// clusterClient returns a client of the test Redis Cluster (skipping t
// without one), closed when t ends.
func clusterClient(t *testing.T) redis.UniversalClient {
	t.Helper()
	u, err := url.Parse(testservers.RedisClusterURL(t))
	require.NoError(t, err)
	require.Equal(t, "redis+cluster", u.Scheme)
	o := &redis.ClusterOptions{Addrs: strings.Split(u.Host, ",")}
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
	}
	return pinged(t, redis.NewClusterClient(o))
}

func pinged(t *testing.T, c redis.UniversalClient) redis.UniversalClient {
	t.Helper()
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Ping(t.Context()).Err())
	return c
}

// uniquePrefix returns a key prefix that no other test uses, made of
// characters that are not special in a SCAN pattern.
func uniquePrefix() string {
	return "strata:eph:test:" + rand.Text() + ":"
}

// redisOpener returns an opener of Redis caches over client, each with a
// prefix of its own whose keys are deleted when its test ends.
func redisOpener(client redis.UniversalClient) opener {
	return func(t *testing.T) ephemeral.Cache {
		prefix := uniquePrefix()
		c, err := ephemeral.NewRedis(client, ephemeral.RedisOptions{Prefix: prefix})
		require.NoError(t, err)
		t.Cleanup(func() {
			c.Close()
			deleteKeys(t, client, prefix)
		})
		return c
	}
}

// deleteKeys deletes the keys that start with prefix, on every master.
func deleteKeys(t *testing.T, client redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	del := func(ctx context.Context, node *redis.Client) error {
		iter := node.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := node.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	var err error
	switch c := client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, del)
	case *redis.Client:
		err = del(ctx, c)
	default:
		t.Fatalf("deleteKeys: a %T", client)
	}
	if err != nil {
		t.Errorf("delete the keys of %s: %v", prefix, err)
	}
}

// TestRedisKeys checks that a Redis keeps its keys under its prefix as
// plain strings, which other Redis clients can read and write.
func TestRedisKeys(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	client := standaloneClient(t)
	prefix := uniquePrefix()
	t.Cleanup(func() { deleteKeys(t, client, prefix) })
	c, err := ephemeral.NewRedis(client, ephemeral.RedisOptions{Prefix: prefix})
	require.NoError(t, err)

	require.NoError(t, c.Set(ctx, "k", []byte("v"), 0))
	raw, err := client.Get(ctx, prefix+"k").Result()
	require.NoError(t, err)
	require.Equal(t, "v", raw)
	_, err = client.Get(ctx, "k").Result()
	require.ErrorIs(t, err, redis.Nil, "no key without the prefix")

	require.NoError(t, client.Set(ctx, prefix+"n", "7", 0).Err())
	n, err := c.Incr(ctx, "n", 1, 0)
	require.NoError(t, err)
	require.Equal(t, int64(8), n)

	// A ttl is rounded up to a whole millisecond.
	require.NoError(t, c.Set(ctx, "sub", []byte("v"), time.Hour+time.Microsecond))
	ms, err := client.PTTL(ctx, prefix+"sub").Result()
	require.NoError(t, err)
	require.Greater(t, ms, 59*time.Minute)
	require.LessOrEqual(t, ms, time.Hour+time.Millisecond)

	// The default prefix.
	d, err := ephemeral.NewRedis(client, ephemeral.RedisOptions{})
	require.NoError(t, err)
	key := "test:" + rand.Text()
	t.Cleanup(func() { client.Del(context.Background(), ephemeral.DefaultPrefix+key) })
	require.NoError(t, d.Set(ctx, key, []byte("d"), time.Minute))
	raw, err = client.Get(ctx, ephemeral.DefaultPrefix+key).Result()
	require.NoError(t, err)
	require.Equal(t, "d", raw)
}

// TestRedisPrefixesAreApart checks that caches with different prefixes on
// one server do not see each other's keys.
func TestRedisPrefixesAreApart(t *testing.T) {
	t.Parallel()
	client := standaloneClient(t)
	a := redisOpener(client)(t)
	b := redisOpener(client)(t)
	require.NoError(t, a.Set(t.Context(), "k", []byte("a"), 0))
	requireAbsent(t, b, "k")
}

// TestRedisFetchAcrossNodes checks that two nodes that miss at once and
// both load agree on the value: the first one stored.
func TestRedisFetchAcrossNodes(t *testing.T) {
	t.Parallel()
	for name, connect := range map[string]func(*testing.T) redis.UniversalClient{
		"Redis": standaloneClient, "RedisCluster": clusterClient,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			prefix := uniquePrefix()
			var nodes [2]ephemeral.Cache
			for i := range nodes {
				client := connect(t) // a client per node
				c, err := ephemeral.NewRedis(client, ephemeral.RedisOptions{Prefix: prefix})
				require.NoError(t, err)
				nodes[i] = c
				if i == 0 {
					t.Cleanup(func() { deleteKeys(t, client, prefix) })
				}
			}

			// Each load waits until both have started, so both nodes
			// missed and both load.
			var both sync.WaitGroup
			both.Add(2)
			got := make([]string, 2)
			errs := make([]error, 2)
			race(2, func(i int) {
				v, err := nodes[i].Fetch(context.Background(), "k", time.Hour, func(context.Context) ([]byte, error) {
					both.Done()
					both.Wait()
					return []byte{'a' + byte(i)}, nil
				})
				got[i], errs[i] = string(v), err
			})
			require.NoError(t, errs[0])
			require.NoError(t, errs[1])
			require.Equal(t, got[0], got[1], "the nodes agree")
			require.Equal(t, got[0], get(t, nodes[0], "k"))
		})
	}
}

// TestRedisClientClosed checks that a call through a client that its
// owner has closed fails with ErrClosed.
func TestRedisClientClosed(t *testing.T) {
	t.Parallel()
	o, err := redis.ParseURL(testservers.RedisURL(t))
	require.NoError(t, err)
	client := redis.NewClient(o)
	c, err := ephemeral.NewRedis(client, ephemeral.RedisOptions{Prefix: uniquePrefix()})
	require.NoError(t, err)
	require.NoError(t, client.Close())
	_, err = c.Get(t.Context(), "k")
	require.ErrorIs(t, err, ephemeral.ErrClosed)
}

func TestNewRedisNilClient(t *testing.T) {
	_, err := ephemeral.NewRedis(nil, ephemeral.RedisOptions{})
	require.ErrorIs(t, err, ephemeral.ErrInvalid)
}
