package pb

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
	"github.com/stretchr/testify/require"
)

// fastOptions makes the cluster's timers short enough for tests.
func fastOptions() ClusterOptions {
	return ClusterOptions{
		Conn:                  ConnOptions{DialTimeout: time.Second},
		RetryBackoff:          time.Millisecond,
		MaxRetryBackoff:       5 * time.Millisecond,
		HealthCheckInterval:   10 * time.Millisecond,
		MaxHealthCheckBackoff: 40 * time.Millisecond,
		HealthCheckTimeout:    time.Second,
	}
}

func newTestCluster(t *testing.T, addrs []string, opts ClusterOptions) *Cluster {
	t.Helper()
	cl, err := NewCluster(addrs, opts)
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return cl
}

var getK1 = &riak_kv.RpbGetReq{Bucket: []byte("tv"), Key: []byte("k1")}

func TestClusterFailover(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", replayVectors)
	dead := deadAddr(t)
	cl := newTestCluster(t, []string{dead, s.addr}, fastOptions())
	for range 10 {
		r, err := cl.Get(testCtx(t), getK1)
		require.NoError(t, err)
		require.Equal(t, "v-k1", string(r.GetContent()[0].GetValue()))
	}
	nodes := cl.Nodes()
	require.False(t, nodes[0].Up)
	require.Error(t, nodes[0].LastErr)
	require.True(t, nodes[1].Up)
	require.Equal(t, 1, s.acceptCount(), "the live node's connection is pooled")
	require.Equal(t, 1, nodes[1].Idle)
}

func TestClusterPutWithoutVclockFailsOverOnDialError(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", replayVectors)
	cl := newTestCluster(t, []string{deadAddr(t), s.addr}, fastOptions())
	put := &riak_kv.RpbPutReq{Bucket: []byte("tv2"), Content: &riak_kv.RpbContent{Value: []byte("anon")}}
	for range 4 {
		_, err := cl.Put(testCtx(t), put)
		require.NoError(t, err, "a dial failure means the request was not sent")
	}
}

func TestClusterHealthCheckBringsNodeBack(t *testing.T) {
	addr := deadAddr(t)
	cl := newTestCluster(t, []string{addr}, fastOptions())
	start := time.Now()
	err := cl.Ping(testCtx(t))
	require.ErrorIs(t, err, ErrNoNodes)
	require.False(t, cl.Nodes()[0].Up)

	s := newFakeServer(t, addr, replayVectors)
	require.Eventually(t, func() bool { return cl.Nodes()[0].Up }, 5*time.Second, 5*time.Millisecond)
	require.Less(t, time.Since(start), 3*time.Second)
	require.NoError(t, cl.Ping(testCtx(t)))
	require.Equal(t, 1, s.acceptCount(), "the health check's connection is reused")
}

func TestClusterAllNodesDown(t *testing.T) {
	opts := fastOptions()
	opts.HealthCheckInterval = time.Hour // keep them down
	cl := newTestCluster(t, []string{deadAddr(t), deadAddr(t)}, opts)
	start := time.Now()
	_, err := cl.Get(testCtx(t), getK1)
	require.ErrorIs(t, err, ErrNoNodes)
	require.Less(t, time.Since(start), time.Second)
	for _, n := range cl.Nodes() {
		require.False(t, n.Up)
	}
	start = time.Now()
	err = cl.Ping(testCtx(t))
	require.ErrorIs(t, err, ErrNoNodes)
	require.Equal(t, ErrNoNodes, err, "no node up: no attempt at all")
	require.Less(t, time.Since(start), 50*time.Millisecond)
}

func TestClusterDoesNotRetryRiakErrors(t *testing.T) {
	s1 := newFakeServer(t, "127.0.0.1:0", replayVectors)
	s2 := newFakeServer(t, "127.0.0.1:0", replayVectors)
	cl := newTestCluster(t, []string{s1.addr, s2.addr}, fastOptions())
	_, err := cl.Get(testCtx(t), &riak_kv.RpbGetReq{Bucket: []byte("tv"), Key: []byte{}})
	requireRiakError(t, err, "Key cannot be zero-length")
	require.Equal(t, 1, len(s1.requests())+len(s2.requests()))
	for _, n := range cl.Nodes() {
		require.True(t, n.Up)
	}
}

// TestClusterRetryRules: both nodes drop the connection on a request; a
// get is retried on the other node, a put without vclock is not.
func TestClusterRetryRules(t *testing.T) {
	dropPuts := func(req []byte) reply {
		if req[4] == CodePutReq {
			return reply{close: true}
		}
		return replayVectors(req)
	}
	var mu sync.Mutex
	firstGet := true
	dropFirstGet := func(req []byte) reply {
		mu.Lock()
		defer mu.Unlock()
		if req[4] == CodeGetReq && firstGet {
			firstGet = false
			return reply{close: true}
		}
		return dropPuts(req)
	}
	s1 := newFakeServer(t, "127.0.0.1:0", dropFirstGet)
	s2 := newFakeServer(t, "127.0.0.1:0", dropFirstGet)
	opts := fastOptions()
	opts.HealthCheckInterval = time.Hour
	cl := newTestCluster(t, []string{s1.addr, s2.addr}, opts)

	_, err := cl.Get(testCtx(t), getK1)
	require.NoError(t, err, "an idempotent request is retried")
	require.Equal(t, 2, len(s1.requests())+len(s2.requests()))

	cl2 := newTestCluster(t, []string{s1.addr, s2.addr}, opts)
	before := len(s1.requests()) + len(s2.requests())
	_, err = cl2.Put(testCtx(t), &riak_kv.RpbPutReq{Bucket: []byte("tv"), Key: []byte("k"), Content: &riak_kv.RpbContent{Value: []byte("v")}})
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrNoNodes)
	require.Equal(t, before+1, len(s1.requests())+len(s2.requests()), "a blind put is sent once")

	cl3 := newTestCluster(t, []string{s1.addr, s2.addr}, opts)
	before = len(s1.requests()) + len(s2.requests())
	_, err = cl3.Put(testCtx(t), &riak_kv.RpbPutReq{Bucket: []byte("tv"), Key: []byte("k"), Vclock: []byte("vc"), Content: &riak_kv.RpbContent{Value: []byte("v")}})
	require.ErrorIs(t, err, ErrNoNodes, "an update of a known version is retried, until no node is left")
	require.Equal(t, before+2, len(s1.requests())+len(s2.requests()))
}

func TestClusterAbandonedStreamNotReused(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", replayVectors)
	cl := newTestCluster(t, []string{s.addr}, fastOptions())
	require.NoError(t, cl.Ping(testCtx(t)))
	require.NoError(t, cl.Ping(testCtx(t)))
	require.Equal(t, 1, s.acceptCount(), "a healthy connection is reused")

	stop := errors.New("enough")
	err := cl.ListBuckets(testCtx(t), &riak_kv.RpbListBucketsReq{Stream: proto.Bool(true)}, func([][]byte) error { return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 0, cl.Nodes()[0].Idle, "the abandoned connection was closed")
	require.True(t, cl.Nodes()[0].Up, "a caller's error says nothing of the node")

	var keys [][]byte
	require.NoError(t, cl.ListKeys(testCtx(t), &riak_kv.RpbListKeysReq{Bucket: []byte("tv")}, func(k [][]byte) error {
		keys = append(keys, k...)
		return nil
	}))
	require.Len(t, keys, 3, "the next request reads its own response")
	require.Equal(t, 2, s.acceptCount())
}

func TestClusterTimeoutNotReused(t *testing.T) {
	var mu sync.Mutex
	hang := true
	s := newFakeServer(t, "127.0.0.1:0", func(req []byte) reply {
		mu.Lock()
		defer mu.Unlock()
		if req[4] == CodeGetReq && hang {
			hang = false
			return reply{hang: true}
		}
		return replayVectors(req)
	})
	cl := newTestCluster(t, []string{s.addr}, fastOptions())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := cl.Get(ctx, getK1)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	r, err := cl.Get(testCtx(t), &riak_kv.RpbGetReq{Bucket: []byte("tv"), Key: []byte("missing")})
	require.NoError(t, err)
	require.True(t, IsNotFound(r), "not the late answer to the first get")
	require.Equal(t, 2, s.acceptCount())
}

func TestClusterMaxOpen(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", hangOn(CodeGetReq))
	opts := fastOptions()
	opts.MaxOpen = 1
	cl := newTestCluster(t, []string{s.addr}, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		cl.Get(ctx, getK1)
	}()
	require.Eventually(t, func() bool { return len(s.requests()) == 1 }, 2*time.Second, time.Millisecond)
	short, cancelShort := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancelShort()
	require.ErrorIs(t, cl.Ping(short), context.DeadlineExceeded, "waits for a free connection")
	require.Equal(t, 1, s.acceptCount())
	cancel()
	<-done
	require.NoError(t, cl.Ping(testCtx(t)))
}

func TestClusterMinIdleAndIdleTimeout(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", replayVectors)
	opts := fastOptions()
	opts.MinIdle = 2
	opts.IdleTimeout = 20 * time.Millisecond
	cl := newTestCluster(t, []string{s.addr}, opts)
	require.Eventually(t, func() bool { return cl.Nodes()[0].Idle == 2 }, 2*time.Second, 5*time.Millisecond)

	opts.MinIdle = 0
	cl2 := newTestCluster(t, []string{s.addr}, opts)
	require.NoError(t, cl2.Ping(testCtx(t)))
	require.Equal(t, 1, cl2.Nodes()[0].Idle)
	require.Eventually(t, func() bool { return cl2.Nodes()[0].Idle == 0 }, 2*time.Second, 5*time.Millisecond)
}

func TestClusterCloseStopsGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	s := newFakeServer(t, "127.0.0.1:0", replayVectors)
	opts := fastOptions()
	opts.MinIdle = 1
	cl, err := NewCluster([]string{s.addr, deadAddr(t)}, opts)
	require.NoError(t, err)
	for range 5 {
		require.NoError(t, cl.Ping(testCtx(t)))
	}
	time.Sleep(50 * time.Millisecond) // let health checks and fills run
	require.NoError(t, cl.Close())
	require.NoError(t, cl.Close(), "Close twice")
	require.ErrorIs(t, cl.Ping(testCtx(t)), ErrClosed)
	for _, n := range cl.Nodes() {
		require.Zero(t, n.Idle)
	}
	s.stop()
	// Close has waited for the cluster's goroutines; the runtime may take
	// a moment to account for them.
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(2 * time.Second); n > base && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(5 * time.Millisecond)
	}
	require.LessOrEqual(t, n, base, "goroutines left running")
}

func TestNewClusterWithoutNodes(t *testing.T) {
	_, err := NewCluster(nil, ClusterOptions{})
	require.Error(t, err)
}
