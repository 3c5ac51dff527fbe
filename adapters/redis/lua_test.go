package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/internal/valuecodec"
	"github.com/strata-go/strata/internal/valuecodec/codectest"
	"github.com/strata-go/strata/repo/driver"
)

// luaClient returns a client of the standalone test server (skipping t
// without one), closed when t ends.
func luaClient(t *testing.T) *goredis.Client {
	t.Helper()
	opts, err := goredis.ParseURL(testservers.RedisURL(t))
	require.NoError(t, err)
	c := goredis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.Ping(ctx).Err())
	return c
}

// evalShared runs body after the shared functions of the scripts (so that
// it can call their locals), with args as ARGV and no keys.
func evalShared(t *testing.T, c *goredis.Client, body string, args ...any) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return goredis.NewScript(luaShared+"\n"+body).Run(ctx, c, nil, args...).Result()
}

// evalStrings runs body, which returns a list of strings.
func evalStrings(t *testing.T, c *goredis.Client, body string, args ...any) []string {
	t.Helper()
	res, err := evalShared(t, c, body, args...)
	require.NoError(t, err)
	list, ok := res.([]any)
	require.True(t, ok, "reply %T, want a list", res)
	out := make([]string, len(list))
	for i, x := range list {
		s, ok := x.(string)
		require.True(t, ok, "element %d is %T, want a string", i, x)
		out[i] = s
	}
	return out
}

// randomScalars returns n random canonical values of kind k (not nil).
func randomScalars(r *rand.Rand, k driver.Kind, n int) []any {
	var out []any
	for len(out) < n {
		switch k {
		case driver.KindInt:
			v := int64(r.Uint64())
			out = append(out, v>>r.IntN(64)) // every number of digits
		case driver.KindTime:
			lo, hi := codectest.UTC(1, 1, 1, 0, 0, 0, 0).UnixMicro(), codectest.UTC(9999, 12, 31, 23, 59, 59, 999999).UnixMicro()
			out = append(out, time.UnixMicro(lo+r.Int64N(hi-lo+1)).UTC())
		case driver.KindFloat:
			var x float64
			switch r.IntN(3) {
			case 0:
				x = math.Float64frombits(r.Uint64())
			case 1:
				x = (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(40)-20))
			default:
				x = float64(r.Int64N(2000) - 1000)
			}
			if math.IsNaN(x) || math.IsInf(x, 0) {
				continue
			}
			out = append(out, x)
		case driver.KindString:
			var b strings.Builder
			for range r.IntN(12) {
				switch r.IntN(3) {
				case 0:
					b.WriteByte(byte(1 + r.IntN(255))) // any byte but NUL
				case 1:
					b.WriteRune(rune(0x80 + r.IntN(0x10000-0x80)))
				default:
					b.WriteByte("abc%\\\"[]{}"[r.IntN(10)])
				}
			}
			out = append(out, b.String())
		case driver.KindBool:
			out = append(out, r.IntN(2) == 0)
		}
	}
	return out
}

// luaTestValues returns, for each scalar kind, the ordered test values and
// random ones, without nil.
func luaTestValues(r *rand.Rand) map[driver.Kind][]any {
	out := map[driver.Kind][]any{}
	for k, vals := range codectest.OrderedValues() {
		for _, v := range vals {
			if v != nil {
				out[k] = append(out[k], v)
			}
		}
		out[k] = append(out[k], randomScalars(r, k, 300)...)
	}
	return out
}

func TestLuaComponentMatchesGo(t *testing.T) {
	t.Parallel()
	c := luaClient(t)
	r := rand.New(rand.NewPCG(7, 8))
	const body = `
local out = {}
for i = 2, #ARGV do out[#out + 1] = component(ARGV[1], ARGV[i]) end
return out`
	for kind, vals := range luaTestValues(r) {
		t.Run(kind.String(), func(t *testing.T) {
			kc := kindChar(kind)
			require.NotZero(t, kc)
			args := []any{string(kc)}
			for _, v := range vals {
				s, err := valuecodec.Encode(kind, v)
				require.NoError(t, err)
				args = append(args, s)
			}
			got := evalStrings(t, c, body, args...)
			require.Len(t, got, len(vals))
			for i, v := range vals {
				assert.Equal(t, fmt.Sprintf("%x", valuecodec.AppendComponent(nil, v)), fmt.Sprintf("%x", got[i]),
					"%s %#v (hash form %q)", kind, v, args[i+1])
			}
		})
	}
	// NULL, for every kind.
	for _, kc := range []string{"i", "f", "s", "b"} {
		res, err := evalShared(t, c, `return component(ARGV[1], nil)`, kc)
		require.NoError(t, err)
		assert.Equal(t, string(valuecodec.AppendComponent(nil, nil)), res, "NULL of kind %s", kc)
	}
	_, err := evalShared(t, c, `return component("x", "1")`)
	assert.ErrorContains(t, err, "unknown index kind")
}

func TestLuaSuccessorAndSkipMatchGo(t *testing.T) {
	t.Parallel()
	c := luaClient(t)
	r := rand.New(rand.NewPCG(9, 10))
	// Lua successor against valuecodec.Successor, on components and on strings ending in 0xff.
	var ps []string
	for _, vals := range luaTestValues(r) {
		for _, v := range vals[:20] {
			ps = append(ps, string(valuecodec.AppendComponent(nil, v)))
		}
	}
	ps = append(ps, "a\xff", "a\xff\xff", "\xfe\xff", "x")
	args := make([]any, len(ps))
	for i, p := range ps {
		args[i] = p
	}
	got := evalStrings(t, c, `
local out = {}
for i = 1, #ARGV do out[#out + 1] = successor(ARGV[i]) or "<nil>" end
return out`, args...)
	require.Len(t, got, len(ps))
	for i, p := range ps {
		assert.Equal(t, fmt.Sprintf("%x", valuecodec.Successor([]byte(p))), fmt.Sprintf("%x", got[i]), "valuecodec.Successor(%x)", p)
	}
	res, err := evalShared(t, c, `return successor(ARGV[1]) == nil and 1 or 0`, "\xff\xff")
	require.NoError(t, err)
	assert.Equal(t, int64(1), res, "valuecodec.Successor of all 0xff is nil")

	// skip walks a member as valuecodec.ComponentEnd does.
	for kind, vals := range luaTestValues(r) {
		var m []byte
		var ends []string
		for i, v := range vals {
			if i%5 == 0 {
				m = valuecodec.AppendComponent(m, nil)
				ends = append(ends, strconv.Itoa(len(m)+1))
			}
			m = valuecodec.AppendComponent(m, v)
			ends = append(ends, strconv.Itoa(len(m)+1)) // Lua counts from 1
		}
		got := evalStrings(t, c, `
local m, out, i = ARGV[1], {}, 1
while i <= #m do
  i = skip(m, i)
  out[#out + 1] = tostring(i)
end
return out`, string(m))
		assert.Equal(t, ends, got, "%s", kind)
		var goEnds []string
		for i := 0; i < len(m); {
			i = valuecodec.ComponentEnd(m, i)
			require.Positive(t, i)
			goEnds = append(goEnds, strconv.Itoa(i+1))
		}
		assert.Equal(t, goEnds, got, "%s: Lua skip vs Go valuecodec.ComponentEnd", kind)
	}
}

func TestLuaAdd(t *testing.T) {
	t.Parallel()
	c := luaClient(t)
	r := rand.New(rand.NewPCG(11, 12))
	special := []int64{0, 1, 2, 9, 10, 11, 99, 100, 123456789, 999999999, 1000000000, 1000000001, 1999999999, 2000000000,
		9999999999, 10000000000, 123456789012, 999999999999999999, 1000000000000000000, 1000000000000000001,
		math.MaxInt64 / 2, math.MaxInt64 - 1000000000, math.MaxInt64 - 999999999, math.MaxInt64 - 1, math.MaxInt64,
		math.MaxInt32, math.MaxInt32 + 1}
	var nums []int64
	for _, n := range special {
		nums = append(nums, n, -n)
	}
	nums = append(nums, math.MinInt64, math.MinInt64+1, math.MinInt64+1000000000)
	type pair struct{ a, b int64 }
	var pairs []pair
	for _, a := range nums {
		for _, b := range nums {
			pairs = append(pairs, pair{a, b})
		}
	}
	for range 3000 {
		a, b := int64(r.Uint64())>>r.IntN(64), int64(r.Uint64())>>r.IntN(64)
		pairs = append(pairs, pair{a, b}, pair{a, -b})
	}
	args := make([]any, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, strconv.FormatInt(p.a, 10), strconv.FormatInt(p.b, 10))
	}
	got := evalStrings(t, c, `
local out = {}
for i = 1, #ARGV, 2 do out[#out + 1] = add(ARGV[i], ARGV[i + 1]) or "overflow" end
return out`, args...)
	require.Len(t, got, len(pairs))
	overflows := 0
	for i, p := range pairs {
		sum := new(big.Int).Add(big.NewInt(p.a), big.NewInt(p.b))
		want := sum.String()
		if !sum.IsInt64() {
			want = "overflow"
			overflows++
		}
		assert.Equal(t, want, got[i], "add(%d, %d)", p.a, p.b)
	}
	assert.Positive(t, overflows, "some pairs overflow")
}

func TestLuaGreater(t *testing.T) {
	t.Parallel()
	c := luaClient(t)
	r := rand.New(rand.NewPCG(13, 14))
	const body = `
local out = {}
for i = 2, #ARGV, 2 do out[#out + 1] = greater(ARGV[1], ARGV[i], ARGV[i + 1]) and 1 or 0 end
return out`
	for kind, vals := range luaTestValues(r) {
		t.Run(kind.String(), func(t *testing.T) {
			// Every pair of the first values, and random pairs of all.
			type pair struct{ a, b any }
			var pairs []pair
			head := vals[:min(len(vals), 40)]
			for _, a := range head {
				for _, b := range head {
					pairs = append(pairs, pair{a, b})
				}
			}
			for range 1000 {
				pairs = append(pairs, pair{vals[r.IntN(len(vals))], vals[r.IntN(len(vals))]})
			}
			args := []any{string(kindChar(kind))}
			for _, p := range pairs {
				sa, err := valuecodec.Encode(kind, p.a)
				require.NoError(t, err)
				sb, err := valuecodec.Encode(kind, p.b)
				require.NoError(t, err)
				args = append(args, sa, sb)
			}
			res, err := evalShared(t, c, body, args...)
			require.NoError(t, err)
			list, ok := res.([]any)
			require.True(t, ok)
			require.Len(t, list, len(pairs))
			for i, p := range pairs {
				want := int64(0)
				if driver.Compare(p.a, p.b) > 0 {
					want = 1
				}
				assert.Equal(t, want, list[i], "greater(%s, %#v, %#v)", kind, p.a, p.b)
			}
		})
	}
}

// luaChange applies change op with value v to field "f" of a record whose
// "f" is cur (nil: absent). It returns the field's new hash form (nil:
// absent), or the error message change returned.
func luaChange(t *testing.T, c *goredis.Client, cur *string, op, kind, v string) (next *string, errMsg string) {
	t.Helper()
	has, curArg := "0", ""
	if cur != nil {
		has, curArg = "1", *cur
	}
	res, err := evalShared(t, c, `
local h, sets, dels = {}, {}, {}
if ARGV[1] == "1" then h["f"] = ARGV[2] end
local err = change(h, sets, dels, ARGV[3], "f", ARGV[4], ARGV[5])
if err then return {"err", err} end
if h["f"] == nil then
  if sets["f"] ~= nil then return {"bad", "a NULL result must not be set"} end
  if ARGV[1] == "1" and dels[1] ~= "f" then return {"bad", "a NULL result must delete the field"} end
  return {"nil"}
end
if sets["f"] ~= h["f"] or #dels ~= 0 then return {"bad", "sets must hold the new value"} end
return {"ok", h["f"]}`, has, curArg, op, kind, v)
	require.NoError(t, err)
	list, ok := res.([]any)
	require.True(t, ok, "reply %T", res)
	require.NotEmpty(t, list)
	switch list[0] {
	case "ok":
		s := list[1].(string)
		return &s, ""
	case "nil":
		return nil, ""
	case "err":
		return nil, list[1].(string)
	}
	t.Fatalf("change: %v", list)
	return nil, ""
}

func TestLuaChangeLists(t *testing.T) {
	t.Parallel()
	c := luaClient(t)
	lists := [][]string{nil, {}, {"a"}, {"b", "a"}, {"a", "b", "c"}, {"x/y", "é", "世界", "", "1", `"q"`, `\`, "<&>"}}
	elems := [][]string{{}, {"a"}, {"c", "a"}, {"a", "a"}, {"z", "y", "z", "b"}, {"x/y", "", "1", "2"}, {"é", "🎉"}}
	for _, cur := range lists {
		for _, v := range elems {
			for _, op := range []driver.ChangeOp{driver.Add, driver.Remove} {
				name := fmt.Sprintf("%s %q to %q", op, v, cur)
				var curForm *string
				var old any
				if cur != nil {
					s, err := valuecodec.Encode(driver.KindStrings, cur)
					require.NoError(t, err)
					curForm, old = &s, cur
				}
				vForm, err := valuecodec.Encode(driver.KindStrings, v)
				require.NoError(t, err)
				luaOp := "a"
				if op == driver.Remove {
					luaOp = "r"
				}
				next, msg := luaChange(t, c, curForm, luaOp, "", vForm)
				require.Empty(t, msg, name)

				want, err := driver.ApplyChange(old, op, v)
				require.NoError(t, err)
				if want == nil {
					assert.Nil(t, next, "%s: want NULL", name)
					continue
				}
				require.NotNil(t, next, "%s: got NULL", name)
				wantList := want.([]string)
				if len(wantList) == 0 {
					assert.Equal(t, "[]", *next, "%s: an empty list", name)
				}
				got, err := valuecodec.Decode(driver.KindStrings, *next)
				require.NoError(t, err, "%s: %q", name, *next)
				if wantList == nil {
					wantList = []string{}
				}
				assert.Equal(t, wantList, got, "%s: hash form %q", name, *next)
			}
		}
	}
}

func TestLuaChangeScalars(t *testing.T) {
	t.Parallel()
	c := luaClient(t)
	str := func(s string) *string { return &s }
	cases := []struct {
		name      string
		cur       *string
		op, kind  string
		v         string
		want      *string
		wantError string
	}{
		{name: "set", cur: str("1"), op: "s", kind: "i", v: "5", want: str("5")},
		{name: "set absent", op: "s", kind: "s", v: "x", want: str("x")},
		{name: "delete", cur: str("1"), op: "d", kind: "i"},
		{name: "increment", cur: str("41"), op: "i", kind: "i", v: "1", want: str("42")},
		{name: "increment NULL counts from 0", op: "i", kind: "i", v: "-7", want: str("-7")},
		{name: "increment to 0", cur: str("-1000000000"), op: "i", kind: "i", v: "1000000000", want: str("0")},
		{name: "increment overflow", cur: str("9223372036854775807"), op: "i", kind: "i", v: "1", wantError: "overflow:f"},
		{name: "increment underflow", cur: str("-9223372036854775808"), op: "i", kind: "i", v: "-1", wantError: "overflow:f"},
		{name: "max of NULL", op: "m", kind: "i", v: "-5", want: str("-5")},
		{name: "max greater int", cur: str("9"), op: "m", kind: "i", v: "10", want: str("10")},
		{name: "max smaller int", cur: str("10"), op: "m", kind: "i", v: "9", want: str("10")},
		{name: "max negative int", cur: str("-10"), op: "m", kind: "i", v: "-9", want: str("-9")},
		{name: "max float", cur: str("1e-07"), op: "m", kind: "f", v: "2", want: str("2")},
		{name: "max float negative", cur: str("-0.5"), op: "m", kind: "f", v: "-1", want: str("-0.5")},
		{name: "max string", cur: str("ab"), op: "m", kind: "s", v: "b", want: str("b")},
		{name: "max string prefix", cur: str("ab"), op: "m", kind: "s", v: "a", want: str("ab")},
		{name: "max bool", cur: str("0"), op: "m", kind: "b", v: "1", want: str("1")},
		{name: "unknown", cur: str("1"), op: "?", kind: "i", v: "1", wantError: "unknown change"},
	}
	for _, tc := range cases {
		next, msg := luaChange(t, c, tc.cur, tc.op, tc.kind, tc.v)
		if tc.wantError != "" {
			assert.Contains(t, msg, tc.wantError, tc.name)
			continue
		}
		require.Empty(t, msg, tc.name)
		if tc.want == nil {
			assert.Nil(t, next, tc.name)
		} else if assert.NotNil(t, next, tc.name) {
			assert.Equal(t, *tc.want, *next, tc.name)
		}
	}
}

// The JSON the Lua side writes must be what Go reads back, also for the
// cases where cjson and encoding/json differ in form.
func TestLuaChangeListForm(t *testing.T) {
	t.Parallel()
	c := luaClient(t)
	next, msg := luaChange(t, c, nil, "a", "", `["a/b","\u00e9","<&>"]`)
	require.Empty(t, msg)
	require.NotNil(t, next)
	got, err := valuecodec.Decode(driver.KindStrings, *next)
	require.NoError(t, err)
	assert.Equal(t, []string{"a/b", "é", "<&>"}, got)
	var raw []any
	require.NoError(t, json.Unmarshal([]byte(*next), &raw), "%q is a JSON array", *next)

	next, msg = luaChange(t, c, nil, "r", "", `["a"]`)
	require.Empty(t, msg)
	assert.Nil(t, next, "remove from NULL leaves NULL")

	next, msg = luaChange(t, c, nil, "a", "", `[]`)
	require.Empty(t, msg)
	if assert.NotNil(t, next, "add to NULL creates the list") {
		assert.Equal(t, "[]", *next)
	}
}
