package memory

import (
	"context"
	"net/url"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
)

// The URL scheme "memory" opens a new, empty store: repo.Open(ctx,
// "memory://"). Each Open is its own store; share one between repos with
// repo.New(memory.New()) and the same adapter.
func init() {
	repo.Register("memory", func(ctx context.Context, u *url.URL) (driver.Adapter, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return New(), nil
	})
}
