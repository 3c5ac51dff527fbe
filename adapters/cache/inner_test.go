package cache_test

import (
	"context"
	"iter"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/adapters/memory"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// store is a memory store that the tests' nodes share, counting the
// reads that reach it; a test may hold its Gets at a gate.
type store struct {
	*memory.Adapter
	gets, queries atomic.Int64

	mu    sync.Mutex
	gate  chan struct{} // when not nil, Get waits for it to close
	held  chan struct{} // a Get signals here when it waits at the gate
	after func()        // when not nil, called by Get after reading
}

func newStore() *store { return &store{Adapter: memory.New()} }

// node returns a view of s for one node's cache: closing it leaves s open.
func (s *store) node() driver.Adapter { return &shared{s} }

// hold makes Gets wait until release is called; it returns a channel that
// receives once per Get waiting.
func (s *store) hold() (held <-chan struct{}, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate, s.held = make(chan struct{}), make(chan struct{}, 100)
	gate := s.gate
	return s.held, func() {
		s.mu.Lock()
		s.gate = nil
		s.mu.Unlock()
		close(gate)
	}
}

// pauseAfterRead makes the next Get stop after it has read the store: read
// is closed then, and resume lets it return.
func (s *store) pauseAfterRead() (read <-chan struct{}, resume func()) {
	r, g := make(chan struct{}), make(chan struct{})
	s.mu.Lock()
	s.after = func() {
		close(r)
		<-g
	}
	s.mu.Unlock()
	return r, func() { close(g) }
}

func (s *store) Get(ctx context.Context, c *driver.Collection, key any) (driver.Record, error) {
	s.gets.Add(1)
	s.mu.Lock()
	gate, held, after := s.gate, s.held, s.after
	s.after = nil
	s.mu.Unlock()
	if gate != nil {
		held <- struct{}{}
		<-gate
	}
	rec, err := s.Adapter.Get(ctx, c, key)
	if after != nil {
		after()
	}
	return rec, err
}

func (s *store) Query(ctx context.Context, c *driver.Collection, q *driver.Query) iter.Seq2[driver.Record, error] {
	s.queries.Add(1)
	return s.Adapter.Query(ctx, c, q)
}

// shared is a node's handle on a store: Close does not close the store.
type shared struct{ *store }

func (shared) Close() error { return nil }

// Item is the tests' schema.
type Item struct {
	_    struct{} `strata:"table=items"`
	ID   int64
	Name string `strata:"name,index"`
	N    int64
	Tags []string
}

func itemCollection(t testing.TB) *driver.Collection {
	s, err := schema.Of[Item]()
	require.NoError(t, err)
	return s.Collection
}
