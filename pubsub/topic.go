package pubsub

import "fmt"

// MaxTopic is the longest topic, in bytes: PostgreSQL's limit on channel
// names, which are identifiers.
const MaxTopic = 63

// ValidateTopic reports whether topic can be published and subscribed to
// on every bus: 1 to MaxTopic bytes, each an ASCII letter or digit or one
// of "_.:-". Its error wraps ErrInvalid and says what is wrong.
func ValidateTopic(topic string) error {
	if topic == "" {
		return fmt.Errorf("%w: empty topic", ErrInvalid)
	}
	if len(topic) > MaxTopic {
		return fmt.Errorf("%w: topic of %d bytes, more than %d", ErrInvalid, len(topic), MaxTopic)
	}
	for i := 0; i < len(topic); i++ {
		if !topicByte(topic[i]) {
			return fmt.Errorf("%w: topic %q: byte %#02x at %d is not a letter, digit or one of \"_.:-\"", ErrInvalid, topic, topic[i], i)
		}
	}
	return nil
}

func topicByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '_', c == '.', c == ':', c == '-':
		return true
	}
	return false
}
