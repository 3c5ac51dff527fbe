package riak

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
)

var stateFields = []driver.Field{
	{Name: "id", Kind: driver.KindInt},
	{Name: "title", Kind: driver.KindString, Nullable: true},
	{Name: "hits", Kind: driver.KindInt, Merge: driver.MergeCounter},
	{Name: "tags", Kind: driver.KindStrings, Merge: driver.MergeSet},
	{Name: "best", Kind: driver.KindInt, Merge: driver.MergeMax, Nullable: true},
	{Name: "done", Kind: driver.KindBool, Merge: driver.MergeFlag},
}

func stateCollection(t testing.TB) *driver.Collection {
	c, err := driver.NewCollection("things", stateFields, "id", "", nil, driver.AP)
	require.NoError(t, err)
	return c
}

// clockAt returns a writer whose clock ticks from start.
func clockAt(id string, start uint64) writer {
	t := start
	return writer{id: id, now: func() uint64 { t++; return t }}
}

func values(t testing.TB, c *driver.Collection, s *state) map[string]any {
	out := map[string]any{}
	for _, f := range c.Fields {
		v, err := s.value(f)
		require.NoError(t, err)
		out[f.Name] = v
	}
	return out
}

func mustMerge(t testing.TB, c *driver.Collection, a, b *state) *state {
	m, err := merge(c, a, b)
	require.NoError(t, err)
	return m
}

func field(c *driver.Collection, name string) driver.Field { return c.Fields[c.FieldIndex(name)] }

// Two replicas diverge from one state, each written by its own side of a
// partition; merged, they hold what the policies define, whichever way
// round the merge goes.
func TestStateConvergence(t *testing.T) {
	c := stateCollection(t)
	a, b := clockAt("a", 100), clockAt("b", 200) // b's writes are later
	base := newState()
	require.NoError(t, base.set(field(c, "title"), "orig", a))
	require.NoError(t, base.increment(field(c, "hits"), 5, a))
	base.add(field(c, "tags"), []string{"x", "y"}, a)
	require.NoError(t, base.setMax(field(c, "best"), int64(10)))

	left := mustMerge(t, c, base, newState())
	right := mustMerge(t, c, base, newState())
	require.NoError(t, left.set(field(c, "title"), "left", a))
	require.NoError(t, left.increment(field(c, "hits"), 3, a))
	left.remove(field(c, "tags"), []string{"x"})
	left.add(field(c, "tags"), []string{"l"}, a)
	require.NoError(t, left.setMax(field(c, "best"), int64(30)))
	require.NoError(t, left.set(field(c, "done"), false, a))

	require.NoError(t, right.set(field(c, "title"), "right", b))
	require.NoError(t, right.increment(field(c, "hits"), 4, b))
	require.NoError(t, right.increment(field(c, "hits"), -1, b))
	right.add(field(c, "tags"), []string{"x", "r"}, b) // re-adds x concurrently with left's remove
	require.NoError(t, right.setMax(field(c, "best"), int64(20)))
	require.NoError(t, right.set(field(c, "done"), true, b))

	for _, m := range []*state{mustMerge(t, c, left, right), mustMerge(t, c, right, left)} {
		got := values(t, c, m)
		require.Equal(t, "right", got["title"], "lww: the later write")
		require.Equal(t, int64(5+3+4-1), got["hits"], "counter: every increment counts once")
		require.ElementsMatch(t, []string{"x", "y", "l", "r"}, got["tags"], "set: the concurrent re-add of x wins over the remove")
		require.Equal(t, int64(30), got["best"], "max")
		require.Equal(t, true, got["done"], "flag: enable wins")
	}
	// A remove that saw the add wins.
	seen := mustMerge(t, c, left, right)
	seen.remove(field(c, "tags"), []string{"x"})
	require.ElementsMatch(t, []string{"y", "l", "r"}, values(t, c, mustMerge(t, c, seen, right))["tags"])
}

// Merge is commutative, associative and idempotent over random histories.
func TestStateMergeLaws(t *testing.T) {
	c := stateCollection(t)
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		writers := []writer{clockAt("a", 0), clockAt("b", 0), clockAt("c", 0)}
		replicas := []*state{newState(), newState(), newState()}
		for range 12 {
			i := r.IntN(3)
			s, w := replicas[i], writers[i]
			switch r.IntN(7) {
			case 0:
				require.NoError(t, s.set(field(c, "title"), fmt.Sprint(r.IntN(5)), w))
			case 1:
				require.NoError(t, s.increment(field(c, "hits"), int64(r.IntN(7)-3), w))
			case 2:
				s.add(field(c, "tags"), []string{fmt.Sprint(r.IntN(4))}, w)
			case 3:
				s.remove(field(c, "tags"), []string{fmt.Sprint(r.IntN(4))})
			case 4:
				require.NoError(t, s.setMax(field(c, "best"), int64(r.IntN(100))))
			case 5:
				require.NoError(t, s.set(field(c, "done"), r.IntN(2) == 0, w))
			case 6: // gossip
				j := r.IntN(3)
				replicas[i] = mustMerge(t, c, replicas[i], replicas[j])
			}
		}
		x, y, z := replicas[0], replicas[1], replicas[2]
		ctx := fmt.Sprintf("round %d", round)
		require.Equal(t, values(t, c, mustMerge(t, c, x, y)), values(t, c, mustMerge(t, c, y, x)), "commutative: %s", ctx)
		require.Equal(t, values(t, c, mustMerge(t, c, x, mustMerge(t, c, y, z))), values(t, c, mustMerge(t, c, mustMerge(t, c, x, y), z)), "associative: %s", ctx)
		require.Equal(t, values(t, c, x), values(t, c, mustMerge(t, c, x, x)), "idempotent: %s", ctx)
		require.Equal(t, mustMerge(t, c, x, y), mustMerge(t, c, y, x), "the same state either way: %s", ctx)
	}
}

// A counter set to a value moves by the difference, so a concurrent
// increment still counts; overflow is ErrInvalid.
func TestStateCounterSet(t *testing.T) {
	c := stateCollection(t)
	a, b := clockAt("a", 0), clockAt("b", 0)
	s := newState()
	require.NoError(t, s.set(field(c, "hits"), int64(10), a))
	other := mustMerge(t, c, s, newState())
	require.NoError(t, s.set(field(c, "hits"), int64(4), a))
	require.NoError(t, other.increment(field(c, "hits"), 1, b))
	require.Equal(t, int64(5), values(t, c, mustMerge(t, c, s, other))["hits"])
	require.NoError(t, s.set(field(c, "hits"), int64(1<<62), a))
	require.ErrorIs(t, s.increment(field(c, "hits"), 1<<62, a), driver.ErrInvalid)
}

// Fields never written read as their zero value, or NULL if nullable.
func TestStateAbsent(t *testing.T) {
	c := stateCollection(t)
	got := values(t, c, newState())
	require.Equal(t, map[string]any{"id": int64(0), "title": nil, "hits": int64(0), "tags": []string{}, "best": nil, "done": false}, got)
}

// A state encodes and decodes to itself, equal states to equal bytes.
func TestStateEncoding(t *testing.T) {
	c := stateCollection(t)
	a, b := clockAt("a", 1), clockAt("b", 2)
	s := newState()
	require.NoError(t, s.set(field(c, "title"), "hello", a))
	require.NoError(t, s.increment(field(c, "hits"), 7, a))
	require.NoError(t, s.increment(field(c, "hits"), -2, b))
	s.add(field(c, "tags"), []string{"x", "y", ""}, b)
	require.NoError(t, s.setMax(field(c, "best"), int64(-3)))
	require.NoError(t, s.set(field(c, "done"), true, a))
	got, err := decodeState(encodeState(s))
	require.NoError(t, err)
	require.Equal(t, s, got)
	require.Equal(t, encodeState(s), encodeState(got))
	require.Equal(t, values(t, c, s), values(t, c, got))
	_, err = decodeState(nil)
	require.ErrorIs(t, err, errBadState)
	_, err = decodeState([]byte{stateVersion, 0x0a, 0x05, 0x01})
	require.ErrorIs(t, err, errBadState, "a truncated field")

	// A set element must be held by a dot; one without (CI's fuzzing
	// found it, and reading the set's members panicked) is refused.
	held := newState()
	held.add(field(c, "tags"), []string{"held"}, a)
	held.fields["tags"].elems["bare"] = nil
	_, err = decodeState(encodeState(held))
	require.ErrorIs(t, err, errBadState, "a set element without a dot")
}

// FuzzDecodeState: arbitrary bytes never panic, and what decodes encodes
// to a state that decodes the same.
func FuzzDecodeState(f *testing.F) {
	c := stateCollection(f)
	s := newState()
	w := clockAt("w", 1)
	_ = s.set(field(c, "title"), "t", w)
	_ = s.increment(field(c, "hits"), 3, w)
	s.add(field(c, "tags"), []string{"a"}, w)
	seed := s
	f.Add(encodeState(s))
	f.Add([]byte{stateVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeState(b)
		if err != nil {
			return
		}
		again, err := decodeState(encodeState(s))
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if string(encodeState(again)) != string(encodeState(s)) {
			t.Fatal("encoding is not stable")
		}
		for _, f := range c.Fields {
			s.value(f) // errors are fine; panics are not
		}
		// A decoded state meets merging (siblings) and projection
		// (a writer's share): neither may panic, and merge stays
		// idempotent on what it accepts.
		if m, err := merge(c, s, s); err == nil {
			m2, err := merge(c, m, m)
			if err != nil || string(encodeState(m2)) != string(encodeState(m)) {
				t.Fatalf("merge is not idempotent: %v", err)
			}
		}
		_, _ = merge(c, s, seed)
		_, _ = merge(c, seed, s)
		s.project("w")
	})
}

// A counter reset to NULL stays NULL against a concurrent increment that
// did not see the reset (as if the increment came first), and counts from
// 0 when incremented after the reset.
func TestStateCounterReset(t *testing.T) {
	fields := append([]driver.Field{}, stateFields...)
	fields[2].Nullable = true
	c, err := driver.NewCollection("things", fields, "id", "", nil, driver.AP)
	require.NoError(t, err)
	a, b := clockAt("a", 100), clockAt("b", 50)
	base := newState()
	require.NoError(t, base.increment(field(c, "hits"), 100, a))
	left, right := mustMerge(t, c, base, newState()), mustMerge(t, c, base, newState())
	require.NoError(t, left.set(field(c, "hits"), nil, a))
	require.NoError(t, right.increment(field(c, "hits"), 1, b))
	require.Nil(t, values(t, c, mustMerge(t, c, left, right))["hits"], "reset against a concurrent increment")
	require.NoError(t, left.increment(field(c, "hits"), 5, a))
	require.Equal(t, int64(6), values(t, c, mustMerge(t, c, left, right))["hits"], "counts from 0 after the reset, and keeps the concurrent increment")
	got, err := decodeState(encodeState(left))
	require.NoError(t, err)
	require.Equal(t, left, got, "the reset survives encoding")
}

// A reader whose schema lacks a field (an older app during a rolling
// deploy) merges it by the policy it was written with.
func TestStateUnknownFieldMerge(t *testing.T) {
	c := stateCollection(t)
	old, err := driver.NewCollection("things", stateFields[:2], "id", "", nil, driver.AP)
	require.NoError(t, err)
	a, b := clockAt("a", 1), clockAt("b", 2)
	x, y := newState(), newState()
	require.NoError(t, x.increment(field(c, "hits"), 1, a))
	require.NoError(t, y.increment(field(c, "hits"), 1, b))
	x.add(field(c, "tags"), []string{"x"}, a)
	y.add(field(c, "tags"), []string{"y"}, b)
	m := mustMerge(t, old, x, y)
	got, err := decodeState(encodeState(m))
	require.NoError(t, err)
	v := values(t, c, got)
	require.Equal(t, int64(2), v["hits"], "a counter the reader does not know")
	require.ElementsMatch(t, []string{"x", "y"}, v["tags"], "a set the reader does not know")
}
