// Package busurl opens a pubsub.Bus from a URL, the form configuration
// names a bus in: a Redis URL (redis://, rediss://, redis+cluster://…)
// opens a Redis pub/sub bus, a postgres:// URL a LISTEN/NOTIFY bus, each
// with its package's default options.
package busurl

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/strata-go/strata/internal/redisurl"
	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/pubsub/pgpubsub"
	"github.com/strata-go/strata/pubsub/redispubsub"
)

// Open opens the bus rawURL names. The caller closes it.
func Open(ctx context.Context, rawURL string) (pubsub.Bus, error) {
	scheme, _, _ := strings.Cut(rawURL, "://")
	switch {
	case scheme == "postgres" || scheme == "postgresql":
		return pgpubsub.New(ctx, rawURL, pgpubsub.Options{})
	case slices.Contains(redisurl.Schemes, scheme):
		return redispubsub.Open(ctx, rawURL, redispubsub.Options{})
	}
	return nil, fmt.Errorf("%w: bus URL scheme %q: want a Redis URL or postgres://", pubsub.ErrInvalid, scheme)
}
