package redis

import (
	"context"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Records of a collection with a time to live (Options.TTL) carry their
// expiry in "$exp" and in the shard's sorted set {ns:coll}:x (scored by
// it). Every read treats an expired record as absent, by the server's
// clock; every write removes one it meets (with its index entries, as a
// delete would); and the sweeper removes the others. Redis's own key
// expiry is not used: it would drop a record's hash and leave its index
// entries behind.

// getScript is HGETALL of a record that may have expired: nothing if it
// has.
var getScript = goredis.NewScript(`
local h = redis.call("HGETALL", KEYS[1])
for i = 1, #h, 2 do
  if h[i] == "$exp" then
    local t = redis.call("TIME")
    if tonumber(h[i + 1]) <= tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) then return {} end
  end
end
return h`)

// getLive reads a record's hash unless it has expired.
func (a *Adapter) getLive(ctx context.Context, key string) (map[string]string, error) {
	res, err := getScript.Run(ctx, a.client, []string{key}).Result()
	if err != nil {
		return nil, err
	}
	flat, _ := res.([]any)
	h := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		h[k] = v
	}
	return h, nil
}

// startSweeper starts the goroutine that removes expired records of the
// collections with a time to live that this adapter has used; Close
// stops it.
func (a *Adapter) startSweeper() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(a.opts.SweepEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				a.sweep(ctx)
			}
		}
	})
	a.stopSweep = func() {
		cancel()
		wg.Wait()
	}
}

// sweep removes the expired records of every collection with a time to
// live that the adapter knows. Errors are left for the next sweep: reads
// never see expired records anyway.
func (a *Adapter) sweep(ctx context.Context) {
	const batch = 256
	a.collections.Range(func(_, v any) bool {
		col := v.(*collection)
		if col.ttl == 0 {
			return true
		}
		l, err := a.layoutOf(ctx, col, false)
		if err != nil {
			return ctx.Err() == nil
		}
		for _, shard := range l.tags {
			for {
				res, err := a.call(ctx, fnSweep, []string{shard}, col.desc, batch)
				n, _ := res.(int64)
				if err != nil || n < batch {
					break
				}
			}
		}
		return ctx.Err() == nil
	})
}
