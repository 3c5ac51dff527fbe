package pb

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/stretchr/testify/require"
)

// hangOn answers requests with code like replayVectors, except those with
// code, which it never answers.
func hangOn(code byte) func([]byte) reply {
	return func(req []byte) reply {
		if req[4] == code {
			return reply{hang: true}
		}
		return replayVectors(req)
	}
}

func requireBroken(t *testing.T, c *Conn) {
	t.Helper()
	require.True(t, c.Broken())
	err := c.Ping(context.Background())
	require.ErrorIs(t, err, ErrBroken)
}

func TestCancelDuringRead(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", hangOn(CodeGetReq))
	c := dialTest(t, s.addr, ConnOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Get(ctx, &riak_kv.RpbGetReq{Bucket: []byte("tv"), Key: []byte("k1")})
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, time.Since(start), 2*time.Second)
	requireBroken(t, c)
}

func TestContextDeadline(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", hangOn(CodeGetReq))
	c := dialTest(t, s.addr, ConnOptions{RequestTimeout: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Get(ctx, &riak_kv.RpbGetReq{Bucket: []byte("tv"), Key: []byte("k1")})
	require.ErrorIs(t, err, context.DeadlineExceeded, "the context's deadline wins over RequestTimeout")
	require.Less(t, time.Since(start), 2*time.Second)
	requireBroken(t, c)
}

func TestRequestTimeout(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", hangOn(CodeGetReq))
	c := dialTest(t, s.addr, ConnOptions{RequestTimeout: 50 * time.Millisecond})
	require.NoError(t, c.Ping(context.Background()))
	_, err := c.Get(context.Background(), &riak_kv.RpbGetReq{Bucket: []byte("tv"), Key: []byte("k1")})
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	requireBroken(t, c)
}

func TestCancelledBeforeSend(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", replayVectors)
	c := dialTest(t, s.addr, ConnOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, c.Ping(ctx), context.Canceled)
	require.False(t, c.Broken(), "nothing was sent")
	require.NoError(t, c.Ping(context.Background()))
	require.Len(t, s.requests(), 1)
}

func TestUnexpectedCodeBreaks(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", func([]byte) reply { return reply{frames: AppendFrame(nil, CodePingResp, nil)} })
	c := dialTest(t, s.addr, ConnOptions{})
	_, err := c.Get(testCtx(t), &riak_kv.RpbGetReq{Bucket: []byte("tv"), Key: []byte("k1")})
	require.ErrorIs(t, err, ErrUnexpectedCode)
	requireBroken(t, c)
}

func TestMalformedBodyBreaks(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", func([]byte) reply { return reply{frames: AppendFrame(nil, CodeGetResp, []byte{0x0a, 0xff})} })
	c := dialTest(t, s.addr, ConnOptions{})
	_, err := c.Get(testCtx(t), &riak_kv.RpbGetReq{Bucket: []byte("tv"), Key: []byte("k1")})
	require.ErrorContains(t, err, "riak: get tv/k1: riak: decode")
	requireBroken(t, c)
}

func TestFrameTooLargeBreaks(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", replayVectors)
	c := dialTest(t, s.addr, ConnOptions{MaxFrame: 32})
	_, err := c.Get(testCtx(t), &riak_kv.RpbGetReq{Bucket: []byte("tv"), Key: []byte("k1")})
	require.ErrorIs(t, err, ErrFrameTooLarge)
	requireBroken(t, c)
}

func TestServerClosesBreaks(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", func([]byte) reply { return reply{close: true} })
	c := dialTest(t, s.addr, ConnOptions{})
	err := c.Ping(testCtx(t))
	require.Error(t, err)
	requireBroken(t, c)
}

func TestAbandonedStreamBreaks(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", replayVectors)
	c := dialTest(t, s.addr, ConnOptions{})
	stop := errors.New("enough")
	err := c.ListKeys(testCtx(t), &riak_kv.RpbListKeysReq{Bucket: []byte("tv")}, func([][]byte) error { return stop })
	require.ErrorIs(t, err, stop)
	requireBroken(t, c)
}

func TestCallbackErrorOnLastFrameKeepsConn(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", replayVectors)
	c := dialTest(t, s.addr, ConnOptions{})
	stop := errors.New("enough")
	err := c.IndexStream(testCtx(t), IndexEq("tv", "idx_bin", "x-k2"), func(*riak_kv.RpbIndexResp) error { return stop })
	require.ErrorIs(t, err, stop)
	require.False(t, c.Broken(), "the whole response was read")
	require.NoError(t, c.Ping(testCtx(t)))
}

func TestConcurrentRequestsAreSequential(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", replayVectors)
	c := dialTest(t, s.addr, ConnOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 20 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- c.Ping(testCtx(t))
		}()
		go func() {
			defer wg.Done()
			err := c.ListKeys(testCtx(t), &riak_kv.RpbListKeysReq{Bucket: []byte("tv")}, func(k [][]byte) error {
				if len(k) != 3 {
					return errors.New("wrong keys")
				}
				return nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, s.acceptCount())
}

func TestWaitForTurnHonoursContext(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", hangOn(CodeGetReq))
	c := dialTest(t, s.addr, ConnOptions{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		defer wg.Done()
		close(started)
		c.Get(ctx, &riak_kv.RpbGetReq{Bucket: []byte("tv"), Key: []byte("k1")})
	}()
	<-started
	require.Eventually(t, func() bool { return len(s.requests()) == 1 }, 2*time.Second, time.Millisecond)
	short, cancelShort := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancelShort()
	require.ErrorIs(t, c.Ping(short), context.DeadlineExceeded)
	cancel()
	wg.Wait()
}

func TestCloseConn(t *testing.T) {
	s := newFakeServer(t, "127.0.0.1:0", replayVectors)
	c := dialTest(t, s.addr, ConnOptions{})
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Ping(context.Background()), ErrBroken)
}
