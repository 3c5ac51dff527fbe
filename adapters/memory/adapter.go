package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/strata-go/strata/repo/driver"
)

// Adapter is an in-memory store. It implements driver.Adapter,
// driver.Transactor, driver.Aggregator, driver.BatchInserter,
// driver.Migrator and driver.Locker, and is safe for concurrent use.
// Create one with New.
type Adapter struct {
	store

	// mu guards everything below, and the tables' contents.
	mu     sync.RWMutex
	tables map[string]*table
	// clock is the revision of the last committed write.
	clock  uint64
	closed bool

	locks lockSet // named locks (Lock), guarded by their own mutex
}

var (
	_ driver.Adapter       = (*Adapter)(nil)
	_ driver.Transactor    = (*Adapter)(nil)
	_ driver.Aggregator    = (*Adapter)(nil)
	_ driver.BatchInserter = (*Adapter)(nil)
	_ driver.Migrator      = (*Adapter)(nil)
)

// New returns an empty Adapter.
func New() *Adapter {
	a := &Adapter{tables: make(map[string]*table)}
	a.store = store{r: a}
	return a
}

// Capabilities returns driver.AllCapabilities: the memory adapter can do
// everything the contract describes.
func (a *Adapter) Capabilities() driver.Capabilities { return driver.AllCapabilities }

// Close discards all data. Every later call, on the adapter or on one of
// its transactions, fails with driver.ErrClosed; Close itself may be called again.
func (a *Adapter) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	a.tables = nil
	return nil
}

// table returns the committed table of the named collection, creating it.
// a.mu must be held for writing.
func (a *Adapter) table(name string) *table {
	t := a.tables[name]
	if t == nil {
		t = newTable(&a.clock)
		a.tables[name] = t
	}
	return t
}

// snapshot returns the committed table of the named collection, or an
// empty one, not registered, if it has none. a.mu must be held.
func (a *Adapter) snapshot(name string) *table {
	if t := a.tables[name]; t != nil {
		return t
	}
	return newTable(&a.clock)
}

func (a *Adapter) read(ctx context.Context, op string, c *driver.Collection, key any, fn func(view) error) error {
	if err := enter(ctx, c); err != nil {
		return wrap(op, c, key, err)
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return wrap(op, c, key, driver.ErrClosed)
	}
	return wrap(op, c, key, fn(a.snapshot(c.Name)))
}

func (a *Adapter) write(ctx context.Context, op string, c *driver.Collection, key any, fn func(view) error) error {
	if err := enter(ctx, c); err != nil {
		return wrap(op, c, key, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return wrap(op, c, key, driver.ErrClosed)
	}
	return wrap(op, c, key, fn(a.table(c.Name)))
}

// wrap adds the operation, collection and key (if not nil) to err, as in
// "memory: update users/42: stale: ...". It returns nil for a nil err.
func wrap(op string, c *driver.Collection, key any, err error) error {
	if err == nil {
		return nil
	}
	name := "<nil collection>"
	if c != nil {
		name = c.Name
	}
	if key != nil {
		return fmt.Errorf("memory: %s %s/%v: %w", op, name, key, err)
	}
	return fmt.Errorf("memory: %s %s: %w", op, name, err)
}

// stream does nothing: outside a transaction a query loop may call the
// adapter.
func (a *Adapter) stream() func() { return func() {} }
