package busurl

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/pubsub/pgpubsub"
	"github.com/strata-go/strata/pubsub/redispubsub"
)

func TestOpen(t *testing.T) {
	for _, bad := range []string{"", "ftp://x", "memory://"} {
		_, err := Open(t.Context(), bad)
		require.ErrorIs(t, err, pubsub.ErrInvalid, bad)
	}
	r, err := Open(t.Context(), testservers.RedisURL(t))
	require.NoError(t, err)
	require.IsType(t, &redispubsub.Bus{}, r)
	require.NoError(t, r.Close())
	p, err := Open(t.Context(), testservers.PostgresURL(t))
	require.NoError(t, err)
	require.IsType(t, &pgpubsub.Bus{}, p)
	require.NoError(t, p.Close())
}
