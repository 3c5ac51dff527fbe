// Package snowflake generates snowflake-style IDs: 64-bit, roughly
// time-ordered identifiers that many nodes can issue without coordinating.
//
// # Layout
//
// An ID is a positive int64 made of four fields, most significant first:
//
//	 63  62                                        22 21        12 11          0
//	+---+--------------------------------------------+------------+-------------+
//	| 0 |  milliseconds since Epoch (41 bits)        | node (10)  | seq (12)    |
//	+---+--------------------------------------------+------------+-------------+
//
// Consequences:
//
//   - The sign bit is always 0, so IDs are positive and sort the same way as
//     signed or unsigned integers and as their timestamps.
//   - 41 bits of milliseconds since [Epoch] (2024-01-01T00:00:00Z) cover about
//     69.7 years: the last representable millisecond is
//     2093-09-06T15:47:35.551Z. A Generator refuses to go past it (see
//     [Generator.Next]).
//   - 10 bits of node id: up to 1024 generators (0 to [MaxNode]) can run at the
//     same time without coordination, as long as no two of them share a node id.
//     Assigning node ids (from configuration) is the caller's job.
//   - 12 bits of sequence: one generator issues up to 4096 IDs per millisecond
//     (about 4 million a second) while staying on its clock; beyond that it
//     borrows the following milliseconds (see below).
//
// IDs from one [Generator] are strictly increasing. IDs from different nodes
// are ordered by their millisecond first, so they are only as well ordered as
// the nodes' clocks agree ("k-sorted"); within one millisecond, IDs order by
// node and then by sequence.
//
// # Clocks and logical time
//
// A Generator never issues a duplicate or an ID smaller than one it issued
// before, whatever its clock does. It remembers the timestamp of its last ID
// (its logical time) and stamps each new ID with the larger of the wall clock
// and that logical time:
//
//   - Clock moves forward: the ID takes the wall-clock millisecond, sequence 0.
//   - Clock is in the same millisecond as the last ID, or behind it (for
//     example after an NTP step or a manual clock change): the generator keeps
//     issuing IDs in the last logical millisecond, incrementing the sequence.
//   - The sequence is exhausted (4096 IDs in one logical millisecond): the
//     generator moves on to the next millisecond logically, at once. It never
//     sleeps or spins waiting for the clock.
//
// So after the clock steps back by d, IDs run ahead of the wall clock by at
// most d (plus one logical millisecond per 4096 IDs issued in excess of the
// per-millisecond capacity meanwhile), and [ID.Time] reports that logical
// time, not the instant the ID was made. As soon as the wall clock passes the
// logical time again, IDs follow the wall clock once more. An ID's timestamp
// is never earlier than the clock reading taken while generating it.
//
// # Text form
//
// IDs print and parse as decimal strings ([ID.String], [Parse]). They
// implement [encoding.TextMarshaler] and [encoding.TextUnmarshaler], so
// encoding/json writes them as JSON strings ("123…") rather than numbers:
// JavaScript numbers lose precision above 2^53 and most IDs are larger.
package snowflake

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Layout of an ID.
const (
	timeBits = 41
	nodeBits = 10
	seqBits  = 12

	nodeShift = seqBits
	timeShift = seqBits + nodeBits

	maxTime = 1<<timeBits - 1 // last representable millisecond after Epoch
	maxSeq  = 1<<seqBits - 1

	// MaxNode is the largest node id; node ids range from 0 to MaxNode (1023).
	MaxNode = 1<<nodeBits - 1

	// epochMilli is Epoch in Unix milliseconds; the package computes with this
	// constant, never with the Epoch variable.
	epochMilli = 1704067200000
)

// Epoch is the instant of timestamp 0: 2024-01-01T00:00:00Z. It is a variable
// only because Go has no time.Time constants; treat it as a constant.
// Assigning to it does not change how IDs are generated or decoded.
var Epoch = time.UnixMilli(epochMilli).UTC()

// ErrInvalidID is returned (wrapped, with the reason) by [Parse] and
// [ID.UnmarshalText] for text that is not a valid ID, and by
// [ID.MarshalText] for a negative ID. Test for it with errors.Is.
var ErrInvalidID = errors.New("snowflake: invalid ID")

// ErrExhausted is returned by Next when no ID is left: the clock (or the
// generator's logical time) is past the last millisecond the 41-bit
// timestamp can hold.
var ErrExhausted = errors.New("snowflake: ID space exhausted")

// ID is a snowflake ID; see the package documentation for its layout. The
// zero ID is never issued by a [Generator], so it can stand for "no ID".
type ID int64

// Time returns the millisecond timestamp stored in id, in UTC. For an ID
// issued while its generator ran ahead of the wall clock (see the package
// documentation), this is the generator's logical time.
func (id ID) Time() time.Time {
	return time.UnixMilli(epochMilli + int64(id)>>timeShift).UTC()
}

// Node returns the node id stored in id, from 0 to [MaxNode].
func (id ID) Node() int {
	return int(int64(id) >> nodeShift & MaxNode)
}

// Seq returns the sequence number stored in id, from 0 to 4095.
func (id ID) Seq() int {
	return int(int64(id) & maxSeq)
}

// String returns id in decimal, the form [Parse] accepts.
func (id ID) String() string {
	return strconv.FormatInt(int64(id), 10)
}

// MarshalText implements [encoding.TextMarshaler]: the decimal form of id,
// as [ID.String]. Through encoding/json an ID becomes a JSON string. A
// negative ID (which no Generator issues and Parse rejects) is an error
// wrapping [ErrInvalidID], so that marshalling never produces text that
// cannot be read back.
func (id ID) MarshalText() ([]byte, error) {
	if id < 0 {
		return nil, fmt.Errorf("%w: %d is negative", ErrInvalidID, int64(id))
	}
	return strconv.AppendInt(nil, int64(id), 10), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler]; it accepts what [Parse]
// accepts and leaves id unchanged on error. Through encoding/json an ID must
// be a JSON string: a JSON number is rejected by encoding/json, deliberately,
// since a number that passed through JavaScript may have lost precision.
func (id *ID) UnmarshalText(text []byte) error {
	if id == nil {
		return fmt.Errorf("%w: UnmarshalText into nil *ID", ErrInvalidID)
	}
	v, err := Parse(string(text))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Parse parses the decimal form of an ID, as produced by [ID.String]. Only the
// canonical form is accepted: ASCII digits, no sign, no leading zeros (except
// "0" itself), no spaces, at most 2^63-1. Any other input yields an error
// wrapping [ErrInvalidID] that says what is wrong.
func Parse(s string) (ID, error) {
	if s == "" {
		return 0, parseError(s, "empty string")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			switch {
			case i == 0 && c == '-':
				return 0, parseError(s, "negative (IDs are never negative)")
			case i == 0 && c == '+':
				return 0, parseError(s, "sign not allowed")
			}
			r, _ := utf8.DecodeRuneInString(s[i:])
			return 0, parseError(s, fmt.Sprintf("invalid character %q at byte %d (want decimal digits)", r, i))
		}
	}
	if s[0] == '0' && len(s) > 1 {
		return 0, parseError(s, "leading zero")
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil { // only a range error is possible here
		return 0, parseError(s, "out of range (larger than 9223372036854775807)")
	}
	return ID(v), nil
}

// parseError builds a Parse error, quoting at most 40 bytes of the input so
// that hostile input does not produce huge error messages.
func parseError(s, reason string) error {
	const maxQuoted = 40
	quoted := strconv.Quote(s)
	if len(s) > maxQuoted {
		quoted = strconv.Quote(s[:maxQuoted]) + "..."
	}
	return fmt.Errorf("%w %s: %s", ErrInvalidID, quoted, reason)
}

// Bounds returns the smallest and the largest ID that any generator (any node,
// any sequence) can issue in the millisecond of t, for time-range queries over
// IDs: "created at or after t" is id >= lo, "created at or before t" is
// id <= hi. The answer is exact for the timestamps stored in IDs; since a
// generator whose clock stepped back stamps IDs with its logical time (see the
// package documentation), an ID may have been made somewhat before the time
// it carries, never after. Times before Epoch are treated as Epoch and times
// after the last representable millisecond (2093-09-06T15:47:35.551Z) as that
// millisecond, as a Generator would.
func Bounds(t time.Time) (lo, hi ID) {
	ms := sinceEpoch(t)
	if ms > maxTime {
		ms = maxTime
	}
	lo = ID(ms << timeShift)
	hi = lo | MaxNode<<nodeShift | maxSeq
	return lo, hi
}

// sinceEpoch returns the milliseconds from Epoch to t, or 0 if t is before
// Epoch. The result may exceed maxTime.
func sinceEpoch(t time.Time) int64 {
	ms := t.UnixMilli()
	if ms < epochMilli {
		return 0
	}
	return ms - epochMilli
}

// Option configures a [Generator] in [New].
type Option func(*options)

type options struct {
	clock func() time.Time
}

// WithClock makes the generator read the time from clock instead of
// time.Now; useful to test code that stamps IDs, with a fake or frozen
// clock. clock must be safe for concurrent use if Next is called
// concurrently. A nil clock makes New fail.
func WithClock(clock func() time.Time) Option {
	return func(o *options) { o.clock = clock }
}

// Generator issues IDs for one node. It is safe for concurrent use and
// lock-free; IDs it returns are unique and strictly increasing in the order
// in which the Next calls take effect. It must not be copied after first use.
//
// Create Generators with [New]. The zero Generator works, as node 0 with the
// system clock, but a deployment with several nodes must give each its own
// node id through New.
type Generator struct {
	// last is the last ID issued; its timestamp field is the logical time.
	// Its initial value, (timestamp 0, this node, sequence 0), counts as
	// already issued so that node 0 never issues the zero ID.
	last     atomic.Int64
	nodePart int64            // node << nodeShift
	clock    func() time.Time // nil means time.Now
}

// New returns a Generator for node, which must be between 0 and [MaxNode]
// and unique among the generators running at the same time. It returns an
// error, never panics, for a node out of range or an invalid option.
func New(node int, opts ...Option) (*Generator, error) {
	if node < 0 || node > MaxNode {
		return nil, fmt.Errorf("snowflake: node id %d out of range [0, %d]", node, MaxNode)
	}
	o := options{clock: time.Now}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("snowflake: nil Option")
		}
		opt(&o)
	}
	if o.clock == nil {
		return nil, errors.New("snowflake: WithClock: nil clock")
	}
	g := &Generator{nodePart: int64(node) << nodeShift, clock: o.clock}
	g.last.Store(g.nodePart)
	return g, nil
}

// Next returns a new ID, greater than every ID this generator returned
// before. It reads the clock once and never sleeps or waits for it: when the
// clock is behind the generator's logical time, or 4096 IDs have already been
// issued in the current logical millisecond, the ID is stamped with logical
// time instead (see the package documentation).
//
// Next fails with ErrExhausted when the ID space is exhausted: when the
// clock reads later than 2093-09-06T15:47:35.551Z, or the logical time
// would pass it. Issuing a wrapped-around or duplicate ID instead would
// corrupt data silently. The generator's state is unchanged by such a call.
func (g *Generator) Next() (ID, error) {
	clock := g.clock
	if clock == nil {
		clock = time.Now
	}
	t := clock()
	now := sinceEpoch(t)
	if now > maxTime {
		return 0, fmt.Errorf("%w: clock reads %v, past the last representable millisecond %v",
			ErrExhausted, t.UTC(), ID(maxTime<<timeShift).Time())
	}
	for {
		last := g.last.Load()
		ts := last >> timeShift
		var next int64
		switch {
		case now > ts: // clock ahead of logical time: follow it
			next = now<<timeShift | g.nodePart
		case last&maxSeq < maxSeq: // same or earlier millisecond: next sequence
			next = last + 1
		default: // sequence exhausted: borrow the next millisecond
			if ts >= maxTime {
				return 0, fmt.Errorf("%w: logical time reached the last representable millisecond %v",
					ErrExhausted, ID(maxTime<<timeShift).Time())
			}
			next = (ts+1)<<timeShift | g.nodePart
		}
		if g.last.CompareAndSwap(last, next) {
			return ID(next), nil
		}
	}
}
