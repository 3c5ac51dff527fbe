package riak

import (
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/strata-go/strata/repo/driver"
)

// A record's state is the value of its Riak object, encoded compactly in
// the protobuf wire format (with protowire; there is no .proto file):
//
//	object  = version byte 1, then field* as tag 1
//	field   = 1 name, 2 text, 3 flags (1 has, 2 null), 4 stamp, 5 writer,
//	          6 count*, 7 elem*, 8 clock*, 9 base (zigzag), 10 policy
//	count   = 1 writer, 2 p, 3 n
//	elem    = 1 element, 2 dot*
//	dot     = 1 writer, 2 n, 3 stamp
//	clock   = 1 writer, 2 n
//
// Everything is written in a fixed order, so that equal states encode to
// equal bytes.
const stateVersion = 1

var errBadState = errors.New("riak: malformed record state")

func encodeState(s *state) []byte {
	b := make([]byte, 1, 1+64*len(s.fields))
	b[0] = stateVersion
	var field, scratch []byte // reused for each field and its parts
	for _, name := range sortedKeys(s.fields) {
		field, scratch = appendField(field[:0], scratch, name, s.fields[name])
		b = appendMessage(b, 1, field)
	}
	return b
}

// appendField appends field fs's encoding to b, using scratch (returned
// for reuse) for its nested parts.
func appendField(b, scratch []byte, name string, fs *fieldState) ([]byte, []byte) {
	b = appendString(b, 1, name)
	if fs.text != "" {
		b = appendString(b, 2, fs.text)
	}
	var flags uint64
	if fs.has {
		flags |= 1
	}
	if fs.null {
		flags |= 2
	}
	b = appendVarint(b, 3, flags)
	if fs.stamp != 0 {
		b = appendVarint(b, 4, fs.stamp)
	}
	if fs.writer != "" {
		b = appendString(b, 5, fs.writer)
	}
	for _, w := range sortedKeys(fs.counts) {
		c := fs.counts[w]
		scratch = appendString(scratch[:0], 1, w)
		scratch = appendVarint(scratch, 2, c.p)
		scratch = appendVarint(scratch, 3, c.n)
		b = appendMessage(b, 6, scratch)
	}
	for _, e := range sortedKeys(fs.elems) {
		scratch = appendString(scratch[:0], 1, e)
		for _, d := range fs.elems[e] {
			// A dot is small: its length fits one byte for any
			// realistic writer id, but the general form costs little.
			n := protowire.SizeTag(1) + protowire.SizeBytes(len(d.writer)) +
				protowire.SizeTag(2) + protowire.SizeVarint(d.n) + protowire.SizeTag(3) + protowire.SizeVarint(d.stamp)
			scratch = protowire.AppendTag(scratch, 2, protowire.BytesType)
			scratch = protowire.AppendVarint(scratch, uint64(n))
			scratch = appendString(scratch, 1, d.writer)
			scratch = appendVarint(scratch, 2, d.n)
			scratch = appendVarint(scratch, 3, d.stamp)
		}
		b = appendMessage(b, 7, scratch)
	}
	for _, w := range sortedKeys(fs.clock) {
		scratch = appendString(scratch[:0], 1, w)
		scratch = appendVarint(scratch, 2, fs.clock[w])
		b = appendMessage(b, 8, scratch)
	}
	if fs.base != 0 {
		b = appendVarint(b, 9, protowire.EncodeZigZag(fs.base))
	}
	if fs.policy != 0 {
		b = appendVarint(b, 10, uint64(fs.policy))
	}
	return b, scratch
}

// sortedKeys returns m's keys in order (nil for an empty map).
func sortedKeys[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendMessage(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

// decodeState decodes an object's value. Unknown fields are skipped (a
// newer version's additions); malformed input is an error, never a panic.
func decodeState(b []byte) (*state, error) {
	if len(b) == 0 || b[0] != stateVersion {
		return nil, fmt.Errorf("%w: version", errBadState)
	}
	s := newState()
	err := each(b[1:], func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != 1 || typ != protowire.BytesType {
			return nil
		}
		name, fs, err := decodeField(v)
		if err != nil {
			return err
		}
		s.fields[name] = fs
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func decodeField(b []byte) (string, *fieldState, error) {
	fs := &fieldState{}
	var name string
	err := each(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			name = string(v)
		case num == 2 && typ == protowire.BytesType:
			fs.text = string(v)
		case num == 3 && typ == protowire.VarintType:
			fs.has, fs.null = x&1 != 0, x&2 != 0
		case num == 4 && typ == protowire.VarintType:
			fs.stamp = x
		case num == 5 && typ == protowire.BytesType:
			fs.writer = string(v)
		case num == 9 && typ == protowire.VarintType:
			fs.base = protowire.DecodeZigZag(x)
		case num == 10 && typ == protowire.VarintType && x <= uint64(driver.MergeFlag):
			fs.policy = driver.MergePolicy(x)
		case num == 6 && typ == protowire.BytesType:
			var w string
			var c pn
			if err := each(v, func(n protowire.Number, t protowire.Type, v []byte, x uint64) error {
				switch {
				case n == 1 && t == protowire.BytesType:
					w = string(v)
				case n == 2 && t == protowire.VarintType:
					c.p = x
				case n == 3 && t == protowire.VarintType:
					c.n = x
				}
				return nil
			}); err != nil {
				return err
			}
			if fs.counts == nil {
				fs.counts = map[string]pn{}
			}
			fs.counts[w] = c
		case num == 7 && typ == protowire.BytesType:
			var e string
			var dots []dot
			if err := each(v, func(n protowire.Number, t protowire.Type, v []byte, _ uint64) error {
				switch {
				case n == 1 && t == protowire.BytesType:
					e = string(v)
				case n == 2 && t == protowire.BytesType:
					var d dot
					if err := each(v, func(n protowire.Number, t protowire.Type, v []byte, x uint64) error {
						switch {
						case n == 1 && t == protowire.BytesType:
							d.writer = string(v)
						case n == 2 && t == protowire.VarintType:
							d.n = x
						case n == 3 && t == protowire.VarintType:
							d.stamp = x
						}
						return nil
					}); err != nil {
						return err
					}
					dots = append(dots, d)
				}
				return nil
			}); err != nil {
				return err
			}
			if len(dots) == 0 {
				// Every element is held by at least one dot: merge drops
				// an element once its last dot is gone.
				return fmt.Errorf("%w: set element %q without a dot", errBadState, e)
			}
			if fs.elems == nil {
				fs.elems = map[string][]dot{}
			}
			fs.elems[e] = dots
		case num == 8 && typ == protowire.BytesType:
			var w string
			var n uint64
			if err := each(v, func(num protowire.Number, t protowire.Type, v []byte, x uint64) error {
				switch {
				case num == 1 && t == protowire.BytesType:
					w = string(v)
				case num == 2 && t == protowire.VarintType:
					n = x
				}
				return nil
			}); err != nil {
				return err
			}
			if fs.clock == nil {
				fs.clock = map[string]uint64{}
			}
			fs.clock[w] = n
		}
		return nil
	})
	return name, fs, err
}

// each calls fn for every field of the protobuf message b: its number, wire
// type, and its bytes (length-delimited) or value (varint).
func each(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", errBadState, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: %v", errBadState, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
