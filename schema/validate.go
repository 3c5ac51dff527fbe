package schema

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/strata-go/strata/repo/driver"
)

// Validations other than ValidateRequired check a field only when the
// changeset changes it (with Put or Cast), as Ecto's do: a value already
// stored was validated when it was written.

// ValidateRequired adds "can't be blank" for each field whose value (the
// change, else the data's) is missing: nil, a string of only white space,
// an empty slice, a zero time, a value cast from null or an empty string,
// or — for a non-pointer number or bool, which cannot be nil — a zero
// value that no change set.
func (cs *Changeset) ValidateRequired(fields ...string) *Changeset {
	for _, name := range fields {
		f := cs.field(name)
		if f == nil {
			return cs
		}
		if cs.blank(f) {
			cs.addError(name, "can't be blank", "required")
		}
	}
	return cs
}

func (cs *Changeset) blank(f *Field) bool {
	if cs.hasError(f.Name) {
		return false
	}
	if cs.empty[f] {
		return true
	}
	var v any
	if c := cs.lastSet(f); c != nil {
		v = c.Value
		if v == nil {
			return true
		}
	} else {
		if cs.Changed(f.Name) {
			return false // a merge operation supplies it
		}
		v = cs.current(f)
	}
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []byte:
		return len(x) == 0
	case []string:
		return len(x) == 0
	case time.Time:
		return x.IsZero()
	case int64, float64, bool:
		return cs.lastSet(f) == nil && v == f.Zero()
	}
	return false
}

func (cs *Changeset) hasError(field string) bool {
	return slices.ContainsFunc(cs.errs, func(e FieldError) bool { return e.Field == field })
}

// changed returns the value a Set change gives the field, if any.
func (cs *Changeset) changed(name string) (any, bool) {
	f := cs.field(name)
	if f == nil {
		return nil, false
	}
	c := cs.lastSet(f)
	if c == nil || c.Value == nil {
		return nil, false
	}
	return c.Value, true
}

// ValidateLength checks the length of a changed string (in characters),
// []byte (in bytes) or []string (in elements): at least min and, if max
// > 0, at most max.
func (cs *Changeset) ValidateLength(field string, min, max int) *Changeset {
	v, ok := cs.changed(field)
	if !ok {
		return cs
	}
	var n int
	unit := "character(s)"
	switch x := v.(type) {
	case string:
		n = utf8.RuneCountInString(x)
	case []byte:
		n, unit = len(x), "byte(s)"
	case []string:
		n, unit = len(x), "item(s)"
	default:
		cs.err = fmt.Errorf("%w: ValidateLength on %s, which has no length", driver.ErrInvalid, cs.s.byName[field])
		return cs
	}
	switch {
	case n < min:
		cs.addError(field, fmt.Sprintf("should be at least %d %s", min, unit), "length")
	case max > 0 && n > max:
		cs.addError(field, fmt.Sprintf("should be at most %d %s", max, unit), "length")
	}
	return cs
}

// ValidateFormat checks that a changed string matches re.
func (cs *Changeset) ValidateFormat(field string, re *regexp.Regexp) *Changeset {
	if re == nil {
		if cs.err == nil {
			cs.err = fmt.Errorf("%w: ValidateFormat with a nil regexp", driver.ErrInvalid)
		}
		return cs
	}
	v, ok := cs.changed(field)
	if !ok {
		return cs
	}
	if s, isStr := v.(string); !isStr || !re.MatchString(s) {
		cs.addError(field, "has invalid format", "format")
	}
	return cs
}

// ValidateInclusion checks that a changed value is one of allowed (Go
// values of the field's type, compared after conversion).
func (cs *Changeset) ValidateInclusion(field string, allowed ...any) *Changeset {
	v, ok := cs.changed(field)
	if !ok {
		return cs
	}
	f := cs.s.byName[field]
	for _, a := range allowed {
		if c, err := f.Canonical(a); err == nil && same(c, v) {
			return cs
		}
	}
	cs.addError(field, "is invalid", "inclusion")
	return cs
}

// NumberCheck is a check of ValidateNumber.
type NumberCheck struct {
	op    string
	bound float64
}

// GreaterThan, AtLeast, LessThan, AtMost and EqualTo are the checks of
// ValidateNumber.
func GreaterThan(x float64) NumberCheck { return NumberCheck{">", x} }

// AtLeast: the number must be >= x.
func AtLeast(x float64) NumberCheck { return NumberCheck{">=", x} }

// LessThan: the number must be < x.
func LessThan(x float64) NumberCheck { return NumberCheck{"<", x} }

// AtMost: the number must be <= x.
func AtMost(x float64) NumberCheck { return NumberCheck{"<=", x} }

// EqualTo: the number must be == x.
func EqualTo(x float64) NumberCheck { return NumberCheck{"==", x} }

// ValidateNumber checks a changed integer or float against every check.
func (cs *Changeset) ValidateNumber(field string, checks ...NumberCheck) *Changeset {
	v, ok := cs.changed(field)
	if !ok {
		return cs
	}
	var x float64
	switch n := v.(type) {
	case int64:
		x = float64(n)
	case float64:
		x = n
	default:
		cs.err = fmt.Errorf("%w: ValidateNumber on %s, which is not a number", driver.ErrInvalid, cs.s.byName[field])
		return cs
	}
	for _, c := range checks {
		var ok bool
		var msg string
		switch c.op {
		case ">":
			ok, msg = x > c.bound, "must be greater than %v"
		case ">=":
			ok, msg = x >= c.bound, "must be greater than or equal to %v"
		case "<":
			ok, msg = x < c.bound, "must be less than %v"
		case "<=":
			ok, msg = x <= c.bound, "must be less than or equal to %v"
		case "==":
			ok, msg = x == c.bound, "must be equal to %v"
		default:
			cs.err = fmt.Errorf("%w: ValidateNumber with a zero NumberCheck; use GreaterThan, AtLeast…", driver.ErrInvalid)
			return cs
		}
		if !ok {
			cs.addError(field, fmt.Sprintf(msg, c.bound), "number")
			return cs
		}
	}
	return cs
}

// Validate runs fn on a changed field's canonical value (int64 for every
// integer, float64 for floats, string, bool, time.Time, []byte, []string,
// json.RawMessage, or nil); a non-nil error becomes a field error with the
// error's text as message and rule as its rule.
func (cs *Changeset) Validate(field, rule string, fn func(v any) error) *Changeset {
	f := cs.field(field)
	if f == nil {
		return cs
	}
	c := cs.lastSet(f)
	if c == nil {
		return cs
	}
	if err := fn(c.Value); err != nil {
		cs.addError(field, err.Error(), rule)
	}
	return cs
}
