package ephemeral

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// DefaultPrefix is the key prefix of a [Redis] whose options leave Prefix
// empty.
const DefaultPrefix = "strata:eph:"

// RedisOptions configure a [Redis]. The zero value is ready to use.
type RedisOptions struct {
	// Prefix is put before every key in Redis; "" means DefaultPrefix.
	// Caches with different prefixes on one server do not see each
	// other's keys. The prefix is part of the key's hash slot on a
	// cluster, unless the key has a hash tag ("{...}") of its own.
	Prefix string
}

// Redis is a [Cache] in Redis, shared by every process (app node) that
// uses the same server and prefix: use it for state that all nodes must
// agree on, such as per-user rate limits, sessions and presence.
// Create one with [NewRedis].
//
// It works on a standalone server (6.2 or later, for GETDEL) and on a
// Redis Cluster: every operation touches one key, so one slot. Each method
// is one atomic command or script:
//
//	Get     GET
//	Set     SET [PX]
//	SetNew  SET NX [PX]
//	Delete  DEL
//	Take    GETDEL
//	Incr    INCRBY; with a ttl, a script that runs INCRBY and, if the key
//	        did not exist before, PEXPIRE
//	TTL     PTTL
//	Expire  PEXPIRE; with ttl 0, a script that checks the key exists and
//	        runs PERSIST
//	Fetch   GET, then on a miss load and SET NX [PX]
//
// Scripts run with EVALSHA (EVAL the first time a server sees them): Redis
// runs a script as one command, so the check and the write in it are
// atomic. Expiry has millisecond precision: a ttl is rounded up to a whole
// millisecond, and TTL returns whole milliseconds (at least 1ms for a key
// that has not expired yet).
//
// Fetch protects against stampedes within this process only: concurrent
// Fetches of one key through one Redis share one call of load
// (golang.org/x/sync/singleflight). Processes that miss at the same time
// each call load; the first value stored wins, and the others return it
// (SET NX), so they agree on the value but not on the number of loads.
type Redis struct {
	client redis.UniversalClient
	prefix string
	flight singleflight.Group // Fetch's loads, by Redis key
	closed atomic.Bool
}

var _ Cache = (*Redis)(nil)

// The scripts of Redis. A script is immutable; its SHA is computed once.
var (
	// incrScript adds ARGV[1] to KEYS[1] and, if that created the key,
	// gives it a time to live of ARGV[2] milliseconds. It returns the new
	// value as the text Redis holds: Lua numbers are doubles, which
	// cannot hold every int64. A value that is not an integer, or an
	// overflow, fails INCRBY before anything is written.
	incrScript = redis.NewScript(`
local created = redis.call('EXISTS', KEYS[1]) == 0
redis.call('INCRBY', KEYS[1], ARGV[1])
if created then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('GET', KEYS[1])
`)
	// persistScript removes the time to live of KEYS[1] and returns 1, or
	// returns 0 if the key is absent. (PERSIST alone returns 0 both for an
	// absent key and for a key without a time to live.)
	persistScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('PERSIST', KEYS[1])
return 1
`)
)

// NewRedis returns a Redis over client, which may be a *redis.Client, a
// *redis.ClusterClient or any other redis.UniversalClient. The client
// stays the caller's: Close does not close it. A nil client is ErrInvalid.
func NewRedis(client redis.UniversalClient, opts RedisOptions) (*Redis, error) {
	if client == nil {
		return nil, fmt.Errorf("ephemeral: new redis: %w", invalid("nil client"))
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	return &Redis{client: client, prefix: opts.Prefix}, nil
}

// Get implements [Cache.Get].
func (r *Redis) Get(ctx context.Context, key string) ([]byte, error) {
	if err := begin(ctx, r.closed.Load(), "get", key); err != nil {
		return nil, err
	}
	v, err := r.client.Get(ctx, r.prefix+key).Bytes()
	if err != nil {
		return nil, r.fail("get", key, err)
	}
	return v, nil
}

// Set implements [Cache.Set].
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := begin(ctx, r.closed.Load(), "set", key); err != nil {
		return err
	}
	if err := checkTTL(ttl); err != nil {
		return opError("set", key, err)
	}
	if err := r.client.Set(ctx, r.prefix+key, value, roundTTL(ttl)).Err(); err != nil {
		return r.fail("set", key, err)
	}
	return nil
}

// SetNew implements [Cache.SetNew].
func (r *Redis) SetNew(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := begin(ctx, r.closed.Load(), "set new", key); err != nil {
		return false, err
	}
	if err := checkTTL(ttl); err != nil {
		return false, opError("set new", key, err)
	}
	err := r.client.SetArgs(ctx, r.prefix+key, value, redis.SetArgs{Mode: "NX", TTL: roundTTL(ttl)}).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, r.fail("set new", key, err)
	}
	return true, nil
}

// Delete implements [Cache.Delete].
func (r *Redis) Delete(ctx context.Context, key string) error {
	if err := begin(ctx, r.closed.Load(), "delete", key); err != nil {
		return err
	}
	if err := r.client.Del(ctx, r.prefix+key).Err(); err != nil {
		return r.fail("delete", key, err)
	}
	return nil
}

// Take implements [Cache.Take].
func (r *Redis) Take(ctx context.Context, key string) ([]byte, error) {
	if err := begin(ctx, r.closed.Load(), "take", key); err != nil {
		return nil, err
	}
	v, err := r.client.GetDel(ctx, r.prefix+key).Bytes()
	if err != nil {
		return nil, r.fail("take", key, err)
	}
	return v, nil
}

// Incr implements [Cache.Incr].
func (r *Redis) Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	if err := begin(ctx, r.closed.Load(), "incr", key); err != nil {
		return 0, err
	}
	if err := checkTTL(ttl); err != nil {
		return 0, opError("incr", key, err)
	}
	k := r.prefix + key
	if ttl == 0 {
		n, err := r.client.IncrBy(ctx, k, by).Result()
		if err != nil {
			return 0, r.fail("incr", key, counterError(err))
		}
		return n, nil
	}
	text, err := incrScript.Run(ctx, r.client, []string{k}, by, roundTTL(ttl).Milliseconds()).Text()
	if err != nil {
		return 0, r.fail("incr", key, counterError(err))
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, opError("incr", key, fmt.Errorf("the script returned %q: %w", text, err))
	}
	return n, nil
}

// counterError marks as ErrInvalid an error of INCRBY that says the value
// is not an integer or the sum overflows.
func counterError(err error) error {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return err
	}
	msg := rerr.Error()
	if strings.Contains(msg, "not an integer or out of range") || strings.Contains(msg, "would overflow") {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}

// TTL implements [Cache.TTL].
func (r *Redis) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := begin(ctx, r.closed.Load(), "ttl", key); err != nil {
		return 0, err
	}
	d, err := r.client.PTTL(ctx, r.prefix+key).Result()
	if err != nil {
		return 0, r.fail("ttl", key, err)
	}
	switch {
	case d == -2: // go-redis passes PTTL's -2 and -1 through unscaled
		return 0, opError("ttl", key, ErrNotFound)
	case d == -1:
		return 0, nil
	case d < time.Millisecond:
		// The key expires within the current millisecond; 0 would say
		// it never does.
		return time.Millisecond, nil
	}
	return d, nil
}

// Expire implements [Cache.Expire].
func (r *Redis) Expire(ctx context.Context, key string, ttl time.Duration) error {
	if err := begin(ctx, r.closed.Load(), "expire", key); err != nil {
		return err
	}
	if err := checkTTL(ttl); err != nil {
		return opError("expire", key, err)
	}
	k := r.prefix + key
	var (
		found bool
		err   error
	)
	if ttl == 0 {
		var n int64
		n, err = persistScript.Run(ctx, r.client, []string{k}).Int64()
		found = n == 1
	} else {
		found, err = r.client.PExpire(ctx, k, roundTTL(ttl)).Result()
	}
	if err != nil {
		return r.fail("expire", key, err)
	}
	if !found {
		return opError("expire", key, ErrNotFound)
	}
	return nil
}

// Fetch implements [Cache.Fetch]. load gets the context of the Fetch that
// started it; if that Fetch's context ends and load or the write after it
// fails, a Fetch still waiting with a live context loads again rather than
// fail. A panic in load is raised again in every Fetch that waited for it.
func (r *Redis) Fetch(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	if err := begin(ctx, r.closed.Load(), "fetch", key); err != nil {
		return nil, err
	}
	if err := checkTTL(ttl); err != nil {
		return nil, opError("fetch", key, err)
	}
	if load == nil {
		return nil, opError("fetch", key, invalid("nil load function"))
	}
	k := r.prefix + key
	for {
		v, err := r.client.Get(ctx, k).Bytes()
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, redis.Nil) {
			return nil, r.fail("fetch", key, err)
		}
		ch := r.flight.DoChan(k, func() (any, error) { return r.load(ctx, k, ttl, load) })
		select {
		case <-ctx.Done():
			return nil, opError("fetch", key, ctx.Err())
		case res := <-ch:
			if res.Err == nil {
				// Every Fetch that shared the load gets the same slice.
				return clone(res.Val.([]byte)), nil
			}
			if p, ok := errors.AsType[*loadPanic](res.Err); ok {
				panic(p)
			}
			if _, ok := errors.AsType[*leaderGone](res.Err); ok && ctx.Err() == nil {
				continue
			}
			return nil, r.fail("fetch", key, res.Err)
		}
	}
}

// load is the shared part of Fetch: it calls load and stores the value.
func (r *Redis) load(ctx context.Context, k string, ttl time.Duration, load func(context.Context) ([]byte, error)) (v []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, &loadPanic{value: p, stack: debug.Stack()}
		} else if err != nil && ctx.Err() != nil {
			err = &leaderGone{err: err}
		}
	}()
	// A Fetch that missed just before another one's load stored the
	// value can start its own load after that one has finished.
	v, err = r.client.Get(ctx, k).Bytes()
	if !errors.Is(err, redis.Nil) {
		return v, err
	}
	v, err = load(ctx)
	if err != nil {
		return nil, err
	}
	v = clone(v) // load's author may keep its slice
	err = r.client.SetArgs(ctx, k, v, redis.SetArgs{Mode: "NX", TTL: roundTTL(ttl)}).Err()
	if !errors.Is(err, redis.Nil) {
		return v, err
	}
	// The key was written while load ran: that value wins, unless it is
	// already gone again.
	cur, err := r.client.Get(ctx, k).Bytes()
	if errors.Is(err, redis.Nil) {
		return v, nil
	}
	return cur, err
}

// leaderGone is the error of a shared load that failed after the context
// of the Fetch that started it ended: the Fetches that waited for it with
// a live context load again.
type leaderGone struct{ err error }

func (e *leaderGone) Error() string { return e.err.Error() }
func (e *leaderGone) Unwrap() error { return e.err }

// loadPanic is a panic in a shared load, raised again in every Fetch that
// waited for it.
type loadPanic struct {
	value any
	stack []byte
}

func (p *loadPanic) Error() string {
	return fmt.Sprintf("ephemeral: fetch: load panicked: %v\n\n%s", p.value, p.stack)
}

// Close marks the cache closed: later calls return ErrClosed. It does not
// close the client, which belongs to the caller, nor delete any key.
func (r *Redis) Close() error {
	r.closed.Store(true)
	return nil
}

// fail wraps an error of the client, turning a nil reply into ErrNotFound
// and a closed client into ErrClosed.
func (r *Redis) fail(op, key string, err error) error {
	switch {
	case errors.Is(err, redis.Nil):
		err = ErrNotFound
	case errors.Is(err, redis.ErrClosed):
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return opError(op, key, err)
}

// roundTTL rounds a ttl up to a whole millisecond, the precision of Redis.
func roundTTL(ttl time.Duration) time.Duration {
	if r := ttl % time.Millisecond; r != 0 && ttl < math.MaxInt64-time.Millisecond {
		return ttl - r + time.Millisecond
	}
	return ttl
}
