package pubsubtest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-go/strata/pubsub"
)

// Timeouts of the contract's waits.
const (
	// Patience is how long a test waits for something that must happen.
	Patience = 15 * time.Second
	// Quiet is how long a test waits to see that something does not
	// happen, after a later event that it would have preceded.
	Quiet = 100 * time.Millisecond
)

// Recorder is a Handler that records the events it receives, for tests.
// Its methods are safe for concurrent use.
type Recorder struct {
	topic string // the topic every event must have; "" for any

	mu      sync.Mutex
	events  []pubsub.Event
	bad     []string      // events with the wrong topic or kind
	changed chan struct{} // closed (and replaced) when an event is recorded
}

// NewRecorder returns a Recorder of the events of topic.
func NewRecorder(topic string) *Recorder {
	return &Recorder{topic: topic, changed: make(chan struct{})}
}

// Handle records e (with a copy of its data). Pass it to Subscribe.
func (r *Recorder) Handle(e pubsub.Event) {
	e.Data = bytes.Clone(e.Data)
	r.mu.Lock()
	switch {
	case r.topic != "" && e.Topic != r.topic:
		r.bad = append(r.bad, fmt.Sprintf("%v with topic %q, want %q", e.Kind, e.Topic, r.topic))
	case e.Kind != pubsub.Message && e.Kind != pubsub.Lost && e.Kind != pubsub.Reset:
		r.bad = append(r.bad, fmt.Sprintf("event of kind %v", e.Kind))
	case e.Kind != pubsub.Message && e.Data != nil:
		r.bad = append(r.bad, fmt.Sprintf("%v with data %q", e.Kind, e.Data))
	}
	r.events = append(r.events, e)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Events returns the events recorded so far.
func (r *Recorder) Events() []pubsub.Event {
	evs, _ := r.snapshot()
	return evs
}

// snapshot returns the events recorded so far and a channel closed when
// there are more.
func (r *Recorder) snapshot() ([]pubsub.Event, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events), r.changed
}

// Messages returns the data of the messages recorded so far, as strings.
func (r *Recorder) Messages() []string { return Messages(r.Events()) }

// Messages returns the data of the Message events of evs, as strings.
func Messages(evs []pubsub.Event) []string {
	var m []string
	for _, e := range evs {
		if e.Kind == pubsub.Message {
			m = append(m, string(e.Data))
		}
	}
	return m
}

// Kinds returns evs as a compact string, messages as "m", Lost as "L" and
// Reset as "R": "mmLmR".
func Kinds(evs []pubsub.Event) string {
	var b strings.Builder
	for _, e := range evs {
		switch e.Kind {
		case pubsub.Message:
			b.WriteByte('m')
		case pubsub.Lost:
			b.WriteByte('L')
		case pubsub.Reset:
			b.WriteByte('R')
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// Wait waits (at most Patience) until cond holds for the events recorded,
// and returns them; it fails t, saying what it waited for, if cond does
// not come to hold.
func (r *Recorder) Wait(t testing.TB, what string, cond func([]pubsub.Event) bool) []pubsub.Event {
	t.Helper()
	timer := time.NewTimer(Patience)
	defer timer.Stop()
	for {
		evs, changed := r.snapshot()
		if cond(evs) {
			r.CheckWellFormed(t)
			return evs
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("waited %v for %s; got %d events (%s), messages %s", Patience, what, len(evs), Kinds(evs), abbreviate(Messages(evs)))
		}
	}
}

// WaitMessages waits until the recorded messages are want, and fails t if
// they become anything else that does not lead to it.
func (r *Recorder) WaitMessages(t testing.TB, want ...string) []pubsub.Event {
	t.Helper()
	return r.Wait(t, fmt.Sprintf("messages %s", abbreviate(want)), func(evs []pubsub.Event) bool {
		got := Messages(evs)
		if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) {
			t.Fatalf("messages %s, want %s", abbreviate(got), abbreviate(want))
		}
		return len(got) == len(want)
	})
}

// WaitKind waits until some recorded event is of kind k, and returns the
// events recorded.
func (r *Recorder) WaitKind(t testing.TB, k pubsub.EventKind) []pubsub.Event {
	t.Helper()
	return r.Wait(t, "an event "+k.String(), func(evs []pubsub.Event) bool {
		return slices.ContainsFunc(evs, func(e pubsub.Event) bool { return e.Kind == k })
	})
}

// CheckWellFormed fails t if an event had the wrong topic or kind, or
// Lost and Reset did not alternate, Lost first.
func (r *Recorder) CheckWellFormed(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	bad := slices.Clone(r.bad)
	evs := slices.Clone(r.events)
	r.mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("bad events: %s", strings.Join(bad, "; "))
	}
	lost := false
	for i, e := range evs {
		switch e.Kind {
		case pubsub.Lost:
			if lost {
				t.Fatalf("event %d: Lost twice without a Reset: %s", i, Kinds(evs))
			}
			lost = true
		case pubsub.Reset:
			if !lost {
				t.Fatalf("event %d: Reset without a Lost: %s", i, Kinds(evs))
			}
			lost = false
		}
	}
}

// CheckNoLoss fails t if any Lost or Reset was recorded.
func (r *Recorder) CheckNoLoss(t testing.TB) {
	t.Helper()
	r.CheckWellFormed(t)
	if evs := r.Events(); strings.ContainsAny(Kinds(evs), "LR") {
		t.Fatalf("unexpected Lost or Reset: %s", Kinds(evs))
	}
}

func abbreviate(s []string) string {
	q := make([]string, 0, min(len(s), 12))
	for i, m := range s {
		if i == 10 && len(s) > 12 {
			q = append(q, fmt.Sprintf("…%d more…", len(s)-11))
			m = s[len(s)-1]
			q = append(q, short(m))
			break
		}
		q = append(q, short(m))
	}
	return "[" + strings.Join(q, " ") + "]"
}

func short(m string) string {
	if len(m) > 24 {
		return fmt.Sprintf("%q…(%d bytes)", m[:16], len(m))
	}
	return fmt.Sprintf("%q", m)
}

// runID tells this process's prefixes from those of other runs of the
// same tests against the same server.
var runID = func() string {
	var b [3]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}()

// Prefix returns a channel prefix unique to t and to this process, for
// buses that share a server with other tests and other runs:
// "t<6 hex digits>-<16 hex digits>:", 25 bytes. The buses made with the
// same t get the same prefix, so they share a network.
func Prefix(t testing.TB) string {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	return fmt.Sprintf("t%s-%016x:", runID, h.Sum64())
}
