package cache

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/strata-go/strata/internal/valuecodec"
	"github.com/strata-go/strata/repo/driver"
)

// The L2 is a Redis key per record, holding one of
//
//	V<epoch>:<record>   a record (see appendRecord)
//	N<epoch>:           "not found" (negative caching)
//	L<token>            a lease: a node is loading the record from the store
//
// A miss takes a lease and the loader writes its value only if it still
// holds the lease, so a write that deletes the key while the load runs
// (and with it the lease) keeps the stale value out — memcached's leases,
// as Facebook's "Scaling Memcache" describes them. The epoch is the
// collection's L2 epoch: the sum of its counter key (raised by DeleteAll
// and migrations) and the namespace's (raised by a flush of everything);
// values of older epochs are misses. Counters only go up (see bump), and
// nodes read them again every half L1 TTL, so a flush whose message was
// lost still reaches every node within the L1 TTL.

// getScript returns {1, value} on a hit, {0, ""} when another node holds
// the lease, and {2, ""} when it took the lease for the caller.
var getScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  local t = string.sub(v, 1, 1)
  if t == 'L' then return {0, ''} end
  local e = tonumber(string.match(v, '^.(%d+):'))
  if e and e >= tonumber(ARGV[1]) then return {1, v} end
end
redis.call('SET', KEYS[1], 'L' .. ARGV[2], 'PX', ARGV[3])
return {2, ''}
`)

// fillScript stores ARGV[2] if the caller still holds the lease ARGV[1].
var fillScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == 'L' .. ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`)

// l2 is the shared tier.
type l2 struct {
	rdb    redis.UniversalClient
	prefix string
}

func newL2(rdb redis.UniversalClient, ns string) *l2 {
	return &l2{rdb: rdb, prefix: "strata:cache:" + ns + ":"}
}

// key returns the Redis key of a record.
func (l *l2) key(k l1Key) string {
	if k.s != "" {
		return l.prefix + "r:" + k.coll + ":s" + k.s
	}
	return l.prefix + "r:" + k.coll + ":i" + strconv.FormatInt(k.i, 10)
}

func (l *l2) epochKey(coll string) string { return l.prefix + "e:" + coll }

// lookup is the result of an L2 read.
type lookup uint8

const (
	l2Hit   lookup = iota + 1 // value holds the entry
	l2Lease                   // the caller holds the lease: load and fill
	l2Busy                    // another node is loading
)

// get reads k, taking the lease on a miss. A hit is a plain GET (the
// common case, and the cheapest command); only a miss runs the script
// that takes the lease, which looks again.
func (l *l2) get(ctx context.Context, k l1Key, epoch uint64, token string) (lookup, string, error) {
	key := l.key(k)
	v, err := l.rdb.Get(ctx, key).Result()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return 0, "", err
	case len(v) > 0 && v[0] == 'L':
		return l2Busy, "", nil
	case valueEpoch(v) >= epoch:
		return l2Hit, v, nil
	}
	res, err := getScript.Run(ctx, l.rdb, []string{key}, epoch, token, defaultLease.Milliseconds()).Slice()
	if err != nil {
		return 0, "", err
	}
	if len(res) != 2 {
		return 0, "", fmt.Errorf("unexpected reply %v", res)
	}
	code, _ := res[0].(int64)
	v, _ = res[1].(string)
	switch code {
	case 1:
		return l2Hit, v, nil
	case 2:
		return l2Lease, "", nil
	}
	return l2Busy, "", nil
}

// fill stores value under k for ttl if token still holds its lease.
func (l *l2) fill(ctx context.Context, k l1Key, token, value string, ttl time.Duration) error {
	return fillScript.Run(ctx, l.rdb, []string{l.key(k)}, token, value, max(1, ttl.Milliseconds())).Err()
}

// del deletes the keys (and any lease on them), one command per key so
// that a cluster takes them whatever their slots.
func (l *l2) del(ctx context.Context, keys []l1Key) error {
	if len(keys) == 1 {
		return l.rdb.Del(ctx, l.key(keys[0])).Err()
	}
	_, err := l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, l.key(k))
		}
		return nil
	})
	return err
}

// epoch reads the collection's epoch counter and the namespace's (raised
// by a flush of everything); the collection's effective epoch is their
// sum.
func (l *l2) epoch(ctx context.Context, coll string) (own, all uint64, err error) {
	var ownCmd, allCmd *redis.StringCmd
	_, err = l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		ownCmd = p.Get(ctx, l.epochKey(coll))
		allCmd = p.Get(ctx, l.epochKey(allCollections))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, 0, err
	}
	counter := func(c *redis.StringCmd) (uint64, error) {
		n, err := c.Uint64()
		if errors.Is(err, redis.Nil) {
			return 0, nil
		}
		return n, err
	}
	if own, err = counter(ownCmd); err != nil {
		return 0, 0, err
	}
	all, err = counter(allCmd)
	return own, all, err
}

// allCollections names the namespace's own epoch counter (not an
// identifier, so no collection's).
const allCollections = "*"

// bumpScript raises an epoch counter to at least the caller's known
// epoch plus one and the server's clock in milliseconds, so that it never
// goes back, even if the counter key was evicted or lost in a failover.
var bumpScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1]) + 1
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ms > floor then floor = ms end
if n < floor then
  n = floor
  redis.call('SET', KEYS[1], string.format('%d', n))
end
return n
`)

// bump raises the epoch counter of a collection (or of allCollections)
// above known, and returns it.
func (l *l2) bump(ctx context.Context, coll string, known uint64) (uint64, error) {
	n, err := bumpScript.Run(ctx, l.rdb, []string{l.epochKey(coll)}, known).Int64()
	return uint64(n), err
}

// releaseScript drops the caller's lease if it still holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == 'L' .. ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)

// release drops the lease token holds on k, when the load will not fill
// it (so that other nodes need not wait for the lease to expire).
func (l *l2) release(ctx context.Context, k l1Key, token string) error {
	return releaseScript.Run(ctx, l.rdb, []string{l.key(k)}, token).Err()
}

// newToken returns a lease token.
func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// valueEpoch returns the epoch of an L2 value, or 0 if it has none.
func valueEpoch(v string) uint64 {
	colon := strings.IndexByte(v, ':')
	if colon < 2 {
		return 0
	}
	e, err := strconv.ParseUint(v[1:colon], 10, 64)
	if err != nil {
		return 0
	}
	return e
}

// encodeEntry returns the L2 form of e under epoch.
func encodeEntry(c *driver.Collection, e entry, epoch uint64) (string, error) {
	b := make([]byte, 0, 128)
	if e.missing {
		b = append(b, 'N')
		b = strconv.AppendUint(b, epoch, 10)
		return string(append(b, ':')), nil
	}
	b = append(b, 'V')
	b = strconv.AppendUint(b, epoch, 10)
	b = append(b, ':')
	b = binary.BigEndian.AppendUint64(b, shape(c))
	b = binary.AppendUvarint(b, uint64(len(e.rec.Values)))
	for i, v := range e.rec.Values {
		if v == nil {
			b = append(b, 0)
			continue
		}
		s, err := valuecodec.Encode(c.Fields[i].Kind, v)
		if err != nil {
			return "", err
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(e.rec.Meta)))
	b = append(b, e.rec.Meta...)
	return string(b), nil
}

// errShape reports an L2 value written for another shape of the
// collection (before a migration, or by a node running other code): a
// miss, not a failure.
var errShape = errors.New("value is of another shape of the collection")

// decodeEntry parses an L2 value of c, returning it and its epoch.
func decodeEntry(c *driver.Collection, v string) (entry, uint64, error) {
	if len(v) < 3 || (v[0] != 'V' && v[0] != 'N') {
		return entry{}, 0, fmt.Errorf("bad L2 value %.20q", v)
	}
	colon := strings.IndexByte(v, ':')
	if colon < 2 {
		return entry{}, 0, fmt.Errorf("bad L2 value %.20q", v)
	}
	epoch, err := strconv.ParseUint(v[1:colon], 10, 64)
	if err != nil {
		return entry{}, 0, fmt.Errorf("bad L2 epoch %.20q", v)
	}
	if v[0] == 'N' {
		return entry{missing: true}, epoch, nil
	}
	b := []byte(v[colon+1:])
	if len(b) < 8 {
		return entry{}, 0, fmt.Errorf("short L2 value")
	}
	if binary.BigEndian.Uint64(b) != shape(c) {
		return entry{}, 0, errShape
	}
	b = b[8:]
	n, w := binary.Uvarint(b)
	if w <= 0 || n != uint64(len(c.Fields)) {
		return entry{}, 0, errShape
	}
	b = b[w:]
	rec := driver.Record{Values: make([]any, n)}
	for i := range rec.Values {
		if len(b) == 0 {
			return entry{}, 0, fmt.Errorf("truncated L2 value")
		}
		tag := b[0]
		b = b[1:]
		if tag == 0 {
			continue
		}
		l, w := binary.Uvarint(b)
		if w <= 0 || l > uint64(len(b)-w) {
			return entry{}, 0, fmt.Errorf("truncated L2 value")
		}
		val, err := valuecodec.Decode(c.Fields[i].Kind, string(b[w:w+int(l)]))
		if err != nil {
			return entry{}, 0, fmt.Errorf("L2 field %s: %w", c.Fields[i].Name, err)
		}
		rec.Values[i] = val
		b = b[w+int(l):]
	}
	l, w := binary.Uvarint(b)
	if w <= 0 || l != uint64(len(b)-w) {
		return entry{}, 0, fmt.Errorf("bad L2 metadata")
	}
	if l > 0 {
		rec.Meta = b[w:]
	}
	return entry{rec: rec}, epoch, nil
}

// shape hashes the names, kinds, widths, signedness and nullability of
// c's fields, so that a value cached for one shape is never decoded as
// another.
func shape(c *driver.Collection) uint64 {
	h := fnv.New64a()
	b2i := func(b bool) byte {
		if b {
			return 1
		}
		return 0
	}
	for _, f := range c.Fields {
		h.Write([]byte(f.Name))
		h.Write([]byte{0, byte(f.Kind), byte(f.Bits), b2i(f.Unsigned), b2i(f.Nullable)})
	}
	return h.Sum64()
}
