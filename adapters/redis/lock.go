package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The lock is a leased key: SET NX with a TTL of lockLease, renewed every
// lockLease/3 while held, deleted on unlock only by its holder (a random
// token). If the holder dies, the lease runs out.
const lockLease = 10 * time.Second

var (
	renewScript  = goredis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`)
	unlockScript = goredis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)
)

// Lock takes the named lock of the namespace (driver.Locker), waiting
// until it is free or ctx ends. The returned function releases it.
func (a *Adapter) Lock(ctx context.Context, name string) (func() error, error) {
	key := "{" + a.opts.Namespace + "}:lock:" + name
	var b [16]byte
	rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	wait := 5 * time.Millisecond
	for {
		ok, err := a.client.SetNX(ctx, key, token, lockLease).Result()
		if err != nil {
			return nil, a.wrap("lock", name, err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("redis: lock %s: %w", name, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
	renewCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(lockLease / 3)
		defer t.Stop()
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-t.C:
				// A failed renewal is retried at the next tick; the lease
				// covers two misses.
				renewScript.Run(renewCtx, a.client, []string{key}, token, lockLease.Milliseconds())
			}
		}
	})
	var once sync.Once
	var unlockErr error
	return func() error {
		once.Do(func() {
			stop()
			wg.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			unlockErr = a.wrap("unlock", name, unlockScript.Run(ctx, a.client, []string{key}, token).Err())
		})
		return unlockErr
	}, nil
}
