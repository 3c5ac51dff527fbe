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

// leaseNode takes a node id no other live node holds, in a cache the
// nodes share (a key per id, holding this node's random token, renewed
// every third of nodeLeaseTTL), so that nodes started without -node
// never draw the same snowflake ids. release stops the renewal and frees
// the id.
func leaseNode(ctx context.Context, c ephemeral.Cache, log *slog.Logger) (id int, release func(), err error) {
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	mine := []byte(hex.EncodeToString(tok[:]))
	start := mrand.IntN(maxNodes)
	for i := range maxNodes {
		id = (start + i) % maxNodes
		ok, err := c.SetNew(ctx, leaseKey(id), mine, nodeLeaseTTL)
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
		tick := time.NewTicker(nodeLeaseTTL / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			rctx, cancel := context.WithTimeout(context.Background(), nodeLeaseTTL/3)
			if err := renewLease(rctx, c, id, mine); err != nil {
				log.Error("chat: renewing this node's id lease failed", "node", id, "error", err)
			}
			cancel()
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

// renewLease extends this node's lease of id, retaking it if it expired
// meanwhile, and fails if another node holds it.
func renewLease(ctx context.Context, c ephemeral.Cache, id int, mine []byte) error {
	v, err := c.Get(ctx, leaseKey(id))
	switch {
	case err == nil && string(v) == string(mine):
		return c.Expire(ctx, leaseKey(id), nodeLeaseTTL)
	case err == nil:
		return fmt.Errorf("another node holds id %d: their message ids may collide with ours", id)
	case !errors.Is(err, ephemeral.ErrNotFound):
		return err
	}
	ok, err := c.SetNew(ctx, leaseKey(id), mine, nodeLeaseTTL)
	if err == nil && !ok {
		err = fmt.Errorf("another node took id %d", id)
	}
	return err
}

func leaseKey(id int) string { return fmt.Sprintf("node:%d", id) }
