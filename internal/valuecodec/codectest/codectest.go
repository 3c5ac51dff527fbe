// Package codectest holds values for the tests of Strata's value
// encodings (package valuecodec and the adapters that use it): values of
// every scalar kind in ascending order, edge cases included.
package codectest

import (
	"math"
	"time"

	"github.com/strata-go/strata/repo/driver"
)

// UTC returns the time in UTC with microseconds usec.
func UTC(year int, month time.Month, day, hour, min, sec, usec int) time.Time {
	return time.Date(year, month, day, hour, min, sec, usec*1000, time.UTC)
}

// OrderedValues returns, for each scalar kind, canonical values in
// increasing driver.Compare order (with nil first), many of them equal.
func OrderedValues() map[driver.Kind][]any {
	negZero := math.Copysign(0, -1)
	return map[driver.Kind][]any{
		driver.KindInt: {nil, int64(math.MinInt64), int64(math.MinInt64 + 1), int64(-1e18), int64(-999999999999999999),
			int64(-1000000000), int64(-999999999), int64(-100), int64(-99), int64(-91), int64(-90), int64(-19), int64(-10),
			int64(-9), int64(-2), int64(-1), int64(0), int64(1), int64(2), int64(9), int64(10), int64(11), int64(19),
			int64(90), int64(99), int64(100), int64(101), int64(999999999), int64(1000000000), int64(1e18 - 1), int64(1e18),
			int64(math.MaxInt64 - 1), int64(math.MaxInt64)},
		driver.KindFloat: {nil, -math.MaxFloat64, -1e300, -2.0, math.Nextafter(-1, -2), -1.0, -0.5, -1e-300,
			-math.SmallestNonzeroFloat64, negZero, 0.0, math.SmallestNonzeroFloat64, 2.2250738585072014e-308, 1e-300,
			0.1, 0.30000000000000004, 0.5, 1.0, math.Nextafter(1, 2), 2.0, 10.0, 1e21, 1e300, math.MaxFloat64},
		driver.KindString: {nil, "", "\x01", "\x01\x01", "\x02", " ", "A", "Z", "a", "a\x01", "a ", "aa", "ab", "abc",
			"abd", "b", "z", "zzzz", "~", "\x7f", "é", "éa", "世", "世界", "🎉", "\xff"},
		driver.KindBool: {nil, false, true},
		driver.KindTime: {nil, UTC(1, 1, 1, 0, 0, 0, 0), UTC(1, 1, 1, 0, 0, 0, 1), UTC(999, 12, 31, 0, 0, 0, 0),
			UTC(1000, 1, 1, 0, 0, 0, 0), UTC(1969, 12, 31, 23, 59, 59, 999998), UTC(1969, 12, 31, 23, 59, 59, 999999),
			UTC(1970, 1, 1, 0, 0, 0, 0), UTC(1970, 1, 1, 0, 0, 0, 1), UTC(1970, 1, 1, 0, 0, 0, 9), UTC(1970, 1, 1, 0, 0, 0, 10),
			UTC(1970, 1, 1, 0, 0, 1, 0), UTC(2001, 9, 9, 1, 46, 40, 0), UTC(2024, 1, 1, 0, 0, 0, 0),
			UTC(9999, 12, 31, 23, 59, 59, 999998), UTC(9999, 12, 31, 23, 59, 59, 999999)},
	}
}
