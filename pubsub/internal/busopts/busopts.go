// Package busopts checks the options the network buses share (a channel
// prefix, a health-check interval, a queue size) and fills in their
// defaults, the same for every bus.
package busopts

import (
	"fmt"
	"time"

	"github.com/strata-go/strata/pubsub"
)

// Defaults and limits of the shared options.
const (
	DefaultPrefix      = "strata:"
	DefaultHealthCheck = time.Second
	MaxPrefix          = 32 // bytes
)

// Check validates the shared options and sets the zero ones to their
// defaults; errors wrap pubsub.ErrInvalid.
func Check(prefix *string, healthCheck *time.Duration, queueSize *int) error {
	switch {
	case *prefix == "":
		*prefix = DefaultPrefix
	case pubsub.ValidateTopic(*prefix) != nil || len(*prefix) > MaxPrefix:
		return fmt.Errorf("%w: prefix %q: at most %d letters, digits or \"_.:-\"", pubsub.ErrInvalid, *prefix, MaxPrefix)
	}
	switch {
	case *healthCheck < 0:
		return fmt.Errorf("%w: negative health check interval %v", pubsub.ErrInvalid, *healthCheck)
	case *healthCheck == 0:
		*healthCheck = DefaultHealthCheck
	}
	switch {
	case *queueSize < 0:
		return fmt.Errorf("%w: negative queue size %d", pubsub.ErrInvalid, *queueSize)
	case *queueSize == 0:
		*queueSize = pubsub.DefaultQueueSize
	}
	return nil
}
