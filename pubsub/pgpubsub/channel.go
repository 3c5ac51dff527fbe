package pgpubsub

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

const (
	// MaxMessage is the size limit of a message, in bytes: the most that
	// takes less than PostgreSQL's 8000 bytes of NOTIFY payload in base64.
	MaxMessage = maxPayload / 4 * 3
	// maxPayload is the longest NOTIFY payload: it must be shorter than
	// 8000 bytes (in the default configuration).
	maxPayload = 7999
	// maxChannel is the longest channel name, in bytes: an identifier.
	maxChannel = 63
	// hashLen is the number of hexadecimal digits of a topic's SHA-256 in
	// the name of a channel that would otherwise be too long.
	hashLen = 16
)

// channelName returns the PostgreSQL channel of topic: prefix+topic, or if
// that is too long, prefix, as much of topic as fits, "~" and hashLen hex
// digits of the topic's SHA-256. prefix is at most MaxPrefix bytes, so at
// least 14 bytes of topic fit.
func channelName(prefix, topic string) string {
	name := prefix + topic
	if len(name) <= maxChannel {
		return name
	}
	sum := sha256.Sum256([]byte(topic))
	keep := maxChannel - len(prefix) - 1 - hashLen
	return prefix + topic[:keep] + "~" + hex.EncodeToString(sum[:hashLen/2])
}

// encode returns msg as a NOTIFY payload.
func encode(msg []byte) string {
	return base64.StdEncoding.EncodeToString(msg)
}

// decode returns the message of a NOTIFY payload, or an error if it is not
// one of the bus's.
func decode(payload string) ([]byte, error) {
	if len(payload) > maxPayload {
		return nil, fmt.Errorf("payload of %d bytes, more than %d", len(payload), maxPayload)
	}
	msg, err := base64.StdEncoding.Strict().DecodeString(payload)
	if err != nil {
		return nil, fmt.Errorf("payload is not base64: %w", err)
	}
	return msg, nil
}
