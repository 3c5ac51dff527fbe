package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/repo/driver"
)

// A write sent again with the same write id (as go-redis resends a command
// whose reply was lost) applies once: the retry replies "dup". A write
// that failed releases its id, so that its retry fails the same way.
func TestWriteRetryAppliesOnce(t *testing.T) {
	ctx := context.Background()
	o, err := goredis.ParseURL(testservers.RedisURL(t))
	require.NoError(t, err)
	ns := fmt.Sprintf("retry_%d", time.Now().UnixNano())
	a, err := New(ctx, goredis.NewClient(o), Options{Namespace: ns})
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	c, err := driver.NewCollection("things", []driver.Field{
		{Name: "id", Kind: driver.KindInt, Bits: 64},
		{Name: "n", Kind: driver.KindInt, Bits: 64, Merge: driver.MergeCounter},
		{Name: "version", Kind: driver.KindInt, Bits: 64},
	}, "id", "version", nil, driver.AnyConsistency)
	require.NoError(t, err)
	col, shard, pk, err := a.target(ctx, c, int64(1), true)
	require.NoError(t, err)
	t.Cleanup(func() {
		ids := []string{shard + ":r:" + pk, shard + ":k", a.metaKey()}
		for _, id := range []string{"w1", "w2", "w3", "w4", "w5", "w6"} {
			ids = append(ids, shard+":o:"+id)
		}
		a.client.Del(context.Background(), ids...)
	})
	send := func(id string, args ...any) string {
		t.Helper()
		res, err := a.write(ctx, fnWrite, []string{shard}, append([]any{args[0], col.desc, id, pk, a.idTTL}, args[1:]...)...)
		require.NoError(t, err)
		status, _ := reply(res)
		return status
	}
	insert := []any{"ins", "", "", 3, "id", "1", "n", "0", "version", "1"}
	require.Equal(t, "ok", send("w1", insert...))
	require.Equal(t, "dup", send("w1", insert...), "a retried insert")
	require.Equal(t, "unique", send("w2", insert...), "another insert of the key")

	incr := []any{"upd", "", "i", "n", "i", "5"}
	require.Equal(t, "ok", send("w3", incr...))
	require.Equal(t, "dup", send("w3", incr...), "a retried increment")
	rec, err := a.Get(ctx, c, int64(1))
	require.NoError(t, err)
	require.Equal(t, int64(5), rec.Values[1], "the increment applied once")

	stale := []any{"upd", "7", "i", "n", "i", "1"}
	require.Equal(t, "stale", send("w4", stale...))
	require.Equal(t, "stale", send("w4", stale...), "a failed write's retry fails again")

	del := []any{"del", ""}
	require.Equal(t, "ok", send("w5", del...))
	require.Equal(t, "dup", send("w5", del...), "a retried delete")
	require.Equal(t, "notfound", send("w6", del...))
}
