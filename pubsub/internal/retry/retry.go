// Package retry holds the reconnection pacing the network buses share:
// how long to wait before the nth attempt, and a wait that ends early when
// the bus closes.
package retry

import (
	"context"
	"time"
)

// The waits between attempts double from Min up to Max.
const (
	Min = 50 * time.Millisecond
	Max = 2 * time.Second
)

// Backoff is the wait before the nth consecutive attempt (none before
// the first and the second, then Min doubling up to Max).
func Backoff(n int) time.Duration {
	if n <= 1 {
		return 0
	}
	d := Min
	for i := 2; i < n && d < Max; i++ {
		d *= 2
	}
	return min(d, Max)
}

// Sleep waits d, or until ctx ends; it reports whether ctx is still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
