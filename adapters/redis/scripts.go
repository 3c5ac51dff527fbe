package redis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

var (
	//go:embed lua/strata.lua
	luaShared string
	//go:embed lua/write.lua
	luaWrite string
	//go:embed lua/commit.lua
	luaCommit string
	//go:embed lua/batch.lua
	luaBatch string
)

// The scripts, each the shared functions followed by its body.
var (
	writeScript  = goredis.NewScript(luaShared + luaWrite)
	commitScript = goredis.NewScript(luaShared + luaCommit)
	batchScript  = goredis.NewScript(luaShared + luaBatch)
	allScripts   = []*goredis.Script{writeScript, commitScript, batchScript}
)

// loadScripts loads the scripts on every master, so that pipelines can
// use EVALSHA. (A promoted replica lacks them: run falls back to EVAL.)
func (a *Adapter) loadScripts(ctx context.Context) error {
	load := func(ctx context.Context, c *goredis.Client) error {
		for _, s := range allScripts {
			if err := s.Load(ctx, c).Err(); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if a.cluster != nil {
		err = a.cluster.ForEachMaster(ctx, load)
	} else if c, ok := a.client.(*goredis.Client); ok {
		err = load(ctx, c)
	} else {
		for _, s := range allScripts {
			if err = s.Load(ctx, a.client).Err(); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("redis: load scripts: %w", err)
	}
	return nil
}

// run runs a script whose first key is KEYS[1], by EVALSHA and, if the
// server lacks the script, EVAL.
func (a *Adapter) run(ctx context.Context, s *goredis.Script, keys []string, args ...any) (any, error) {
	return s.Run(ctx, a.client, keys, args...).Result()
}

// write runs a write script. With Options.Replicas it also waits, on the
// same connection, until that many replicas have the write; then it
// retries (with the same write id, so at most once) through connection
// errors and cluster redirections until ctx ends, since the script is
// idempotent by its write id.
func (a *Adapter) write(ctx context.Context, s *goredis.Script, keys []string, args ...any) (any, error) {
	if a.opts.Replicas <= 0 {
		return a.run(ctx, s, keys, args...)
	}
	backoff := 10 * time.Millisecond
	giveUp := time.Now().Add(retryFor)
	for {
		res, err := a.writeWait(ctx, s, keys, args)
		if err == nil || !retryable(err) || ctx.Err() != nil || time.Now().After(giveUp) {
			return res, err
		}
		if a.cluster != nil {
			a.cluster.ReloadState(ctx)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// retryFor bounds the retries of a write when ctx has no deadline.
const retryFor = 15 * time.Second

// ErrNotReplicated is returned (wrapped) by a write that was applied on the
// master but not acknowledged by Options.Replicas replicas in time: it may
// or may not survive a failover.
var ErrNotReplicated = errors.New("write not acknowledged by enough replicas")

func (a *Adapter) writeWait(ctx context.Context, s *goredis.Script, keys []string, args []any) (any, error) {
	var c goredis.Cmdable = a.client
	if a.cluster != nil {
		node, err := a.cluster.MasterForKey(ctx, keys[0])
		if err != nil {
			return nil, err
		}
		c = node
	}
	p, ok := c.(interface {
		Pipelined(context.Context, func(goredis.Pipeliner) error) ([]goredis.Cmder, error)
	})
	if !ok {
		return nil, fmt.Errorf("redis: %T cannot pipeline", c)
	}
	timeout := a.opts.ReplicaTimeout
	var eval *goredis.Cmd
	var wait *goredis.IntCmd
	_, err := p.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		eval = s.EvalSha(ctx, pipe, keys, args...)
		wait = goredis.NewIntCmd(ctx, "wait", a.opts.Replicas, timeout.Milliseconds())
		return pipe.Process(ctx, wait)
	})
	if err != nil && goredis.HasErrorPrefix(eval.Err(), "NOSCRIPT") {
		_, err = p.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
			eval = s.Eval(ctx, pipe, keys, args...)
			wait = goredis.NewIntCmd(ctx, "wait", a.opts.Replicas, timeout.Milliseconds())
			return pipe.Process(ctx, wait)
		})
	}
	if err := eval.Err(); err != nil {
		return nil, err
	}
	res := eval.Val()
	if err != nil {
		return res, err
	}
	if n := wait.Val(); n < int64(a.opts.Replicas) {
		return res, fmt.Errorf("%w: %d of %d replicas within %s", ErrNotReplicated, n, a.opts.Replicas, timeout)
	}
	return res, nil
}

// retryable reports whether err is a connection error or a cluster
// redirection, after which a retry may succeed.
func retryable(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, goredis.ErrPoolTimeout) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if _, ok := goredis.IsMovedError(err); ok {
		return true
	}
	if _, ok := goredis.IsAskError(err); ok {
		return true
	}
	return goredis.IsClusterDownError(err) || goredis.IsTryAgainError(err) || goredis.IsLoadingError(err) ||
		goredis.IsReadOnlyError(err) || goredis.IsMasterDownError(err) || errors.Is(err, ErrNotReplicated)
}
