package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/strata-go/strata/repo/driver"
)

// busyTimeout is how long a SQLite writer waits for the lock, at the
// gate and in SQLite's busy handler (for other processes).
const busyTimeout = 10 * time.Second

// gate lets one writer at a time into a SQLite file, queued here. SQLite
// has one writer lock per file; a connection that finds it taken waits in
// its busy handler, which sleeps in steps of up to 100 ms, so that under
// contention writers mostly sleep while the lock is free. Through the
// gate they wait in turn and go in as soon as the writer before them is
// done. (Other processes on the same file still meet the busy handler.)
// A nil gate lets everyone in: other databases, and statements inside a
// transaction, which holds the gate.
type gate chan struct{}

// enter waits for the gate, or ctx; leave releases it.
func (g gate) enter(ctx context.Context) (leave func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	select {
	case g <- struct{}{}:
		return func() { <-g }, nil
	default:
	}
	t := time.NewTimer(busyTimeout)
	defer t.Stop()
	select {
	case g <- struct{}{}:
		return func() { <-g }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("sqlstore: waiting for the writer lock: %w", ctx.Err())
	case <-t.C:
		// As SQLite's busy timeout would: a writer that holds the lock
		// this long (or a caller that writes outside the transaction
		// it holds) is an error, not a hang.
		return nil, fmt.Errorf("sqlstore: %w: the database is locked (waited %v for the writer lock)", driver.ErrSerialization, busyTimeout)
	}
}

// enterFor holds the gate for a transaction: until the returned release
// is called (at commit or rollback) or ctx ends (when database/sql rolls
// the transaction back by itself), whichever comes first.
func (g gate) enterFor(ctx context.Context) (release func(), err error) {
	leave, err := g.enter(ctx)
	if err != nil {
		return nil, err
	}
	once := sync.OnceFunc(leave)
	stop := context.AfterFunc(ctx, once)
	return func() {
		stop()
		once()
	}, nil
}
