package snowflake_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-go/strata/snowflake"
)

// eq fails the test at once unless got == want.
func eq[T comparable](t testing.TB, got, want T, what string, args ...any) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v, want %v", sprintf(what, args...), got, want)
	}
}

// check fails the test at once unless ok.
func check(t testing.TB, ok bool, what string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf("%s", sprintf(what, args...))
	}
}

func sprintf(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newGen(t testing.TB, node int, clock *fakeClock) *snowflake.Generator {
	t.Helper()
	g, err := snowflake.New(node, snowflake.WithClock(clock.Now))
	if err != nil {
		t.Fatalf("New(%d): %v", node, err)
	}
	return g
}

// next returns nextID(g)'s ID, panicking on an error (the tests that
// expect errors call Next themselves).
func nextID(g *snowflake.Generator) snowflake.ID {
	id, err := g.Next()
	if err != nil {
		panic(err)
	}
	return id
}

// mustFail returns the error of nextID(g), failing the test if there is none.
func mustFail(t *testing.T, g *snowflake.Generator) string {
	t.Helper()
	id, err := g.Next()
	if err == nil {
		t.Fatalf("Next returned %v, want ErrExhausted", id)
	}
	if !errors.Is(err, snowflake.ErrExhausted) {
		t.Fatalf("Next: %v, want ErrExhausted", err)
	}
	return err.Error()
}

// lastMilli is the last millisecond an ID can carry.
var lastMilli = time.Date(2093, 9, 6, 15, 47, 35, 551_000_000, time.UTC)

// someTime is an arbitrary instant with sub-millisecond digits.
var someTime = time.Date(2025, 6, 30, 23, 59, 59, 999_876_543, time.UTC)

func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

func TestLayout(t *testing.T) {
	check(t, snowflake.Epoch.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)), "Epoch = %v", snowflake.Epoch)
	eq(t, snowflake.MaxNode, 1023, "MaxNode")

	// Timestamp 1234 ms, node 5, sequence 0: 1234<<22 | 5<<12.
	g := newGen(t, 5, newFakeClock(snowflake.Epoch.Add(1234*time.Millisecond+999*time.Microsecond)))
	eq(t, nextID(g), 5175791616, "first ID")
	eq(t, nextID(g), 5175791617, "second ID")

	// The largest ID has every field at its maximum; about 69.7 years of range.
	top := snowflake.ID(math.MaxInt64)
	eq(t, top.Time(), lastMilli, "max ID time")
	eq(t, top.Node(), snowflake.MaxNode, "max ID node")
	eq(t, top.Seq(), 4095, "max ID seq")
	years := top.Time().Sub(snowflake.Epoch).Hours() / 24 / 365.2425
	check(t, years > 69.67 && years < 69.69, "range is %.3f years", years)
}

func TestNewErrors(t *testing.T) {
	for _, node := range []int{-1, snowflake.MaxNode + 1, math.MaxInt, math.MinInt} {
		g, err := snowflake.New(node)
		check(t, err != nil, "New(%d) succeeded", node)
		check(t, g == nil, "New(%d) returned a generator with its error", node)
		want := "snowflake: node id " + strconv.Itoa(node) + " out of range [0, 1023]"
		eq(t, err.Error(), want, "New(%d) error", node)
	}
	for _, node := range []int{0, 1, snowflake.MaxNode} {
		g, err := snowflake.New(node)
		check(t, err == nil, "New(%d): %v", node, err)
		eq(t, nextID(g).Node(), node, "node of ID")
	}

	_, err := snowflake.New(1, snowflake.WithClock(nil))
	check(t, err != nil && strings.Contains(err.Error(), "nil clock"), "WithClock(nil): %v", err)
	_, err = snowflake.New(1, nil)
	check(t, err != nil && strings.Contains(err.Error(), "nil Option"), "nil Option: %v", err)
}

func TestTimeNodeSeqRoundTrip(t *testing.T) {
	times := []time.Time{
		snowflake.Epoch,
		snowflake.Epoch.Add(time.Millisecond),
		someTime,
		time.Date(2030, 1, 2, 3, 4, 5, 6_789_000, time.FixedZone("X", 5*3600)),
		lastMilli.Add(-time.Hour),
	}
	for _, node := range []int{0, 1, 512, snowflake.MaxNode} {
		for _, tm := range times {
			g := newGen(t, node, newFakeClock(tm))
			first := 0
			if tm.Equal(snowflake.Epoch) {
				first = 1 // (epoch, node, 0) counts as issued, so node 0 never issues ID 0
			}
			for i := range 5 {
				id := nextID(g)
				check(t, id > 0, "ID %d not positive", id)
				eq(t, id.Time(), ms(tm), "Time, node %d clock %v", node, tm)
				eq(t, id.Time().Location(), time.UTC, "Time location")
				eq(t, id.Node(), node, "Node")
				eq(t, id.Seq(), first+i, "Seq, node %d clock %v", node, tm)
			}
		}
	}
}

func TestNeverZero(t *testing.T) {
	// Node 0 at (or before) the epoch would naturally issue ID 0 first.
	for _, tm := range []time.Time{snowflake.Epoch, {}, time.Unix(0, 0)} {
		g := newGen(t, 0, newFakeClock(tm))
		eq(t, nextID(g), 1, "first ID with clock %v", tm)
	}
	var zero snowflake.Generator // usable as node 0 with the system clock
	id := nextID(&zero)
	check(t, id > 0, "zero Generator issued %d", id)
	eq(t, id.Node(), 0, "zero Generator node")
	check(t, time.Since(id.Time()).Abs() < time.Second, "zero Generator time %v", id.Time())
}

func TestSystemClock(t *testing.T) {
	g, err := snowflake.New(42)
	check(t, err == nil, "New: %v", err)
	before := ms(time.Now())
	id := nextID(g)
	after := time.Now()
	check(t, !id.Time().Before(before) && !id.Time().After(after),
		"ID time %v outside [%v, %v]", id.Time(), before, after)
}

// collect runs goroutines×perG calls of g.Next concurrently, checks that each
// goroutine sees strictly increasing IDs from node and that all IDs are
// distinct, and returns them sorted.
func collect(t *testing.T, g *snowflake.Generator, node, goroutines, perG int) []snowflake.ID {
	t.Helper()
	results := make([][]snowflake.ID, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			ids := make([]snowflake.ID, perG)
			for j := range ids {
				ids[j] = nextID(g)
			}
			results[i] = ids
		})
	}
	wg.Wait()

	all := make([]snowflake.ID, 0, goroutines*perG)
	for i, ids := range results {
		for j, id := range ids {
			if j > 0 && id <= ids[j-1] {
				t.Fatalf("goroutine %d: ID #%d %d not greater than previous %d", i, j, id, ids[j-1])
			}
			if id.Node() != node {
				t.Fatalf("goroutine %d: ID %d has node %d, want %d", i, id, id.Node(), node)
			}
		}
		all = append(all, ids...)
	}
	slices.Sort(all)
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			t.Fatalf("duplicate ID %d", all[i])
		}
	}
	eq(t, len(all), goroutines*perG, "number of IDs")
	return all
}

func TestConcurrentUniqueAndIncreasing(t *testing.T) {
	const goroutines, perG = 8, 10000
	g, err := snowflake.New(7)
	check(t, err == nil, "New: %v", err)
	start := ms(time.Now())
	all := collect(t, g, 7, goroutines, perG)
	check(t, !all[0].Time().Before(start), "first ID time %v before start %v", all[0].Time(), start)
	// An ID issued afterwards is greater than all of them.
	check(t, nextID(g) > all[len(all)-1], "later ID not greater")
}

func TestConcurrentJumpyClock(t *testing.T) {
	// A clock that jumps back and forth by up to ±5 s on every reading.
	base := someTime
	clock := func() time.Time {
		return base.Add(time.Duration(rand.Int64N(int64(10*time.Second))) - 5*time.Second)
	}
	g, err := snowflake.New(snowflake.MaxNode, snowflake.WithClock(clock))
	check(t, err == nil, "New: %v", err)
	all := collect(t, g, snowflake.MaxNode, 8, 10000)
	// Logical time runs ahead of the latest clock reading by at most the
	// milliseconds borrowed for sequence overflow.
	borrowed := time.Duration(len(all)/4096+1) * time.Millisecond
	latest := all[len(all)-1].Time()
	check(t, !latest.After(base.Add(5*time.Second+borrowed)), "logical time %v ran too far ahead", latest)
}

func TestClockStepBack(t *testing.T) {
	clock := newFakeClock(someTime)
	g := newGen(t, 3, clock)
	logical := ms(someTime)

	var prev snowflake.ID
	next := func() snowflake.ID {
		t.Helper()
		id := nextID(g)
		if id <= prev {
			t.Fatalf("ID %d not greater than previous %d", id, prev)
		}
		if id.Time().Before(ms(clock.Now())) {
			t.Fatalf("ID time %v before clock %v", id.Time(), clock.Now())
		}
		prev = id
		return id
	}

	for range 100 {
		next()
	}
	eq(t, prev.Seq(), 99, "seq before the step")

	// Step back 5 s: IDs continue from the last logical millisecond.
	clock.Add(-5 * time.Second)
	id := next()
	eq(t, id.Time(), logical, "Time reports logical time, not the clock")
	eq(t, id.Seq(), 100, "seq after the step")
	eq(t, id.Time().Sub(ms(clock.Now())), 5*time.Second, "lead over the clock")

	// The clock creeps forward but is still behind: still logical time.
	for range 1000 {
		clock.Add(time.Millisecond)
		next()
	}
	eq(t, prev.Time(), logical, "time while the clock creeps")
	eq(t, prev.Seq(), 1100, "seq while the clock creeps")

	// Exhausting the sequence while behind borrows the next logical ms.
	for range 4096 {
		next()
	}
	eq(t, prev.Time(), logical.Add(time.Millisecond), "time after overflow")
	eq(t, prev.Seq(), 1100, "seq after overflow")
	lead := prev.Time().Sub(clock.Now())
	check(t, lead <= 5*time.Second+time.Millisecond, "lead %v exceeds the step plus the borrowed ms", lead)

	// Once the clock passes logical time again, IDs follow it.
	clock.Set(someTime.Add(time.Second))
	id = next()
	eq(t, id.Time(), ms(someTime.Add(time.Second)), "time after catching up")
	eq(t, id.Seq(), 0, "seq after catching up")

	// A step back to before the epoch (a zero clock) is handled the same way.
	clock.Set(time.Time{})
	for range 10 {
		id = next()
	}
	eq(t, id.Time(), ms(someTime.Add(time.Second)), "time with a zero clock")
	eq(t, id.Seq(), 10, "seq with a zero clock")
}

func TestSequenceOverflow(t *testing.T) {
	clock := newFakeClock(someTime) // frozen
	g := newGen(t, 9, clock)
	start := ms(someTime)

	const n = 3*4096 + 10
	ids := make([]snowflake.ID, n)
	for i := range ids {
		ids[i] = nextID(g)
		if i > 0 && ids[i] <= ids[i-1] {
			t.Fatalf("ID #%d %d not greater than %d", i, ids[i], ids[i-1])
		}
		// The i-th ID sits in logical ms i/4096 with sequence i%4096.
		eq(t, ids[i].Time(), start.Add(time.Duration(i/4096)*time.Millisecond), "time of ID #%d", i)
		eq(t, ids[i].Seq(), i%4096, "seq of ID #%d", i)
		eq(t, ids[i].Node(), 9, "node of ID #%d", i)
	}
	last := ids[n-1]
	eq(t, last.Time(), start.Add(3*time.Millisecond), "time of last ID")

	// The clock moves into a borrowed ms: IDs stay on logical time.
	clock.Add(time.Millisecond)
	eq(t, nextID(g), last+1, "ID in a borrowed ms")

	// The clock passes logical time: back on the wall clock.
	clock.Add(10 * time.Millisecond)
	id := nextID(g)
	eq(t, id.Time(), ms(clock.Now()), "time after the clock passes")
	eq(t, id.Seq(), 0, "seq after the clock passes")
}

func TestNextFailsPastRange(t *testing.T) {
	clock := newFakeClock(lastMilli.Add(time.Millisecond))
	g := newGen(t, 1, clock)
	eq(t, mustFail(t, g),
		"snowflake: ID space exhausted: clock reads 2093-09-06 15:47:35.552 +0000 UTC, past the last representable millisecond 2093-09-06 15:47:35.551 +0000 UTC",
		"error")

	// The failed call left no trace: with a sane clock it works again.
	clock.Set(someTime)
	id := nextID(g)
	eq(t, id.Time(), ms(someTime), "time after a failure")
	eq(t, id.Seq(), 0, "seq after a failure")

	// In the last millisecond, 4096 IDs fit and then the space is exhausted.
	clock.Set(lastMilli.Add(999 * time.Microsecond))
	for range 4096 {
		id = nextID(g)
	}
	eq(t, id, snowflake.ID(math.MaxInt64)-(snowflake.MaxNode-1)<<12, "last ID of node 1")
	eq(t, mustFail(t, g),
		"snowflake: ID space exhausted: logical time reached the last representable millisecond 2093-09-06 15:47:35.551 +0000 UTC",
		"error")
}

func TestBounds(t *testing.T) {
	lo, hi := snowflake.Bounds(someTime)
	eq(t, lo.Time(), ms(someTime), "lo time")
	eq(t, hi.Time(), ms(someTime), "hi time")
	eq(t, lo.Node(), 0, "lo node")
	eq(t, lo.Seq(), 0, "lo seq")
	eq(t, hi.Node(), snowflake.MaxNode, "hi node")
	eq(t, hi.Seq(), 4095, "hi seq")

	// Consecutive milliseconds tile the ID space.
	next, _ := snowflake.Bounds(someTime.Add(time.Millisecond))
	eq(t, next, hi+1, "lo of the next ms")
	_, prev := snowflake.Bounds(someTime.Add(-time.Millisecond))
	eq(t, prev, lo-1, "hi of the previous ms")

	// Every ID issued in that millisecond, by any node, lies within.
	for _, node := range []int{0, 1, 500, snowflake.MaxNode} {
		g := newGen(t, node, newFakeClock(someTime))
		for range 4096 {
			id := nextID(g)
			check(t, lo <= id && id <= hi, "ID %d outside [%d, %d]", id, lo, hi)
		}
		check(t, nextID(g) > hi, "ID in the borrowed ms not above hi")
	}

	// Out-of-range times clamp the way a generator does.
	lo, hi = snowflake.Bounds(time.Time{})
	eq(t, lo, 0, "lo before the epoch")
	eq(t, hi, 1<<22-1, "hi before the epoch")
	lo, hi = snowflake.Bounds(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
	eq(t, lo.Time(), lastMilli, "lo after the range")
	eq(t, hi, math.MaxInt64, "hi after the range")
}

func TestParse(t *testing.T) {
	valid := []struct {
		in   string
		want snowflake.ID
	}{
		{"0", 0},
		{"1", 1},
		{"5175791616", 5175791616},
		{"9223372036854775807", math.MaxInt64},
	}
	for _, tc := range valid {
		id, err := snowflake.Parse(tc.in)
		check(t, err == nil, "Parse(%q): %v", tc.in, err)
		eq(t, id, tc.want, "Parse(%q)", tc.in)
		eq(t, id.String(), tc.in, "String")
	}

	invalid := []struct{ in, reason string }{
		{"", "empty string"},
		{"-1", "negative (IDs are never negative)"},
		{"+1", "sign not allowed"},
		{"12a", `invalid character 'a' at byte 2 (want decimal digits)`},
		{" 1", `invalid character ' ' at byte 0`},
		{"1 ", `invalid character ' ' at byte 1`},
		{"1.0", `invalid character '.' at byte 1`},
		{"1e3", `invalid character 'e' at byte 1`},
		{"0x10", `invalid character 'x' at byte 1`},
		{"1_000", `invalid character '_' at byte 1`},
		{"١٢", `invalid character '١' at byte 0`},
		{"\xff", `invalid character '�' at byte 0`},
		{`"1"`, `invalid character '"' at byte 0`},
		{"007", "leading zero"},
		{"00", "leading zero"},
		{"9223372036854775808", "out of range (larger than 9223372036854775807)"},
		{"18446744073709551616", "out of range"},
		{strings.Repeat("9", 1000), "out of range"},
	}
	for _, tc := range invalid {
		id, err := snowflake.Parse(tc.in)
		check(t, err != nil, "Parse(%q) succeeded: %d", tc.in, id)
		eq(t, id, 0, "Parse(%q) ID with an error", tc.in)
		check(t, errors.Is(err, snowflake.ErrInvalidID), "Parse(%q): %v does not wrap ErrInvalidID", tc.in, err)
		check(t, strings.HasPrefix(err.Error(), "snowflake: invalid ID "), "Parse(%q): message %q", tc.in, err)
		check(t, strings.Contains(err.Error(), tc.reason), "Parse(%q): message %q lacks %q", tc.in, err, tc.reason)
	}

	_, err := snowflake.Parse("12a")
	eq(t, err.Error(), `snowflake: invalid ID "12a": invalid character 'a' at byte 2 (want decimal digits)`, "message")

	// Long input is quoted only in part.
	_, err = snowflake.Parse(strings.Repeat("x", 10000))
	eq(t, err.Error(), `snowflake: invalid ID "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"...: invalid character 'x' at byte 0 (want decimal digits)`, "long input message")
}

func TestText(t *testing.T) {
	g := newGen(t, 77, newFakeClock(someTime))
	for range 10 {
		id := nextID(g)
		b, err := id.MarshalText()
		check(t, err == nil, "MarshalText: %v", err)
		eq(t, string(b), id.String(), "MarshalText")
		var back snowflake.ID
		check(t, back.UnmarshalText(b) == nil, "UnmarshalText(%q) failed", b)
		eq(t, back, id, "UnmarshalText")
	}

	_, err := snowflake.ID(-1).MarshalText()
	check(t, errors.Is(err, snowflake.ErrInvalidID), "MarshalText(-1): %v", err)

	// UnmarshalText leaves the ID alone on error.
	id := snowflake.ID(42)
	err = id.UnmarshalText([]byte("nope"))
	check(t, errors.Is(err, snowflake.ErrInvalidID), "UnmarshalText(nope): %v", err)
	eq(t, id, 42, "ID after a failed UnmarshalText")

	var nilID *snowflake.ID
	check(t, errors.Is(nilID.UnmarshalText([]byte("1")), snowflake.ErrInvalidID), "UnmarshalText into nil")
}

func TestJSON(t *testing.T) {
	type msg struct {
		ID     snowflake.ID          `json:"id"`
		Parent *snowflake.ID         `json:"parent"`
		Seen   map[snowflake.ID]bool `json:"seen"`
	}
	in := msg{ID: math.MaxInt64, Seen: map[snowflake.ID]bool{5: true}} // far beyond 2^53
	b, err := json.Marshal(in)
	check(t, err == nil, "Marshal: %v", err)
	eq(t, string(b), `{"id":"9223372036854775807","parent":null,"seen":{"5":true}}`, "JSON")

	var out msg
	check(t, json.Unmarshal(b, &out) == nil, "Unmarshal failed")
	eq(t, out.ID, in.ID, "ID after a round trip")
	check(t, out.Parent == nil && len(out.Seen) == 1 && out.Seen[5], "round trip: %+v", out)

	err = json.Unmarshal([]byte(`{"id":"12","parent":"13"}`), &out)
	check(t, err == nil, "Unmarshal: %v", err)
	eq(t, out.ID, 12, "ID")
	check(t, out.Parent != nil && *out.Parent == 13, "Parent = %v", out.Parent)

	// A JSON number may have been rounded by JavaScript: rejected.
	err = json.Unmarshal([]byte(`{"id":9223372036854775807}`), &out)
	check(t, err != nil && strings.Contains(err.Error(), "number"), "Unmarshal of a number: %v", err)

	err = json.Unmarshal([]byte(`{"id":"-5"}`), &out)
	check(t, errors.Is(err, snowflake.ErrInvalidID), "Unmarshal of a negative ID: %v", err)

	_, err = json.Marshal(msg{ID: -5})
	check(t, errors.Is(err, snowflake.ErrInvalidID), "Marshal of a negative ID: %v", err)
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "0", "1", "00", "01", "-0", "-1", "+1", " 1", "1 ", "1.5", "1e9", "0x1f",
		"5175791616", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
		"18446744073709551615", "99999999999999999999", "١٢٣", "\xff", "1\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := snowflake.Parse(s)
		if err != nil {
			if !errors.Is(err, snowflake.ErrInvalidID) {
				t.Fatalf("Parse(%q): error %v does not wrap ErrInvalidID", s, err)
			}
			if id != 0 {
				t.Fatalf("Parse(%q) = %d with an error", s, id)
			}
			// Differential check: strconv must not see a canonical ID here.
			if v, perr := strconv.ParseInt(s, 10, 64); perr == nil && v >= 0 && strconv.FormatInt(v, 10) == s {
				t.Fatalf("Parse(%q) rejected a canonical ID: %v", s, err)
			}
			return
		}
		if id < 0 {
			t.Fatalf("Parse(%q) = %d, negative", s, id)
		}
		// Only the canonical form parses, so text round-trips exactly.
		if id.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, id.String())
		}
		b, err := id.MarshalText()
		if err != nil || string(b) != s {
			t.Fatalf("MarshalText(%d) = %q, %v", id, b, err)
		}
		var back snowflake.ID
		if err := back.UnmarshalText(b); err != nil || back != id {
			t.Fatalf("UnmarshalText(%q) = %d, %v; want %d", b, back, err, id)
		}
		// Field accessors stay in range for any valid ID.
		if n := id.Node(); n < 0 || n > snowflake.MaxNode {
			t.Fatalf("Node(%d) = %d", id, n)
		}
		if q := id.Seq(); q < 0 || q > 4095 {
			t.Fatalf("Seq(%d) = %d", id, q)
		}
		if lo, hi := snowflake.Bounds(id.Time()); id < lo || id > hi {
			t.Fatalf("ID %d outside Bounds(%v) = [%d, %d]", id, id.Time(), lo, hi)
		}
	})
}

func BenchmarkNext(b *testing.B) {
	g, err := snowflake.New(1)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		g.Next()
	}
}

func BenchmarkNextParallel(b *testing.B) {
	g, err := snowflake.New(1)
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g.Next()
		}
	})
}

func BenchmarkParse(b *testing.B) {
	s := snowflake.ID(5175791616).String()
	for b.Loop() {
		if _, err := snowflake.Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}
