package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/strata-go/strata/repo/driver"
)

var _ driver.Locker = (*Adapter)(nil)

// Lock holds the adapter's lock of the given name until the returned
// function is called, waiting while another caller holds it. Locks of
// different names are independent, and each Adapter has its own: two
// repos over one Adapter exclude each other, two Adapters never do.
//
// When ctx ends before the lock is free, Lock returns an error wrapping
// ctx.Err() and holds nothing. An empty name is driver.ErrInvalid, and a
// closed adapter driver.ErrClosed (a caller already waiting when the
// adapter is closed keeps waiting for the holder or its context). The
// returned function never fails; calling it again does nothing.
//
// The lock lives in process memory, like the data: it is released when
// the process dies.
func (a *Adapter) Lock(ctx context.Context, name string) (unlock func() error, err error) {
	if err := live(ctx); err != nil {
		return nil, fmt.Errorf("memory: lock %q: %w", name, err)
	}
	if name == "" {
		return nil, fmt.Errorf("memory: lock: %w: the lock has no name", driver.ErrInvalid)
	}
	a.mu.RLock()
	closed := a.closed
	a.mu.RUnlock()
	if closed {
		return nil, fmt.Errorf("memory: lock %q: %w", name, driver.ErrClosed)
	}
	ls := &a.locks
	l := ls.ref(name)
	select {
	case l.held <- struct{}{}:
	case <-ctx.Done():
		ls.unref(name, l)
		return nil, fmt.Errorf("memory: lock %q: %w", name, ctx.Err())
	}
	var once sync.Once
	return func() error {
		once.Do(func() {
			<-l.held
			ls.unref(name, l)
		})
		return nil
	}, nil
}

// lockSet is an adapter's named locks.
type lockSet struct {
	mu    sync.Mutex
	named map[string]*namedLock
}

// namedLock is one lock: held while its channel holds a value.
type namedLock struct {
	held chan struct{}
	// refs counts the holder and the waiters; the lock is forgotten when
	// it drops to zero, so that the set does not grow with every name
	// ever locked.
	refs int
}

// ref returns the named lock, counting the caller as its user.
func (ls *lockSet) ref(name string) *namedLock {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.named == nil {
		ls.named = make(map[string]*namedLock)
	}
	l := ls.named[name]
	if l == nil {
		l = &namedLock{held: make(chan struct{}, 1)}
		ls.named[name] = l
	}
	l.refs++
	return l
}

// unref stops counting one user of the named lock.
func (ls *lockSet) unref(name string, l *namedLock) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(ls.named, name)
	}
}
