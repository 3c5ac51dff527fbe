package ephemeral_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/ephemeral"
)

// Timing of the expiry tests: ttls are short, and expiry is polled for,
// never slept on.
const (
	shortTTL = 150 * time.Millisecond
	// earlySlack is how much earlier than its ttl a key may vanish:
	// Redis counts whole milliseconds on its own clock.
	earlySlack = 10 * time.Millisecond
	waitFor    = 5 * time.Second
	pollEvery  = 10 * time.Millisecond
	// window is a ttl that does not run out during the checks that use it.
	window = 2 * time.Second
	// races is how many goroutines race in a race case.
	races = 32
)

// opener returns a fresh, empty cache for one test; it is closed, and its
// keys deleted, when the test ends.
type opener func(t *testing.T) ephemeral.Cache

// TestContract runs every case of the Cache contract against each
// implementation: Local, Redis on a standalone server, Redis on a cluster.
// Each case gets a cache of its own (a Redis one with a unique prefix), so
// cases run in parallel.
func TestContract(t *testing.T) {
	impls := []struct {
		name  string
		setup func(t *testing.T) opener
	}{
		{"Local", func(*testing.T) opener { return openLocal }},
		{"Redis", func(t *testing.T) opener { return redisOpener(standaloneClient(t)) }},
		{"RedisCluster", func(t *testing.T) opener { return redisOpener(clusterClient(t)) }},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			open := impl.setup(t)
			for _, tc := range contractCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, open(t))
				})
			}
		})
	}
}

func openLocal(t *testing.T) ephemeral.Cache {
	c, err := ephemeral.NewLocal(ephemeral.LocalOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

var contractCases = []struct {
	name string
	run  func(t *testing.T, c ephemeral.Cache)
}{
	{"GetSetDelete", testGetSetDelete},
	{"SetReplacesExpiry", testSetReplacesExpiry},
	{"Expiry", testExpiry},
	{"TTLAndExpire", testTTLAndExpire},
	{"SetNew", testSetNew},
	{"SetNewRace", testSetNewRace},
	{"Take", testTake},
	{"TakeRace", testTakeRace},
	{"Incr", testIncr},
	{"IncrNotACounter", testIncrNotACounter},
	{"IncrOverflow", testIncrOverflow},
	{"IncrTTLOnCreate", testIncrTTLOnCreate},
	{"IncrRace", testIncrRace},
	{"Fetch", testFetch},
	{"FetchError", testFetchError},
	{"FetchSingleFlight", testFetchSingleFlight},
	{"FetchLoaderCallerGone", testFetchLoaderCallerGone},
	{"Copies", testCopies},
	{"BadKeys", testBadKeys},
	{"BadArguments", testBadArguments},
	{"Closed", testClosed},
	{"ContextDone", testContextDone},
	{"ErrorMessages", testErrorMessages},
}

// get returns the value of key as a string, failing t on an error.
func get(t *testing.T, c ephemeral.Cache, key string) string {
	t.Helper()
	v, err := c.Get(t.Context(), key)
	require.NoError(t, err, "get %q", key)
	return string(v)
}

// ttl returns the ttl of key, failing t on an error.
func ttl(t *testing.T, c ephemeral.Cache, key string) time.Duration {
	t.Helper()
	d, err := c.TTL(t.Context(), key)
	require.NoError(t, err, "ttl %q", key)
	return d
}

// requireAbsent checks that key is absent now.
func requireAbsent(t *testing.T, c ephemeral.Cache, key string) {
	t.Helper()
	_, err := c.Get(t.Context(), key)
	require.ErrorIs(t, err, ephemeral.ErrNotFound, "get %q", key)
}

// awaitExpiry polls until key is absent.
func awaitExpiry(t *testing.T, c ephemeral.Cache, key string) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := c.Get(context.Background(), key)
		return errors.Is(err, ephemeral.ErrNotFound)
	}, waitFor, pollEvery, "%q did not expire", key)
}

// requireTTLIn checks that key's ttl is in (lo, hi].
func requireTTLIn(t *testing.T, c ephemeral.Cache, key string, lo, hi time.Duration) {
	t.Helper()
	d := ttl(t, c, key)
	require.Greater(t, d, lo, "ttl of %q", key)
	require.LessOrEqual(t, d, hi, "ttl of %q", key)
}

// race runs f(i) for i in [0, n) on n goroutines released at once.
func race(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}

func testGetSetDelete(t *testing.T, c ephemeral.Cache) {
	ctx := t.Context()
	requireAbsent(t, c, "k")

	require.NoError(t, c.Set(ctx, "k", []byte("v1"), 0))
	require.Equal(t, "v1", get(t, c, "k"))
	require.NoError(t, c.Set(ctx, "k", []byte("v2"), 0))
	require.Equal(t, "v2", get(t, c, "k"), "Set replaces the value")
	requireAbsent(t, c, "other")

	require.NoError(t, c.Delete(ctx, "k"))
	requireAbsent(t, c, "k")
	require.NoError(t, c.Delete(ctx, "k"), "deleting an absent key")

	require.NoError(t, c.Set(ctx, "empty", []byte{}, 0))
	v, err := c.Get(ctx, "empty")
	require.NoError(t, err, "an empty value is a value")
	require.Empty(t, v)
	require.NoError(t, c.Set(ctx, "nil", nil, 0))
	v, err = c.Get(ctx, "nil")
	require.NoError(t, err, "a nil value is stored as an empty one")
	require.Empty(t, v)

	bin := []byte{0, 1, 0xff, '\n', 0}
	require.NoError(t, c.Set(ctx, "bin", bin, 0))
	require.Equal(t, string(bin), get(t, c, "bin"), "values are bytes, not text")
}

func testSetReplacesExpiry(t *testing.T, c ephemeral.Cache) {
	ctx := t.Context()
	require.NoError(t, c.Set(ctx, "k", []byte("a"), time.Hour))
	requireTTLIn(t, c, "k", 59*time.Minute, time.Hour)
	require.NoError(t, c.Set(ctx, "k", []byte("b"), 0))
	require.Equal(t, time.Duration(0), ttl(t, c, "k"), "Set with ttl 0 removes the expiry")
	require.NoError(t, c.Set(ctx, "k", []byte("c"), 30*time.Minute))
	requireTTLIn(t, c, "k", 29*time.Minute, 30*time.Minute)
}

func testExpiry(t *testing.T, c ephemeral.Cache) {
	ctx := t.Context()
	require.NoError(t, c.Set(ctx, "forever", []byte("f"), 0))
	start := time.Now()
	require.NoError(t, c.Set(ctx, "k", []byte("v"), shortTTL))
	v, err := c.Get(ctx, "k")
	if time.Since(start) < shortTTL-earlySlack {
		require.NoError(t, err, "a key is there before its ttl runs out")
		require.Equal(t, "v", string(v))
	}
	awaitExpiry(t, c, "k")
	require.GreaterOrEqual(t, time.Since(start), shortTTL-earlySlack, "the key expired early")

	// An expired key is absent for every method.
	_, err = c.TTL(ctx, "k")
	require.ErrorIs(t, err, ephemeral.ErrNotFound)
	_, err = c.Take(ctx, "k")
	require.ErrorIs(t, err, ephemeral.ErrNotFound)
	require.ErrorIs(t, c.Expire(ctx, "k", time.Hour), ephemeral.ErrNotFound)
	set, err := c.SetNew(ctx, "k", []byte("again"), 0)
	require.NoError(t, err)
	require.True(t, set, "SetNew over an expired key")
	require.Equal(t, "again", get(t, c, "k"))

	require.Equal(t, "f", get(t, c, "forever"), "a key without ttl stays")
	require.Equal(t, time.Duration(0), ttl(t, c, "forever"))
}

func testTTLAndExpire(t *testing.T, c ephemeral.Cache) {
	ctx := t.Context()
	_, err := c.TTL(ctx, "absent")
	require.ErrorIs(t, err, ephemeral.ErrNotFound)
	require.ErrorIs(t, c.Expire(ctx, "absent", time.Hour), ephemeral.ErrNotFound)
	require.ErrorIs(t, c.Expire(ctx, "absent", 0), ephemeral.ErrNotFound)
	requireAbsent(t, c, "absent")

	require.NoError(t, c.Set(ctx, "k", []byte("v"), 0))
	require.Equal(t, time.Duration(0), ttl(t, c, "k"), "no expiry")
	require.NoError(t, c.Expire(ctx, "k", time.Hour))
	requireTTLIn(t, c, "k", 59*time.Minute, time.Hour)
	require.NoError(t, c.Expire(ctx, "k", 30*time.Minute), "a new ttl, shorter")
	requireTTLIn(t, c, "k", 29*time.Minute, 30*time.Minute)
	require.NoError(t, c.Expire(ctx, "k", 0), "ttl 0 removes the expiry")
	require.Equal(t, time.Duration(0), ttl(t, c, "k"))
	require.Equal(t, "v", get(t, c, "k"), "Expire keeps the value")
	require.NoError(t, c.Expire(ctx, "k", 0), "removing an expiry that is not there")
	require.Equal(t, time.Duration(0), ttl(t, c, "k"))

	require.NoError(t, c.Expire(ctx, "k", shortTTL))
	awaitExpiry(t, c, "k")
}

func testSetNew(t *testing.T, c ephemeral.Cache) {
	ctx := t.Context()
	set, err := c.SetNew(ctx, "k", []byte("first"), 0)
	require.NoError(t, err)
	require.True(t, set)
	set, err = c.SetNew(ctx, "k", []byte("second"), time.Hour)
	require.NoError(t, err)
	require.False(t, set)
	require.Equal(t, "first", get(t, c, "k"), "a SetNew that did not set changes nothing")
	require.Equal(t, time.Duration(0), ttl(t, c, "k"))

	set, err = c.SetNew(ctx, "t", []byte("x"), time.Hour)
	require.NoError(t, err)
	require.True(t, set)
	requireTTLIn(t, c, "t", 59*time.Minute, time.Hour)

	require.NoError(t, c.Delete(ctx, "k"))
	set, err = c.SetNew(ctx, "k", []byte("third"), 0)
	require.NoError(t, err)
	require.True(t, set, "SetNew after Delete")
	require.Equal(t, "third", get(t, c, "k"))
}

func testSetNewRace(t *testing.T, c ephemeral.Cache) {
	var (
		wins   atomic.Int32
		winner atomic.Value
		errs   = make([]error, races)
	)
	race(races, func(i int) {
		v := "g" + strconv.Itoa(i)
		set, err := c.SetNew(context.Background(), "lock", []byte(v), time.Hour)
		errs[i] = err
		if set {
			wins.Add(1)
			winner.Store(v)
		}
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int32(1), wins.Load(), "exactly one SetNew wins")
	require.Equal(t, winner.Load(), get(t, c, "lock"), "the winner's value is stored")
}

func testTake(t *testing.T, c ephemeral.Cache) {
	ctx := t.Context()
	_, err := c.Take(ctx, "k")
	require.ErrorIs(t, err, ephemeral.ErrNotFound)

	require.NoError(t, c.Set(ctx, "k", []byte("v"), time.Hour))
	v, err := c.Take(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
	requireAbsent(t, c, "k")
	_, err = c.Take(ctx, "k")
	require.ErrorIs(t, err, ephemeral.ErrNotFound, "Take removes the key")
}

func testTakeRace(t *testing.T, c ephemeral.Cache) {
	require.NoError(t, c.Set(t.Context(), "prize", []byte("prize"), 0))
	var (
		got      atomic.Int32
		notFound atomic.Int32
		others   = make([]error, races)
	)
	race(races, func(i int) {
		v, err := c.Take(context.Background(), "prize")
		switch {
		case err == nil && string(v) == "prize":
			got.Add(1)
		case errors.Is(err, ephemeral.ErrNotFound):
			notFound.Add(1)
		default:
			others[i] = errors.Join(err, errors.New("value "+strconv.Quote(string(v))))
		}
	})
	for _, err := range others {
		require.NoError(t, err)
	}
	require.Equal(t, int32(1), got.Load(), "exactly one Take gets the value")
	require.Equal(t, int32(races-1), notFound.Load())
	requireAbsent(t, c, "prize")
}

func testIncr(t *testing.T, c ephemeral.Cache) {
	ctx := t.Context()
	for _, step := range []struct {
		by   int64
		want int64
	}{{1, 1}, {4, 5}, {-7, -2}, {0, -2}} {
		n, err := c.Incr(ctx, "c", step.by, 0)
		require.NoError(t, err)
		require.Equal(t, step.want, n, "Incr by %d", step.by)
		require.Equal(t, strconv.FormatInt(step.want, 10), get(t, c, "c"), "a counter is stored as decimal text")
	}

	n, err := c.Incr(ctx, "zero", 0, 0)
	require.NoError(t, err)
	require.Equal(t, int64(0), n)
	require.Equal(t, "0", get(t, c, "zero"), "Incr by 0 creates the counter")

	require.NoError(t, c.Set(ctx, "set", []byte("41"), 0))
	n, err = c.Incr(ctx, "set", 1, 0)
	require.NoError(t, err)
	require.Equal(t, int64(42), n, "Incr of a value Set as decimal text")
	require.NoError(t, c.Set(ctx, "neg", []byte("-10"), 0))
	n, err = c.Incr(ctx, "neg", 3, time.Hour)
	require.NoError(t, err)
	require.Equal(t, int64(-7), n)
}

func testIncrNotACounter(t *testing.T, c ephemeral.Cache) {
	ctx := t.Context()
	// Redis accepts only the canonical text of an int64.
	for _, v := range []string{"abc", "1.5", "", " 5", "5 ", "+5", "007", "-0", "1e3", "9223372036854775808"} {
		require.NoError(t, c.Set(ctx, "k", []byte(v), 0))
		for _, ttl := range []time.Duration{0, time.Hour} {
			_, err := c.Incr(ctx, "k", 1, ttl)
			require.ErrorIs(t, err, ephemeral.ErrInvalid, "Incr of %q (ttl %v)", v, ttl)
			require.Equal(t, v, get(t, c, "k"), "a failed Incr changes nothing")
		}
		require.Equal(t, time.Duration(0), ttl(t, c, "k"), "a failed Incr sets no expiry")
	}
}

func testIncrOverflow(t *testing.T, c ephemeral.Cache) {
	ctx := t.Context()
	maxText := strconv.FormatInt(math.MaxInt64, 10)
	minText := strconv.FormatInt(math.MinInt64, 10)
	for _, ttl := range []time.Duration{0, time.Hour} {
		require.NoError(t, c.Set(ctx, "k", []byte(strconv.FormatInt(math.MaxInt64-1, 10)), 0))
		n, err := c.Incr(ctx, "k", 1, ttl)
		require.NoError(t, err)
		require.Equal(t, int64(math.MaxInt64), n, "the largest int64 is exact (ttl %v)", ttl)

		_, err = c.Incr(ctx, "k", 1, ttl)
		require.ErrorIs(t, err, ephemeral.ErrInvalid, "overflow (ttl %v)", ttl)
		require.Equal(t, maxText, get(t, c, "k"), "an overflowing Incr changes nothing")

		require.NoError(t, c.Set(ctx, "k", []byte(minText), 0))
		_, err = c.Incr(ctx, "k", -1, ttl)
		require.ErrorIs(t, err, ephemeral.ErrInvalid, "underflow (ttl %v)", ttl)
		require.Equal(t, minText, get(t, c, "k"))
		n, err = c.Incr(ctx, "k", math.MaxInt64, ttl)
		require.NoError(t, err)
		require.Equal(t, int64(-1), n)
	}
	n, err := c.Incr(ctx, "new", math.MinInt64, 0)
	require.NoError(t, err)
	require.Equal(t, int64(math.MinInt64), n)
}

func testIncrTTLOnCreate(t *testing.T, c ephemeral.Cache) {
	ctx := t.Context()
	n, err := c.Incr(ctx, "w", 1, window)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	requireTTLIn(t, c, "w", 0, window)
	n, err = c.Incr(ctx, "w", 1, time.Hour)
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	requireTTLIn(t, c, "w", 0, window) // not extended to an hour
	n, err = c.Incr(ctx, "w", 1, 0)
	require.NoError(t, err)
	require.Equal(t, int64(3), n)
	requireTTLIn(t, c, "w", 0, window) // ttl 0 keeps the expiry too

	// A fixed window: the counter expires, and the next Incr starts a new one.
	n, err = c.Incr(ctx, "e", 5, shortTTL)
	require.NoError(t, err)
	require.Equal(t, int64(5), n)
	awaitExpiry(t, c, "e")
	n, err = c.Incr(ctx, "e", 1, time.Hour)
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "a new window counts from 0")
	requireTTLIn(t, c, "e", 59*time.Minute, time.Hour)

	// A key that Incr did not create keeps having no expiry.
	require.NoError(t, c.Set(ctx, "p", []byte("10"), 0))
	n, err = c.Incr(ctx, "p", 1, time.Hour)
	require.NoError(t, err)
	require.Equal(t, int64(11), n)
	require.Equal(t, time.Duration(0), ttl(t, c, "p"))

	// Incr keeps the expiry that Expire gave.
	require.NoError(t, c.Expire(ctx, "p", 30*time.Minute))
	_, err = c.Incr(ctx, "p", 1, 0)
	require.NoError(t, err)
	requireTTLIn(t, c, "p", 29*time.Minute, 30*time.Minute)
}

func testIncrRace(t *testing.T, c ephemeral.Cache) {
	const perGoroutine = 50
	results := make([][]int64, races)
	errs := make([]error, races)
	race(races, func(i int) {
		// Half of them go through the ttl-on-create path.
		ttl := time.Duration(0)
		if i%2 == 1 {
			ttl = time.Hour
		}
		for range perGoroutine {
			n, err := c.Incr(context.Background(), "n", 1, ttl)
			if err != nil {
				errs[i] = err
				return
			}
			results[i] = append(results[i], n)
		}
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	const total = races * perGoroutine
	require.Equal(t, strconv.Itoa(total), get(t, c, "n"), "no increment is lost")
	all := slices.Sorted(slices.Values(slices.Concat(results...)))
	for i, n := range all {
		require.Equal(t, int64(i+1), n, "each Incr returns a distinct count")
	}
}

func testFetch(t *testing.T, c ephemeral.Cache) {
	ctx := t.Context()
	var calls atomic.Int32
	load := func(context.Context) ([]byte, error) {
		calls.Add(1)
		return []byte("loaded"), nil
	}
	v, err := c.Fetch(ctx, "f", time.Hour, load)
	require.NoError(t, err)
	require.Equal(t, "loaded", string(v))
	require.Equal(t, int32(1), calls.Load())
	require.Equal(t, "loaded", get(t, c, "f"), "Fetch stores what it loads")
	requireTTLIn(t, c, "f", 59*time.Minute, time.Hour)

	v, err = c.Fetch(ctx, "f", time.Hour, load)
	require.NoError(t, err)
	require.Equal(t, "loaded", string(v))
	require.Equal(t, int32(1), calls.Load(), "a hit does not load")

	require.NoError(t, c.Set(ctx, "g", []byte("present"), 0))
	v, err = c.Fetch(ctx, "g", time.Hour, load)
	require.NoError(t, err)
	require.Equal(t, "present", string(v))
	require.Equal(t, int32(1), calls.Load())

	_, err = c.Fetch(ctx, "forever", 0, load)
	require.NoError(t, err)
	require.Equal(t, time.Duration(0), ttl(t, c, "forever"), "Fetch with ttl 0")

	_, err = c.Fetch(ctx, "short", shortTTL, load)
	require.NoError(t, err)
	awaitExpiry(t, c, "short")
	before := calls.Load()
	_, err = c.Fetch(ctx, "short", shortTTL, load)
	require.NoError(t, err)
	require.Equal(t, before+1, calls.Load(), "an expired key is loaded again")
}

func testFetchError(t *testing.T, c ephemeral.Cache) {
	ctx := t.Context()
	errBoom := errors.New("boom")
	var calls atomic.Int32
	fail := func(context.Context) ([]byte, error) {
		calls.Add(1)
		return nil, errBoom
	}
	_, err := c.Fetch(ctx, "f", time.Hour, fail)
	require.ErrorIs(t, err, errBoom, "the load error is returned")
	requireAbsent(t, c, "f")
	_, err = c.Fetch(ctx, "f", time.Hour, fail)
	require.ErrorIs(t, err, errBoom)
	require.Equal(t, int32(2), calls.Load(), "a load error is not cached")

	v, err := c.Fetch(ctx, "f", time.Hour, func(context.Context) ([]byte, error) { return []byte("ok"), nil })
	require.NoError(t, err)
	require.Equal(t, "ok", string(v))
}

func testFetchSingleFlight(t *testing.T, c ephemeral.Cache) {
	const fetches = 20
	var calls atomic.Int32
	load := func(context.Context) ([]byte, error) {
		calls.Add(1)
		time.Sleep(100 * time.Millisecond) // while the others arrive
		return []byte("once"), nil
	}
	got := make([]string, fetches)
	errs := make([]error, fetches)
	race(fetches, func(i int) {
		v, err := c.Fetch(context.Background(), "f", time.Hour, load)
		got[i], errs[i] = string(v), err
	})
	for i := range fetches {
		require.NoError(t, errs[i])
		require.Equal(t, "once", got[i])
	}
	require.Equal(t, int32(1), calls.Load(), "concurrent Fetches load once")
}

// testFetchLoaderCallerGone checks that a Fetch waiting for a load does
// not fail because the Fetch that started the load gave up.
func testFetchLoaderCallerGone(t *testing.T, c ephemeral.Cache) {
	ctxA, cancelA := context.WithCancel(t.Context())
	defer cancelA()
	started := make(chan struct{})
	errA := make(chan error, 1)
	go func() {
		_, err := c.Fetch(ctxA, "f", time.Hour, func(ctx context.Context) ([]byte, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
		errA <- err
	}()
	<-started

	type result struct {
		v   []byte
		err error
	}
	resB := make(chan result, 1)
	go func() {
		v, err := c.Fetch(t.Context(), "f", time.Hour, func(context.Context) ([]byte, error) {
			return []byte("b"), nil
		})
		resB <- result{v, err}
	}()
	time.Sleep(50 * time.Millisecond) // B joins A's load (if it has not, it loads alone)
	cancelA()

	require.ErrorIs(t, <-errA, context.Canceled)
	b := <-resB
	require.NoError(t, b.err, "the waiting Fetch loads again")
	require.Equal(t, "b", string(b.v))
	require.Equal(t, "b", get(t, c, "f"))
}

func testCopies(t *testing.T, c ephemeral.Cache) {
	ctx := t.Context()
	in := []byte("abc")
	require.NoError(t, c.Set(ctx, "k", in, 0))
	in[0] = 'X'
	require.Equal(t, "abc", get(t, c, "k"), "Set copies its value")

	out, err := c.Get(ctx, "k")
	require.NoError(t, err)
	out[0] = 'Y'
	require.Equal(t, "abc", get(t, c, "k"), "Get returns a copy")

	in = []byte("new")
	_, err = c.SetNew(ctx, "n", in, 0)
	require.NoError(t, err)
	in[0] = 'X'
	require.Equal(t, "new", get(t, c, "n"), "SetNew copies its value")

	loaded := []byte("xyz")
	out, err = c.Fetch(ctx, "f", 0, func(context.Context) ([]byte, error) { return loaded, nil })
	require.NoError(t, err)
	loaded[0] = 'Q'
	out[1] = 'Q'
	require.Equal(t, "xyz", get(t, c, "f"), "Fetch stores and returns copies of what it loads")
	out, err = c.Fetch(ctx, "f", 0, func(context.Context) ([]byte, error) { return nil, errors.New("not called") })
	require.NoError(t, err)
	out[0] = 'Q'
	require.Equal(t, "xyz", get(t, c, "f"), "Fetch returns a copy of a hit")
}

// op is one call of each method on a key, with valid other arguments.
type op struct {
	name string
	call func(ctx context.Context, c ephemeral.Cache, key string) error
}

func everyOp(load func(context.Context) ([]byte, error)) []op {
	return []op{
		{"Get", func(ctx context.Context, c ephemeral.Cache, k string) error { _, err := c.Get(ctx, k); return err }},
		{"Set", func(ctx context.Context, c ephemeral.Cache, k string) error { return c.Set(ctx, k, []byte("v"), 0) }},
		{"SetNew", func(ctx context.Context, c ephemeral.Cache, k string) error {
			_, err := c.SetNew(ctx, k, []byte("v"), time.Hour)
			return err
		}},
		{"Delete", func(ctx context.Context, c ephemeral.Cache, k string) error { return c.Delete(ctx, k) }},
		{"Take", func(ctx context.Context, c ephemeral.Cache, k string) error { _, err := c.Take(ctx, k); return err }},
		{"Incr", func(ctx context.Context, c ephemeral.Cache, k string) error {
			_, err := c.Incr(ctx, k, 1, 0)
			return err
		}},
		{"TTL", func(ctx context.Context, c ephemeral.Cache, k string) error { _, err := c.TTL(ctx, k); return err }},
		{"Expire", func(ctx context.Context, c ephemeral.Cache, k string) error { return c.Expire(ctx, k, time.Hour) }},
		{"Fetch", func(ctx context.Context, c ephemeral.Cache, k string) error {
			_, err := c.Fetch(ctx, k, time.Hour, load)
			return err
		}},
	}
}

func testBadKeys(t *testing.T, c ephemeral.Cache) {
	var calls atomic.Int32
	load := func(context.Context) ([]byte, error) { calls.Add(1); return []byte("v"), nil }
	for _, key := range []string{"", strings.Repeat("k", ephemeral.MaxKeyLen+1)} {
		for _, o := range everyOp(load) {
			err := o.call(t.Context(), c, key)
			assert.ErrorIs(t, err, ephemeral.ErrInvalid, "%s of a key of %d bytes", o.name, len(key))
		}
	}
	require.Zero(t, calls.Load())

	longest := strings.Repeat("k", ephemeral.MaxKeyLen)
	require.NoError(t, c.Set(t.Context(), longest, []byte("v"), 0))
	require.Equal(t, "v", get(t, c, longest), "a key of MaxKeyLen bytes")
}

func testBadArguments(t *testing.T, c ephemeral.Cache) {
	ctx := t.Context()
	load := func(context.Context) ([]byte, error) { return []byte("v"), nil }
	require.ErrorIs(t, c.Set(ctx, "k", []byte("v"), -time.Second), ephemeral.ErrInvalid)
	_, err := c.SetNew(ctx, "k", []byte("v"), -1)
	require.ErrorIs(t, err, ephemeral.ErrInvalid)
	_, err = c.Incr(ctx, "k", 1, -1)
	require.ErrorIs(t, err, ephemeral.ErrInvalid)
	_, err = c.Fetch(ctx, "k", -1, load)
	require.ErrorIs(t, err, ephemeral.ErrInvalid)
	_, err = c.Fetch(ctx, "k", 0, nil)
	require.ErrorIs(t, err, ephemeral.ErrInvalid, "nil load")
	requireAbsent(t, c, "k")

	require.NoError(t, c.Set(ctx, "k", []byte("v"), 0))
	require.ErrorIs(t, c.Expire(ctx, "k", -1), ephemeral.ErrInvalid)
	require.Equal(t, time.Duration(0), ttl(t, c, "k"), "a rejected Expire changes nothing")
}

func testClosed(t *testing.T, c ephemeral.Cache) {
	require.NoError(t, c.Set(t.Context(), "k", []byte("v"), 0))
	require.NoError(t, c.Close())
	var calls atomic.Int32
	load := func(context.Context) ([]byte, error) { calls.Add(1); return []byte("v"), nil }
	for _, o := range everyOp(load) {
		require.ErrorIs(t, o.call(t.Context(), c, "k"), ephemeral.ErrClosed, o.name)
	}
	require.Zero(t, calls.Load())
	require.NoError(t, c.Close(), "a second Close")
}

func testContextDone(t *testing.T, c ephemeral.Cache) {
	require.NoError(t, c.Set(t.Context(), "k", []byte("v"), 0))
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	var calls atomic.Int32
	load := func(context.Context) ([]byte, error) { calls.Add(1); return []byte("v"), nil }
	for _, key := range []string{"k", "absent"} {
		for _, o := range everyOp(load) {
			require.ErrorIs(t, o.call(cancelled, c, key), context.Canceled, "%s of %q", o.name, key)
			require.ErrorIs(t, o.call(expired, c, key), context.DeadlineExceeded, "%s of %q", o.name, key)
		}
	}
	require.Zero(t, calls.Load())
	require.Equal(t, "v", get(t, c, "k"), "no call with a done context changed anything")
	require.Equal(t, time.Duration(0), ttl(t, c, "k"))
	requireAbsent(t, c, "absent")
}

func testErrorMessages(t *testing.T, c ephemeral.Cache) {
	_, err := c.Get(t.Context(), "missing")
	require.EqualError(t, err, `ephemeral: get "missing": not found`)
	err = c.Set(t.Context(), "k", nil, -time.Second)
	require.EqualError(t, err, `ephemeral: set "k": invalid: negative ttl -1s`)
	_, err = c.Get(t.Context(), strings.Repeat("k", 2000))
	require.ErrorContains(t, err, `"`+strings.Repeat("k", 64)+`..."`, "a long key is cut short")
}
