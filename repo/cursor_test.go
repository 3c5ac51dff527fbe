package repo

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

type cursorDoc struct {
	ID    int64
	Name  string
	Score float64
	At    time.Time
	On    bool
}

// FuzzCursor: a cursor is outside input; decoding must never panic, must
// fail only with ErrInvalid, and must round-trip what it accepts.
func FuzzCursor(f *testing.F) {
	s, err := schema.Of[cursorDoc]()
	if err != nil {
		f.Fatal(err)
	}
	dq := &driver.Query{Order: []driver.Order{{Field: 1}, {Field: 2, Desc: true}, {Field: 3}, {Field: 4}, {Field: 0}},
		Filters: []driver.Filter{{Field: 1, Op: driver.Prefix, Value: "x"}}}
	good := encodeCursor(s, dq, driver.Record{Values: []any{int64(1) << 60, "x", 1.5, time.Unix(1, 1000).UTC(), true}})
	for _, seed := range []string{good, "", "WzFd", "W251bGwsbnVsbCxudWxsLG51bGwsbnVsbF0", "!!"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, c string) {
		vals, err := decodeCursor(s, dq, c)
		if err != nil {
			if !errors.Is(err, driver.ErrInvalid) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		again, err := decodeCursor(s, dq, encodeCursor(s, dq, driver.Record{Values: reorder(dq.Order, vals)}))
		if err != nil {
			t.Fatalf("re-encoded cursor does not decode: %v", err)
		}
		for i := range vals {
			if driver.Compare(vals[i], again[i]) != 0 {
				t.Fatalf("value %d: %v became %v", i, vals[i], again[i])
			}
		}
	})
}

// reorder places cursor values at their fields' positions in a record.
func reorder(order []driver.Order, vals []any) []any {
	rec := make([]any, 5)
	for i, o := range order {
		rec[o.Field] = vals[i]
	}
	return rec
}

// TestCursorValues: a cursor with the right fingerprint but values that
// break the rules of their fields is refused like any bad input.
func TestCursorValues(t *testing.T) {
	s, err := schema.Of[cursorDoc]()
	if err != nil {
		t.Fatal(err)
	}
	dq := &driver.Query{Order: []driver.Order{{Field: 1}, {Field: 3}, {Field: 4}, {Field: 0}}}
	forge := func(keys string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(`{"q":"` + fingerprint(s, dq) + `","k":` + keys + `}`))
	}
	if _, err := decodeCursor(s, dq, forge(`["a","2020-01-01T00:00:00Z",true,1]`)); err != nil {
		t.Fatalf("a well-formed cursor: %v", err)
	}
	for name, keys := range map[string]string{
		"NUL in a string":   `["a\u0000","2020-01-01T00:00:00Z",true,1]`,
		"year 0":            `["a","0000-01-01T00:00:00Z",true,1]`,
		"number for string": `[1,"2020-01-01T00:00:00Z",true,1]`,
		"string for int":    `["a","2020-01-01T00:00:00Z",true,"1"]`,
		"float for int":     `["a","2020-01-01T00:00:00Z",true,1.5]`,
		"number for bool":   `["a","2020-01-01T00:00:00Z",1,1]`,
		"bad time":          `["a","yesterday",true,1]`,
		"too few":           `["a"]`,
		"trailing data":     `["a","2020-01-01T00:00:00Z",true,1]}{`,
	} {
		if _, err := decodeCursor(s, dq, forge(keys)); !errors.Is(err, driver.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}
