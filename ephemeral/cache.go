package ephemeral

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Cache is a key-value cache of byte values with per-key expiry.
//
// Every method is safe for concurrent use. A ttl of 0 means no expiry; a
// negative ttl is [ErrInvalid]. Keys are non-empty and at most [MaxKeyLen]
// bytes. Returned slices belong to the caller, and the cache keeps its own
// copy of a value it is given.
type Cache interface {
	// Get returns the value of key, or ErrNotFound if it is absent or
	// has expired.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key with the given ttl (0: no expiry),
	// replacing any value and expiry the key had.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// SetNew stores value under key only if the key is absent, and
	// reports whether it did.
	SetNew(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Delete removes key. An absent key is not an error.
	Delete(ctx context.Context, key string) error
	// Take returns the value of key and removes it, atomically: of
	// concurrent Takes of one key, one gets the value and the others
	// ErrNotFound.
	Take(ctx context.Context, key string) ([]byte, error)
	// Incr adds by to the counter under key and returns the new count.
	// An absent key counts from 0; ttl applies only when this call creates
	// the key (0: no expiry), so a counter keeps the expiry it was
	// created with, as a fixed-window rate limit needs. The counter is
	// stored as the decimal text of an int64 ("5"); a value that is not
	// one, or an addition that overflows, is ErrInvalid and changes
	// nothing.
	Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error)
	// TTL returns the time key has left to live, 0 if it has no expiry,
	// or ErrNotFound.
	TTL(ctx context.Context, key string) (time.Duration, error)
	// Expire gives key a new ttl counted from now; 0 removes its expiry.
	// An absent key is ErrNotFound.
	Expire(ctx context.Context, key string, ttl time.Duration) error
	// Fetch returns the value of key; if it is absent, it calls load,
	// stores what load returns with the given ttl and returns it.
	// Concurrent Fetches of one key in one process call load once and
	// share its result. An error from load is returned (wrapped) and not
	// cached. If the key is written while load runs, the written value
	// wins over the loaded one.
	Fetch(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error)
	// Close releases the cache. Calls after Close return ErrClosed;
	// Close itself may be called more than once.
	Close() error
}

// The error kinds of the package. Methods wrap them with the operation
// and the key; test for them with errors.Is.
var (
	// ErrNotFound: the key is absent or has expired (or, in a [Local],
	// was evicted).
	ErrNotFound = errors.New("not found")
	// ErrInvalid: bad input: an empty or too long key, a negative ttl, a
	// nil load function, or an Incr of a value that is not a decimal int64
	// or that would overflow.
	ErrInvalid = errors.New("invalid")
	// ErrClosed: the cache has been closed.
	ErrClosed = errors.New("closed")
)

// MaxKeyLen is the length in bytes of the longest key.
const MaxKeyLen = 1024

// keyInMessage is how much of a key an error message quotes.
const keyInMessage = 64

// opError wraps err with the operation and the key it failed on.
func opError(op, key string, err error) error {
	if len(key) > keyInMessage {
		key = key[:keyInMessage] + "..."
	}
	return fmt.Errorf("ephemeral: %s %q: %w", op, key, err)
}

// invalid returns an ErrInvalid saying why.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// checkKey returns an ErrInvalid for a key that is empty or too long.
func checkKey(key string) error {
	switch {
	case key == "":
		return invalid("empty key")
	case len(key) > MaxKeyLen:
		return invalid("key of %d bytes, more than %d", len(key), MaxKeyLen)
	}
	return nil
}

// checkTTL returns an ErrInvalid for a negative ttl.
func checkTTL(ttl time.Duration) error {
	if ttl < 0 {
		return invalid("negative ttl %v", ttl)
	}
	return nil
}

// begin makes the checks every call starts with, in order: the cache is
// open, ctx is live, the key is valid. It returns the error to give the
// caller, already wrapped, or nil.
func begin(ctx context.Context, closed bool, op, key string) error {
	if closed {
		return opError(op, key, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return opError(op, key, err)
	}
	if err := checkKey(key); err != nil {
		return opError(op, key, err)
	}
	return nil
}

// parseCounter parses a counter as Redis does: the canonical decimal text
// of an int64, with no sign but a leading minus, no leading zeros and no
// spaces. Anything else is ErrInvalid.
func parseCounter(b []byte) (int64, error) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != string(b) {
		return 0, invalid("value %.32q is not a decimal int64", b)
	}
	return n, nil
}

// addCounter returns n+by, or ErrInvalid if it overflows an int64.
func addCounter(n, by int64) (int64, error) {
	sum := n + by
	if (by > 0 && sum < n) || (by < 0 && sum > n) {
		return 0, invalid("%d%+d overflows an int64", n, by)
	}
	return sum, nil
}

// clone returns a copy of b that the caller may keep; never nil.
func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}
