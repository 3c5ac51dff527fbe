package schema_test

import (
	"errors"
	"testing"

	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// FuzzCastJSON feeds arbitrary request bodies to Cast: it must never
// panic, and whatever it accepts must encode to a storable record.
func FuzzCastJSON(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Ada","age":36,"score":1.5,"admin":true,"born":"1990-05-17","tags":["a"],"avatar":"AAE=","settings":{"a":[1,2]},"nick":null}`,
		`{"age":"300"}`, `{"score":1e400}`, `{"born":"0000-01-01"}`, `[]`, `{"name":"\u0000"}`, `{"tags":"x"}`,
	} {
		f.Add([]byte(seed))
	}
	fields := []string{"name", "email", "age", "score", "admin", "born", "nick", "tags", "visits", "best", "avatar", "settings", "role"}
	f.Fuzz(func(t *testing.T, body []byte) {
		cs := schema.Cast(&Profile{}, body, fields...)
		if err := cs.Err(); err != nil && !errors.Is(err, driver.ErrInvalid) {
			t.Fatalf("error of an unknown kind: %v", err)
		}
		if !cs.Valid() {
			return
		}
		if _, err := cs.Values(); err != nil {
			t.Fatalf("a valid changeset must encode: %v", err)
		}
	})
}
