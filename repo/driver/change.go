package driver

import (
	"fmt"
	"slices"
)

// ApplyChange returns the result of applying op with value v to the
// canonical value old, by the rules of Update (an increment that
// overflows int64 is an error wrapping ErrInvalid). It is the
// reference semantics of a change.
func ApplyChange(old any, op ChangeOp, v any) (any, error) {
	switch op {
	case Increment:
		n, _ := old.(int64)
		d, _ := v.(int64)
		sum := n + d
		if (d > 0 && sum < n) || (d < 0 && sum > n) {
			return nil, fmt.Errorf("%w: %d%+d overflows int64", ErrInvalid, n, d)
		}
		return sum, nil
	case Add:
		cur, _ := old.([]string)
		add, _ := v.([]string)
		out := slices.Clone(cur)
		for _, e := range add {
			if !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
		return out, nil
	case Remove:
		if old == nil {
			return nil, nil
		}
		cur, _ := old.([]string)
		rm, _ := v.([]string)
		return slices.DeleteFunc(slices.Clone(cur), func(e string) bool { return slices.Contains(rm, e) }), nil
	case SetMax:
		if old == nil || Compare(v, old) > 0 {
			return v, nil
		}
		return old, nil
	}
	return v, nil
}
