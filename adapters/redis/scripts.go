package redis

import (
	"context"
	"crypto/sha1"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The adapter's Lua code is a Redis Functions library (Redis 7), loaded
// on every master when the adapter opens: its shared functions are
// defined once, not on every call as an EVAL script's are, and it is
// replicated and persisted with the data, so a promoted replica has it.
// The library's name carries a hash of its code, so that two versions of
// an app can run side by side.
var (
	//go:embed lua/strata.lua
	luaShared string
	//go:embed lua/write.lua
	luaWrite string
	//go:embed lua/commit.lua
	luaCommit string
	//go:embed lua/batch.lua
	luaBatch string
	//go:embed lua/sweep.lua
	luaSweep string
)

// library is the library's code, and fnPrefix the prefix of its functions'
// names.
var library, fnPrefix = buildLibrary()

// The library's functions.
const (
	fnWrite  = "write"
	fnCommit = "commit"
	fnBatch  = "batch"
	fnSweep  = "sweep"
)

func buildLibrary() (string, string) {
	bodies := []struct{ name, code string }{{fnWrite, luaWrite}, {fnCommit, luaCommit}, {fnBatch, luaBatch}, {fnSweep, luaSweep}}
	var code strings.Builder
	code.WriteString(luaShared)
	for _, b := range bodies {
		fmt.Fprintf(&code, "\nlocal function fn_%s(KEYS, ARGV)\n%s\nend\n", b.name, b.code)
	}
	sum := sha1.Sum([]byte(code.String()))
	name := "strata_" + hex.EncodeToString(sum[:6])
	for _, b := range bodies {
		fmt.Fprintf(&code, "redis.register_function('%s_%s', fn_%s)\n", name, b.name, b.name)
	}
	return "#!lua name=" + name + "\n" + code.String(), name + "_"
}

// loadLibrary loads the library on every master.
func (a *Adapter) loadLibrary(ctx context.Context) error {
	load := func(ctx context.Context, c *goredis.Client) error {
		return c.FunctionLoadReplace(ctx, library).Err()
	}
	var err error
	switch c := a.client.(type) {
	case *goredis.ClusterClient:
		err = c.ForEachMaster(ctx, load)
	case *goredis.Client:
		err = load(ctx, c)
	default:
		err = a.client.FunctionLoadReplace(ctx, library).Err()
	}
	if err != nil {
		return fmt.Errorf("redis: load functions (Redis 7 or later is needed): %w", err)
	}
	return nil
}

// missing reports whether err says that the library is not loaded (the
// server was restarted without persistence, or its functions flushed).
func missing(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Function not found")
}

// call calls a function of the library whose first key is KEYS[1],
// loading the library again if the server lacks it.
func (a *Adapter) call(ctx context.Context, fn string, keys []string, args ...any) (any, error) {
	res, err := a.client.FCall(ctx, fnPrefix+fn, keys, args...).Result()
	if missing(err) {
		if err := a.loadLibrary(ctx); err != nil {
			return nil, err
		}
		res, err = a.client.FCall(ctx, fnPrefix+fn, keys, args...).Result()
	}
	return res, err
}

// write calls a function that writes. With Options.Replicas it also
// waits, on the same connection, until that many replicas have the write;
// then it retries (with the same write id, so at most once) through
// connection errors and cluster redirections until ctx ends, since the
// functions are idempotent by their write id.
func (a *Adapter) write(ctx context.Context, fn string, keys []string, args ...any) (any, error) {
	if a.opts.Replicas <= 0 {
		return a.call(ctx, fn, keys, args...)
	}
	backoff := 10 * time.Millisecond
	giveUp := time.Now().Add(retryFor)
	for {
		res, err := a.writeWait(ctx, fn, keys, args)
		if missing(err) {
			if err = a.loadLibrary(ctx); err == nil {
				continue
			}
		}
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

func (a *Adapter) writeWait(ctx context.Context, fn string, keys []string, args []any) (any, error) {
	var c goredis.Cmdable = a.client
	if a.cluster != nil {
		node, err := a.cluster.MasterForKey(ctx, keys[0])
		if err != nil {
			return nil, err
		}
		c = node
	}
	timeout := a.opts.ReplicaTimeout
	var call *goredis.Cmd
	wait := goredis.NewIntCmd(ctx, "wait", a.opts.Replicas, timeout.Milliseconds())
	_, err := c.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		call = pipe.FCall(ctx, fnPrefix+fn, keys, args...)
		return pipe.Process(ctx, wait)
	})
	if err := call.Err(); err != nil {
		return nil, err
	}
	res := call.Val()
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
