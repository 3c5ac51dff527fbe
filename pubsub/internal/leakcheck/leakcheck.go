// Package leakcheck finds goroutines of the pub/sub buses still running
// when a test expects none, in the manner of go.uber.org/goleak but
// limited to Strata's pubsub packages (so that the servers' client
// libraries' own goroutines, and those of other tests, do not count).
package leakcheck

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// Creators are the functions that start the buses' goroutines: a stack
// trace names its goroutine's creator ("created by F in goroutine N") even
// before it has begun to run its function.
var Creators = []string{
	"github.com/strata-go/strata/pubsub/internal/fanout.(*Queue).Start",
	"github.com/strata-go/strata/pubsub/redispubsub.New",
	"github.com/strata-go/strata/pubsub/pgpubsub.New",
}

// Check fails t if, after a grace period of a few seconds, a goroutine
// that one of Creators started is still running. Call it, from a test that is not
// parallel, after closing every bus the package's tests made.
func Check(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		leaked := Running()
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of a closed bus still running:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Running returns the stacks of the goroutines that one of Creators
// started.
func Running() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var leaked []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, f := range Creators {
			if strings.Contains(g, "\ncreated by "+f+" in goroutine ") {
				leaked = append(leaked, g)
				break
			}
		}
	}
	return leaked
}
