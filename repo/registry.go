package repo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/strata-go/strata/repo/driver"
)

// The scheme registry is the package's only mutable state, as
// database/sql's driver registry is.
var (
	registryMu sync.RWMutex
	registry   = map[string]driver.Opener{}
	wrappers   = map[string]driver.WrapOpener{}
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

// RegisterWrapper makes an adapter that wraps others (a cache) available
// to Open under a scheme prefix: Open opens "prefix+scheme://…" by calling
// wrap with the URL and an opener of the registered schemes. Registering
// a prefix twice, a nil wrapper, or a prefix that holds '+' panics, as
// Register does.
func RegisterWrapper(prefix string, wrap driver.WrapOpener) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if wrap == nil {
		panic("repo: RegisterWrapper wrapper is nil")
	}
	if prefix == "" || strings.Contains(prefix, "+") {
		panic("repo: RegisterWrapper prefix " + strconv.Quote(prefix) + " is empty or holds '+'")
	}
	if _, dup := wrappers[prefix]; dup {
		panic("repo: RegisterWrapper called twice for prefix " + prefix)
	}
	wrappers[prefix] = wrap
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
// effect, as with database/sql drivers). A scheme "prefix+scheme" whose
// prefix names a wrapper (see RegisterWrapper) opens the wrapped store
// through it.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Repo, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: repo.Open: %v", ErrInvalid, err)
	}
	a, err := openAdapter(ctx, u)
	if err != nil {
		if errors.Is(err, errNoScheme) {
			return nil, fmt.Errorf("%w: repo.Open: no adapter for scheme %q (registered: %s; import the adapter package)",
				ErrInvalid, u.Scheme, strings.Join(Schemes(), ", "))
		}
		return nil, fmt.Errorf("repo.Open %s: %w", u.Redacted(), err)
	}
	r, err := New(a, opts...)
	if err != nil {
		a.Close()
		return nil, err
	}
	return r, nil
}

var errNoScheme = errors.New("no adapter for the scheme")

// openAdapter opens the adapter of u's scheme, or of its wrapper.
func openAdapter(ctx context.Context, u *url.URL) (driver.Adapter, error) {
	registryMu.RLock()
	open := registry[u.Scheme]
	var wrap driver.WrapOpener
	if prefix, _, ok := strings.Cut(u.Scheme, "+"); ok && open == nil {
		wrap = wrappers[prefix]
	}
	registryMu.RUnlock()
	switch {
	case open != nil:
		return open(ctx, u)
	case wrap != nil:
		return wrap(ctx, u, openAdapter)
	}
	return nil, errNoScheme
}
