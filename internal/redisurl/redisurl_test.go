package redisurl

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		url     string
		cluster bool
		addrs   []string
		user    string
	}{
		{url: "redis://127.0.0.1:6379/2", addrs: []string{"127.0.0.1:6379"}},
		{url: "rediss://u:p@host:6380", addrs: []string{"host:6380"}, user: "u"},
		{url: "redis+cluster://a:1,b:2,c:3", cluster: true, addrs: []string{"a:1", "b:2", "c:3"}},
		{url: "rediss+cluster://u:p@a:1", cluster: true, addrs: []string{"a:1"}, user: "u"},
	} {
		c, err := Parse(tc.url)
		require.NoError(t, err, tc.url)
		switch cl := c.(type) {
		case *redis.ClusterClient:
			require.True(t, tc.cluster, tc.url)
			require.Equal(t, tc.addrs, cl.Options().Addrs)
			require.Equal(t, tc.user, cl.Options().Username)
			require.Equal(t, tc.url[:6] == "rediss", cl.Options().TLSConfig != nil)
		case *redis.Client:
			require.False(t, tc.cluster, tc.url)
			require.Equal(t, tc.addrs[0], cl.Options().Addr)
			require.Equal(t, tc.user, cl.Options().Username)
		default:
			t.Fatalf("%s: %T", tc.url, c)
		}
		require.NoError(t, c.Close())
	}
	for _, bad := range []string{"http://x", "redis+cluster://", "redis+cluster://a:1?pool_size=3", "redis://h:1/notadb", "::"} {
		_, err := Parse(bad)
		require.Error(t, err, bad)
	}
}
