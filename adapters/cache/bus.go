package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/strata-go/strata/pubsub"
)

// Invalidations travel on the bus as messages of this form (all integers
// uvarints unless noted, strings and byte strings length-prefixed):
//
//	"SC1"          magic and version
//	kind           one byte: 'k' keys, 'f' flush a collection, 'a' flush everything
//	origin         the sending node
//	seq            the sender's sequence number of the message: the version
//	               of its invalidation stream
//	coll           the collection ("" for 'a')
//	epoch          the collection's new L2 epoch ('f') or the namespace's
//	               ('a'); 0 without L2
//	n, keys        for 'k': n keys, each 's' and a string or 'i' and a
//	               zigzag varint
//
// A message carries keys, never values: a node that hears it drops the
// keys from its L1 and loads them again when asked.

const (
	msgKeys     = 'k'
	msgFlush    = 'f'
	msgFlushAll = 'a'
	msgMagic    = "SC1"
	// maxMessage keeps a message within the limit of every bus (PostgreSQL's
	// NOTIFY takes under 8000 bytes of text, base64 in the bus) and of the
	// adapter's bus if it says a smaller one; a write whose keys do not
	// fit sends a flush of the collection instead.
	maxMessage = 5000
)

// message is one invalidation.
type message struct {
	kind   byte
	origin string
	seq    uint64
	coll   string
	epoch  uint64
	keys   []l1Key
}

func (m message) encode() []byte {
	b := make([]byte, 0, 64)
	b = append(b, msgMagic...)
	b = append(b, m.kind)
	b = appendString(b, m.origin)
	b = binary.AppendUvarint(b, m.seq)
	b = appendString(b, m.coll)
	b = binary.AppendUvarint(b, m.epoch)
	b = binary.AppendUvarint(b, uint64(len(m.keys)))
	for _, k := range m.keys {
		if k.s != "" {
			b = appendString(append(b, 's'), k.s)
		} else {
			b = binary.AppendVarint(append(b, 'i'), k.i)
		}
	}
	return b
}

var errMessage = errors.New("malformed cache invalidation")

// decodeMessage parses a message; it never panics on bad input.
func decodeMessage(b []byte) (message, error) {
	var m message
	if len(b) < len(msgMagic)+1 || string(b[:len(msgMagic)]) != msgMagic {
		return m, fmt.Errorf("%w: bad magic", errMessage)
	}
	b = b[len(msgMagic):]
	m.kind, b = b[0], b[1:]
	if m.kind != msgKeys && m.kind != msgFlush && m.kind != msgFlushAll {
		return m, fmt.Errorf("%w: kind %q", errMessage, m.kind)
	}
	r := reader{b: b}
	m.origin = r.string()
	m.seq = r.uvarint()
	m.coll = r.string()
	m.epoch = r.uvarint()
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: %d keys in %d bytes", errMessage, n, len(r.b))
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		switch r.byte() {
		case 's':
			s := r.string()
			if s == "" && r.err == nil {
				r.err = fmt.Errorf("%w: empty key", errMessage)
			}
			m.keys = append(m.keys, l1Key{coll: m.coll, s: s})
		case 'i':
			m.keys = append(m.keys, l1Key{coll: m.coll, i: r.varint()})
		default:
			if r.err == nil {
				r.err = fmt.Errorf("%w: bad key tag", errMessage)
			}
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", errMessage, len(r.b))
	}
	if r.err == nil && m.kind != msgFlushAll && m.coll == "" {
		r.err = fmt.Errorf("%w: no collection", errMessage)
	}
	return m, r.err
}

// reader reads the fields of a message, keeping the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: bad varint", errMessage)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: bad varint", errMessage)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		if r.err == nil {
			r.err = fmt.Errorf("%w: truncated", errMessage)
		}
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: truncated", errMessage)
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// publish sends m to the other nodes, if there is a bus. A message too
// large for one becomes a flush of its collection.
func (a *Adapter) publish(ctx context.Context, m message) {
	if a.bus == nil {
		return
	}
	m.origin = a.node
	m.seq = a.seq.Add(1)
	b := m.encode()
	if len(b) > a.maxMessage && m.kind == msgKeys {
		m.kind, m.keys = msgFlush, nil
		if a.l2 != nil {
			m.epoch = a.coll(m.coll).epoch.Load()
		}
		b = m.encode()
	}
	if err := a.bus.Publish(ctx, a.topic, b); err != nil {
		a.stats.busErrors.Add(1)
		a.log.Warn("strata cache: publishing an invalidation failed; other nodes may read stale records for up to their L1 TTL",
			"collection", m.coll, "error", err)
		return
	}
	a.stats.published.Add(1)
}

// receive handles an event of the bus.
func (a *Adapter) receive(ev pubsub.Event) {
	switch ev.Kind {
	case pubsub.Lost:
		// Invalidations may be missed from now on: stop trusting L1.
		a.degraded.Store(true)
		a.flushLocal()
		a.stats.busResets.Add(1)
		return
	case pubsub.Reset:
		// Some may have been missed: start afresh, and read the L2
		// epochs again, which may have moved meanwhile.
		a.flushLocal()
		a.forgetEpochs()
		a.degraded.Store(false)
		return
	case pubsub.Message:
	default:
		return
	}
	m, err := decodeMessage(ev.Data)
	if err != nil {
		// Someone else's message on our topic, or a corrupt one: what
		// it meant to invalidate is unknown, so drop everything.
		a.stats.busErrors.Add(1)
		a.log.Warn("strata cache: unreadable invalidation; flushing L1", "error", err)
		a.flushLocal()
		return
	}
	if m.origin == a.node {
		return
	}
	// Counted once applied: a reader that saw the count sees its effect.
	defer a.stats.received.Add(1)
	switch m.kind {
	case msgKeys:
		cs := a.coll(m.coll)
		cs.qgen.Add(1)
		for _, k := range m.keys {
			a.l1.Invalidate(k)
		}
	case msgFlush:
		cs := a.coll(m.coll)
		cs.loaded.Store(false) // read the new epoch from L2
		cs.gen.Add(1)
		cs.qgen.Add(1)
	case msgFlushAll:
		a.flushLocal()
		a.raiseGlobal(m.epoch)
	}
}
