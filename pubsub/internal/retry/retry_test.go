package retry

import (
	"context"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	want := []time.Duration{0, 0, Min, 2 * Min, 4 * Min, 8 * Min, 16 * Min, 32 * Min, Max, Max}
	for n, w := range want {
		if got := Backoff(n); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, w)
		}
	}
}

func TestSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	if !Sleep(ctx, time.Millisecond) {
		t.Fatal("a live context's sleep said it ended")
	}
	cancel()
	start := time.Now()
	if Sleep(ctx, time.Hour) || time.Since(start) > time.Second {
		t.Fatal("a sleep did not end with its context")
	}
}
