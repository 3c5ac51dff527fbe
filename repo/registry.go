package repo

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/strata-go/strata/repo/driver"
)

// The scheme registry is the package's only mutable state, as
// database/sql's driver registry is.
var (
	registryMu sync.RWMutex
	registry   = map[string]driver.Opener{}
)

// Register makes an adapter available to Open under a URL scheme
// ("memory", "sqlite", "postgres", …). Adapters call it from an init
// function. Registering a scheme twice, or a nil opener, panics: it is a
// programming error found at start-up, as with database/sql.Register.
func Register(scheme string, open driver.Opener) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if open == nil {
		panic("repo: Register opener is nil")
	}
	if _, dup := registry[scheme]; dup {
		panic("repo: Register called twice for scheme " + scheme)
	}
	registry[scheme] = open
}

// Schemes returns the registered URL schemes, sorted.
func Schemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for s := range registry {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Open opens a repo on the store the URL names, through the adapter
// registered for its scheme (import the adapter's package for its side
// effect, as with database/sql drivers).
func Open(ctx context.Context, rawURL string, opts ...Option) (*Repo, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: repo.Open: %v", ErrInvalid, err)
	}
	registryMu.RLock()
	open := registry[u.Scheme]
	registryMu.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("%w: repo.Open: no adapter for scheme %q (registered: %s; import the adapter package)",
			ErrInvalid, u.Scheme, strings.Join(Schemes(), ", "))
	}
	a, err := open(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("repo.Open %s: %w", u.Redacted(), err)
	}
	r, err := New(a, opts...)
	if err != nil {
		a.Close()
		return nil, err
	}
	return r, nil
}
