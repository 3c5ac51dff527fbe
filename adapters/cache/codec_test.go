package cache

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"
)

func codecCollection(t testing.TB) *driver.Collection {
	c, err := driver.NewCollection("things", []driver.Field{
		{Name: "id", Kind: driver.KindInt, Bits: 64},
		{Name: "name", Kind: driver.KindString, Nullable: true},
		{Name: "f", Kind: driver.KindFloat, Bits: 64},
		{Name: "ok", Kind: driver.KindBool},
		{Name: "at", Kind: driver.KindTime},
		{Name: "raw", Kind: driver.KindBytes, Nullable: true},
		{Name: "tags", Kind: driver.KindStrings},
		{Name: "doc", Kind: driver.KindJSON, Nullable: true},
	}, "id", "", nil, driver.AnyConsistency)
	require.NoError(t, err)
	return c
}

func TestEntryRoundTrip(t *testing.T) {
	c := codecCollection(t)
	at := time.Date(2026, 11, 24, 10, 0, 0, 123000, time.UTC)
	for _, e := range []entry{
		{rec: driver.Record{Values: []any{int64(1), "a:b", 1.5, true, at, []byte{0, 1}, []string{"x", ""}, json.RawMessage(`{"k":1}`)}, Meta: []byte("vclock")}},
		{rec: driver.Record{Values: []any{int64(-9), nil, 0.0, false, at, nil, []string{}, nil}}},
		{missing: true},
	} {
		v, err := encodeEntry(c, e, 42)
		require.NoError(t, err)
		got, epoch, err := decodeEntry(c, v)
		require.NoError(t, err)
		require.Equal(t, uint64(42), epoch)
		require.Equal(t, e, got)
	}
	// Another shape of the collection is a miss, not a failure.
	v, err := encodeEntry(c, entry{rec: driver.Record{Values: []any{int64(1), nil, 0.0, false, at, nil, []string{}, nil}}}, 1)
	require.NoError(t, err)
	other, err := driver.NewCollection("things", append([]driver.Field(nil), c.Fields[:7]...), "id", "", nil, driver.AnyConsistency)
	require.NoError(t, err)
	_, _, err = decodeEntry(other, v)
	require.ErrorIs(t, err, errShape)
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range []message{
		{kind: msgKeys, origin: "n1", seq: 7, coll: "items", keys: []l1Key{{coll: "items", i: -3}, {coll: "items", s: "k:1"}}},
		{kind: msgFlush, origin: "n2", seq: 1 << 40, coll: "items", epoch: 9},
		{kind: msgFlushAll, origin: "n3", seq: 2},
	} {
		got, err := decodeMessage(m.encode())
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
	for _, bad := range []string{"", "SC1", "SC1x", "XX1k", "SC1k\x02n1\x01\x05items\x00\x05", "SC1f\x02n1\x01\x00\x00\x00"} {
		_, err := decodeMessage([]byte(bad))
		require.ErrorIs(t, err, errMessage, "%q", bad)
	}
}

// FuzzDecodeMessage: bus messages come from other processes; decoding
// never panics, and what decodes encodes back to the same message.
func FuzzDecodeMessage(f *testing.F) {
	f.Add(message{kind: msgKeys, origin: "n", seq: 1, coll: "c", keys: []l1Key{{coll: "c", s: "k"}, {coll: "c", i: 5}}}.encode())
	f.Add(message{kind: msgFlush, origin: "n", seq: 2, coll: "c", epoch: 3}.encode())
	f.Add(message{kind: msgFlushAll, origin: "n", seq: 3}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			return
		}
		again, err := decodeMessage(m.encode())
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		require.Equal(t, m, again)
	})
}

// FuzzDecodeEntry: L2 values may be corrupt or foreign; decoding never
// panics, and what decodes is canonical and encodes back the same.
func FuzzDecodeEntry(f *testing.F) {
	c := codecCollection(f)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	for _, e := range []entry{
		{rec: driver.Record{Values: []any{int64(1), "a", 1.5, true, at, []byte{1}, []string{"x"}, json.RawMessage(`[1]`)}, Meta: []byte{9}}},
		{missing: true},
	} {
		v, err := encodeEntry(c, e, 3)
		require.NoError(f, err)
		f.Add(v)
	}
	f.Add("L123")
	f.Fuzz(func(t *testing.T, v string) {
		e, epoch, err := decodeEntry(c, v)
		if err != nil {
			return
		}
		if !e.missing {
			for i, x := range e.rec.Values {
				if x != nil && !driver.Canonical(c.Fields[i].Kind, x) {
					t.Fatalf("field %s decoded to a non-canonical %T %v", c.Fields[i].Name, x, x)
				}
			}
		}
		again, err := encodeEntry(c, e, epoch)
		require.NoError(t, err)
		e2, epoch2, err := decodeEntry(c, again)
		require.NoError(t, err)
		require.Equal(t, epoch, epoch2)
		require.Equal(t, e, e2)
	})
}
