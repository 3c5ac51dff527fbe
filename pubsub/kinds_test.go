package pubsub

import (
	"errors"
	"strings"
	"testing"

	"github.com/strata-go/strata/pubsub/internal/fanout"
)

// The queue's event kinds are the EventKind values.
func TestKinds(t *testing.T) {
	for _, k := range []struct {
		queue uint8
		kind  EventKind
	}{{fanout.Message, Message}, {fanout.Lost, Lost}, {fanout.Reset, Reset}} {
		if EventKind(k.queue) != k.kind {
			t.Errorf("fanout kind %d is not %v (%d)", k.queue, k.kind, k.kind)
		}
	}
	if s := EventKind(9).String(); s != "EventKind(9)" {
		t.Errorf("String of an unknown kind: %q", s)
	}
}

func TestValidateTopic(t *testing.T) {
	good := []string{"a", "chat:room.42", "A-Z_0-9", "x:y:z", "x" + strings.Repeat("y", MaxTopic-1)}
	for _, topic := range good {
		if err := ValidateTopic(topic); err != nil {
			t.Errorf("ValidateTopic(%q): %v", topic, err)
		}
	}
	bad := []string{"", "x" + strings.Repeat("y", MaxTopic), "a b", "a/b", "\u00e9", "a\x00", "a\n", "a*", "a#b", "a~b"}
	for _, topic := range bad {
		if err := ValidateTopic(topic); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateTopic(%q): %v, want ErrInvalid", topic, err)
		}
	}
}
