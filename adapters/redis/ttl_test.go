package redis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/adapters/redis"
	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/schema"
)

// session is ephemeral: the adapter gives its collection a time to live.
type session struct {
	_     struct{} `strata:"table=sessions"`
	ID    string   `strata:"id,pk"`
	User  string   `strata:"user,index"`
	Token string   `strata:"token,unique"`
	Seen  int64    `strata:"seen,merge=counter"`
}

// A record of a collection with a time to live reads as deleted once it
// has outlived it (Get, queries, counts, unique checks, inserts of its key),
// a write renews it, and the sweeper removes it and its index entries.
func TestTTL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, url string }{
		{"standalone", testservers.RedisURL(t)},
		{"cluster", testservers.RedisClusterURL(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const ttl = 400 * time.Millisecond
			ctx := t.Context()
			adm := admin(t, tc.url)
			a, r := openURL(t, withParam(withParam(freshNamespace(t, adm, tc.url), "ttl.sessions", ttl.String()), "sweep_every", "100ms"))

			require.NoError(t, r.Insert(ctx, &session{ID: "a", User: "ann", Token: "ta"}))
			require.NoError(t, r.Insert(ctx, &session{ID: "b", User: "ann", Token: "tb"}))
			time.Sleep(ttl / 2)
			kept := session{ID: "b"}
			require.NoError(t, r.Update(ctx, schema.NewChangeset(&kept).Increment("seen", 1)), "a write renews the time to live")
			time.Sleep(ttl/2 + 100*time.Millisecond)

			var got session
			require.ErrorIs(t, r.Get(ctx, &got, "a"), repo.ErrNotFound, "an expired record")
			require.NoError(t, r.Get(ctx, &got, "b"), "a renewed record")
			all, err := repo.All[session](ctx, r, repo.Where("user", repo.Eq, "ann"))
			require.NoError(t, err)
			require.Len(t, all, 1)
			require.Equal(t, "b", all[0].ID)
			n, err := repo.Count[session](ctx, r, repo.Where("user", repo.Eq, "ann"))
			require.NoError(t, err)
			require.EqualValues(t, 1, n, "Count does not count an expired record")

			require.NoError(t, r.Insert(ctx, &session{ID: "c", User: "cid", Token: "ta"}), "an expired record's unique value is free")
			require.NoError(t, r.Insert(ctx, &session{ID: "a", User: "ann", Token: "ta2"}), "an expired record's key is free")
			require.ErrorIs(t, r.Insert(ctx, &session{ID: "d", User: "dan", Token: "tb"}), repo.ErrConflict, "a live record's unique value is not")

			// Once everything has expired, the sweeper leaves no record
			// and no index entry: only the meta hash and write ids remain.
			require.Eventually(t, func() bool {
				n, err := repo.Count[session](ctx, r, repo.Where("user", repo.Gte, ""))
				return err == nil && n == 0
			}, 5*time.Second, 50*time.Millisecond)
			require.Eventually(t, func() bool {
				keys := namespaceKeys(t, adm, a)
				for _, k := range keys {
					switch {
					case strings.HasSuffix(k, ":meta"), strings.Contains(k, ":o:"):
					default:
						return false
					}
				}
				return true
			}, 5*time.Second, 100*time.Millisecond, "the sweeper removes expired records and their index entries")
		})
	}
}

// namespaceKeys lists the keys of a's namespace.
func namespaceKeys(t *testing.T, adm, a *redis.Adapter) []string {
	t.Helper()
	return scanKeys(t, adm.Client(), "{"+a.Namespace()+"[:}]*")
}
