package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/ephemeral"
	"github.com/strata-go/strata/snowflake"
)

// nodeLeaseTTL is how long a node's id stays taken after the node stops
// renewing it.
const nodeLeaseTTL = 30 * time.Second

// maxNodes is the number of snowflake node ids.
const maxNodes = 1024

// errLeaseLost is why a node stops when another node took its id.
var errLeaseLost = errors.New("another node holds this node's id: their message ids would collide with ours")

// leasedIDs issues the snowflake IDs of a node id leased in a shared
// cache (leaseNode), and only while the lease is surely this node's:
// until a little before it would expire counting from the start of the
// last renewal that got through. Past that (the cache unreachable for
// longer than the lease, which may then have expired and been taken),
// it refuses with chat.ErrUnavailable, until a renewal gets through
// again; once another node holds the id, for good (errLeaseLost).
type leasedIDs struct {
	node  int
	g     *snowflake.Generator
	until atomic.Int64 // unix nanoseconds: IDs are refused from then on
	lost  atomic.Bool
}

// Next returns an ID, or an error while the lease is not surely held.
func (l *leasedIDs) Next() (snowflake.ID, error) {
	if l.lost.Load() {
		return 0, fmt.Errorf("%w: %w", chat.ErrUnavailable, errLeaseLost)
	}
	if time.Now().UnixNano() >= l.until.Load() {
		return 0, fmt.Errorf("%w: this node's id lease is in doubt (the cache holding it is unreachable); use another node", chat.ErrUnavailable)
	}
	return l.g.Next()
}

// held records a renewal (or the first take) that began at start.
func (l *leasedIDs) held(start time.Time, ttl time.Duration) {
	l.until.Store(start.Add(ttl - ttl/10).UnixNano())
}

// leaseNode takes a node id no other live node holds, in a cache the
// nodes share (a key per id, holding this node's random token, renewed
// every third of ttl), so that nodes started without -node never draw
// the same snowflake ids, and returns the source of those ids (see
// leasedIDs). If a renewal finds the id taken by another node, the
// source refuses from then on, the renewals stop and lost is called with
// an error wrapping errLeaseLost: the node must stop. A renewal that
// fails otherwise is logged and tried again. release stops the renewal
// and frees the id.
func leaseNode(ctx context.Context, c ephemeral.Cache, log *slog.Logger, ttl time.Duration, lost func(error)) (ids *leasedIDs, release func(), err error) {
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	mine := []byte(hex.EncodeToString(tok[:]))
	start := mrand.IntN(maxNodes)
	var id int
	for i := range maxNodes {
		id = (start + i) % maxNodes
		began := time.Now()
		ok, err := c.SetNew(ctx, leaseKey(id), mine, ttl)
		if err != nil {
			return nil, nil, fmt.Errorf("lease a node id: %w", err)
		}
		if ok {
			g, err := snowflake.New(id)
			if err != nil {
				return nil, nil, err
			}
			ids = &leasedIDs{node: id, g: g}
			ids.held(began, ttl)
			break
		}
		if i == maxNodes-1 {
			return nil, nil, fmt.Errorf("lease a node id: all %d are taken; give -node", maxNodes)
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
			began := time.Now()
			rctx, cancel := context.WithTimeout(context.Background(), ttl/3)
			err := renewLease(rctx, c, id, mine, ttl)
			cancel()
			switch {
			case err == nil:
				ids.held(began, ttl)
			case errors.Is(err, errLeaseLost):
				ids.lost.Store(true)
				log.Error("chat: this node's id lease is lost: stopping", "node", id, "error", err)
				lost(err)
				return
			default:
				log.Error("chat: renewing this node's id lease failed", "node", id, "error", err)
			}
		}
	}()
	return ids, func() {
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
