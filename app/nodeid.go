package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"time"

	"github.com/strata-go/strata/ephemeral"
)

// nodeLeaseTTL is how long a node's id stays taken after the node stops
// renewing it.
const nodeLeaseTTL = 30 * time.Second

// maxNodes is the number of snowflake node ids.
const maxNodes = 1024

// errLeaseLost is why a node stops when another node took its id.
var errLeaseLost = errors.New("another node holds this node's id: their message ids would collide with ours")

// leaseNode takes a node id no other live node holds, in a cache the
// nodes share (a key per id, holding this node's random token, renewed
// every third of ttl), so that nodes started without -node never draw
// the same snowflake ids. If a renewal finds the id taken by another
// node (this one's lease ran out, the cache being unreachable or having
// lost it), the renewals stop and lost is called with an error wrapping
// errLeaseLost: the node must stop drawing ids. A renewal that fails
// otherwise is logged and tried again. release stops the renewal and
// frees the id.
func leaseNode(ctx context.Context, c ephemeral.Cache, log *slog.Logger, ttl time.Duration, lost func(error)) (id int, release func(), err error) {
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	mine := []byte(hex.EncodeToString(tok[:]))
	start := mrand.IntN(maxNodes)
	for i := range maxNodes {
		id = (start + i) % maxNodes
		ok, err := c.SetNew(ctx, leaseKey(id), mine, ttl)
		if err != nil {
			return 0, nil, fmt.Errorf("lease a node id: %w", err)
		}
		if ok {
			break
		}
		if i == maxNodes-1 {
			return 0, nil, fmt.Errorf("lease a node id: all %d are taken; give -node", maxNodes)
		}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			rctx, cancel := context.WithTimeout(context.Background(), ttl/3)
			err := renewLease(rctx, c, id, mine, ttl)
			cancel()
			if errors.Is(err, errLeaseLost) {
				log.Error("chat: this node's id lease is lost: stopping", "node", id, "error", err)
				lost(err)
				return
			}
			if err != nil {
				log.Error("chat: renewing this node's id lease failed", "node", id, "error", err)
			}
		}
	}()
	return id, func() {
		close(stop)
		<-done
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if v, err := c.Get(rctx, leaseKey(id)); err == nil && string(v) == string(mine) {
			_ = c.Delete(rctx, leaseKey(id))
		}
	}, nil
}

// renewLease extends this node's lease of id for ttl, retaking it if it
// expired meanwhile, and fails with errLeaseLost if another node holds
// it.
func renewLease(ctx context.Context, c ephemeral.Cache, id int, mine []byte, ttl time.Duration) error {
	v, err := c.Get(ctx, leaseKey(id))
	switch {
	case err == nil && string(v) == string(mine):
		return c.Expire(ctx, leaseKey(id), ttl)
	case err == nil:
		return fmt.Errorf("node id %d: %w", id, errLeaseLost)
	case !errors.Is(err, ephemeral.ErrNotFound):
		return err
	}
	ok, err := c.SetNew(ctx, leaseKey(id), mine, ttl)
	if err == nil && !ok {
		err = fmt.Errorf("node id %d, retaken as it expired: %w", id, errLeaseLost)
	}
	return err
}

func leaseKey(id int) string { return fmt.Sprintf("node:%d", id) }
