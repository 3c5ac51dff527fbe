package redis

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/strata-go/strata/internal/valuecodec"
	"github.com/strata-go/strata/repo/driver"
)

// entry is one record a scan read, with its index member and its "$rev".
type entry struct {
	member string
	rec    driver.Record
	rev    string
}

// stream reads one range of one shard's index, a batch at a time.
type stream struct {
	shard      string
	start, end string // ZRANGE BYLEX bounds, in the order the call takes them
	buf        []entry
	done       bool
}

// scan is one query's read: its plan, streams and what to fetch.
type scan struct {
	a       *Adapter
	col     *collection
	q       *driver.Query
	p       plan
	l       *layout
	streams []*stream
	batch   int
	names   []string // the hash fields to read (nil: all)
	pos     []int    // their positions in Fields (-1 for "$rev" and "$exp")
	keyAt   int      // the position of the key in names
	expAt   int      // the position of "$exp" in names, or -1
}

// newScan plans q. withRev also reads each record's "$rev".
func (a *Adapter) newScan(ctx context.Context, c *driver.Collection, q *driver.Query, withRev bool) (*scan, error) {
	col, err := a.collectionOf(c)
	if err != nil {
		return nil, err
	}
	l, err := a.layoutOf(ctx, col, false)
	if err != nil {
		return nil, err
	}
	if q == nil {
		q = &driver.Query{}
	}
	if err := driver.CheckQuery(c, q); err != nil {
		return nil, err
	}
	s := &scan{a: a, col: col, q: q, p: planQuery(col, q), l: l, batch: 256}
	if s.p.native && s.p.exact && q.Limit > 0 {
		s.batch = min(max(q.Offset+q.Limit, 1), 1024)
	}
	if q.Fields != nil {
		need := slices.Clone(q.Fields)
		need = append(need, s.p.fields...) // to check the member
		for _, f := range q.Filters {
			need = append(need, f.Field)
		}
		for _, o := range q.Order {
			need = append(need, o.Field)
		}
		slices.Sort(need)
		for _, i := range slices.Compact(need) {
			s.names = append(s.names, c.Fields[i].Name)
			s.pos = append(s.pos, i)
		}
		if withRev {
			s.names = append(s.names, revField)
			s.pos = append(s.pos, -1)
		}
		s.expAt = -1
		if col.ttl > 0 {
			s.expAt = len(s.names)
			s.names = append(s.names, expField)
			s.pos = append(s.pos, -1)
		}
		s.keyAt = slices.Index(s.pos, c.Key)
	}
	for _, r := range s.p.ranges {
		shards := l.tags
		if r.pk != "" {
			shards = []string{l.shardOf(r.pk)}
		}
		for _, shard := range shards {
			st := &stream{shard: shard, start: "[" + string(r.lo), end: "+"}
			if len(r.lo) == 0 {
				st.start = "-"
			}
			if r.hi != nil {
				st.end = "(" + string(r.hi)
			}
			if s.p.desc {
				st.start, st.end = st.end, st.start
			}
			s.streams = append(s.streams, st)
		}
	}
	return s, nil
}

// fetch reads the next batch of each stream: the members (ZRANGE BYLEX,
// one pipeline), then their records (HGETALL, or HMGET of the fields the
// query needs, one pipeline). The two steps are not atomic: a record
// deleted in between is skipped, and so is one whose indexed fields
// changed (its member is not the one read), so that no record is returned
// twice; a record moved by a concurrent write may be missed, as a SCAN may
// miss it.
func (s *scan) fetch(ctx context.Context, sts []*stream) error {
	zs := make([]*goredis.StringSliceCmd, len(sts))
	_, err := s.a.client.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i, st := range sts {
			zs[i] = pipe.ZRangeArgs(ctx, goredis.ZRangeArgs{
				Key: st.shard + s.p.suffix, Start: st.start, Stop: st.end,
				ByLex: true, Rev: s.p.desc, Count: int64(s.batch),
			})
		}
		return nil
	})
	if err != nil {
		return err
	}
	type read struct {
		st     *stream
		member string
		all    *goredis.MapStringStringCmd
		some   *goredis.SliceCmd
	}
	var reads []read
	var now *goredis.TimeCmd
	_, err = s.a.client.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i, st := range sts {
			members := zs[i].Val()
			st.done = len(members) < s.batch
			if n := len(members); n > 0 {
				st.start = "(" + members[n-1]
			}
			for _, m := range members {
				pk, ok := s.keyOf(m)
				if !ok {
					return fmt.Errorf("redis: %s: malformed index entry %q", s.col.Name, m)
				}
				r := read{st: st, member: m}
				key := st.shard + ":r:" + pk
				if s.names == nil {
					r.all = pipe.HGetAll(ctx, key)
				} else {
					r.some = pipe.HMGet(ctx, key, s.names...)
				}
				reads = append(reads, r)
			}
		}
		if s.col.ttl > 0 && len(reads) > 0 {
			now = pipe.Time(ctx)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var scratch []byte
	key := s.col.Fields[s.col.Key].Name
	for _, r := range reads {
		var rec driver.Record
		var rev, exp string
		var err error
		if r.all != nil {
			h := r.all.Val()
			if _, ok := h[key]; !ok {
				continue // deleted meanwhile
			}
			exp = h[expField]
			rec, rev, err = decodeMap(s.col.Collection, h)
		} else {
			vals := r.some.Val()
			if len(vals) != len(s.names) || vals[s.keyAt] == nil {
				continue // deleted meanwhile
			}
			if s.expAt >= 0 {
				exp, _ = vals[s.expAt].(string)
			}
			rec, rev, err = decodeSome(s.col.Collection, s.names, s.pos, vals)
		}
		if err != nil {
			return err
		}
		if now != nil && exp != "" {
			if ms, err := strconv.ParseInt(exp, 10, 64); err == nil && ms <= now.Val().UnixMilli() {
				continue // expired
			}
		}
		if scratch = s.memberOf(scratch[:0], rec); string(scratch) != r.member {
			continue // written meanwhile: it belongs elsewhere in the index
		}
		r.st.buf = append(r.st.buf, entry{member: r.member, rec: rec, rev: rev})
	}
	return nil
}

// keyOf returns the encoded primary key at the end of index member m.
func (s *scan) keyOf(m string) (string, bool) {
	i := 0
	for range s.p.nfields {
		if i = valuecodec.ComponentEnd([]byte(m), i); i < 0 {
			return "", false
		}
	}
	return m[i:], i < len(m)
}

// memberOf appends to m the index member of rec as the scripts make it
// (rec holds NULL, or the zero value of a field that is not nullable, for
// a field absent from the hash, as the scripts' tuples do).
func (s *scan) memberOf(m []byte, rec driver.Record) []byte {
	for _, f := range s.p.fields {
		m = valuecodec.AppendComponent(m, rec.Values[f])
	}
	return m
}

// each calls fn with the records of the query, in q.Order, after the
// filters, the cursor, the offset and the limit, until fn returns false.
func (s *scan) each(ctx context.Context, fn func(entry) bool) error {
	if err := s.fetch(ctx, s.streams); err != nil {
		return err
	}
	q := s.q
	match := func(e entry) bool {
		for _, f := range q.Filters {
			if !f.Match(e.rec.Values[f.Field]) {
				return false
			}
		}
		return q.After == nil || q.AfterCursor(e.rec.Values)
	}
	skip, n := q.Offset, 0
	emit := func(e entry) bool {
		if skip > 0 {
			skip--
			return true
		}
		if !fn(e) {
			return false
		}
		n++
		return q.Limit == 0 || n < q.Limit
	}
	if q.Limit < 0 {
		return nil
	}
	if !s.p.native {
		var all []entry
		err := s.merge(ctx, func(e entry) bool {
			if match(e) {
				all = append(all, e)
			}
			return true
		})
		if err != nil {
			return err
		}
		slices.SortStableFunc(all, func(x, y entry) int {
			for _, o := range q.Order {
				c := driver.Compare(x.rec.Values[o.Field], y.rec.Values[o.Field])
				if o.Desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
		for _, e := range all {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !emit(e) {
				break
			}
		}
		return nil
	}
	return s.merge(ctx, func(e entry) bool { return !match(e) || emit(e) })
}

// merge calls fn with the entries of every stream in member order
// (descending if the plan says so), fetching batches as streams run dry.
func (s *scan) merge(ctx context.Context, fn func(entry) bool) error {
	h := &streamHeap{desc: s.p.desc}
	for _, st := range s.streams {
		if err := s.refill(ctx, st); err != nil {
			return err
		}
		if len(st.buf) > 0 {
			h.streams = append(h.streams, st)
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		st := h.streams[0]
		e := st.buf[0]
		st.buf = st.buf[1:]
		if !fn(e) {
			return nil
		}
		if err := s.refill(ctx, st); err != nil {
			return err
		}
		if len(st.buf) == 0 {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
	}
	return nil
}

// refill fetches batches of st while its buffer is empty and it has more:
// a batch may yield no record (all deleted, rewritten or expired since
// their members were read) though the range goes on.
func (s *scan) refill(ctx context.Context, st *stream) error {
	for len(st.buf) == 0 && !st.done {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.fetch(ctx, []*stream{st}); err != nil {
			return err
		}
	}
	return nil
}

// streamHeap orders streams by their next member.
type streamHeap struct {
	streams []*stream
	desc    bool
}

func (h *streamHeap) Len() int { return len(h.streams) }
func (h *streamHeap) Less(i, j int) bool {
	a, b := h.streams[i].buf[0].member, h.streams[j].buf[0].member
	if h.desc {
		return a > b
	}
	return a < b
}
func (h *streamHeap) Swap(i, j int) { h.streams[i], h.streams[j] = h.streams[j], h.streams[i] }
func (h *streamHeap) Push(x any)    { h.streams = append(h.streams, x.(*stream)) }
func (h *streamHeap) Pop() any {
	last := h.streams[len(h.streams)-1]
	h.streams = h.streams[:len(h.streams)-1]
	return last
}

// Query reads the records q selects from the best index (see planQuery),
// in batches, so that memory stays bounded unless the order needs a sort.
func (a *Adapter) Query(ctx context.Context, c *driver.Collection, q *driver.Query) iter.Seq2[driver.Record, error] {
	return func(yield func(driver.Record, error) bool) {
		s, err := a.newScan(ctx, c, q, false)
		if err == nil {
			stopped := false
			err = s.each(ctx, func(e entry) bool {
				stopped = !yield(e.rec, nil)
				return !stopped
			})
			if stopped {
				return
			}
		}
		if err != nil {
			yield(driver.Record{}, a.wrap("query", c.Name, err))
		}
	}
}

// Count counts with ZLEXCOUNT when the index ranges select exactly the
// records the filters do, and by reading keys otherwise.
func (a *Adapter) Count(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	q = orEmpty(q)
	if q.Limit < 0 {
		return 0, nil
	}
	s, err := a.newScan(ctx, c, keysOnly(c, q), false)
	if err != nil {
		return 0, err
	}
	if s.p.exact && q.After == nil && s.col.ttl == 0 { // (expired records are still in the indexes)
		n, err := s.lexCount(ctx)
		if err != nil {
			return 0, a.wrap("count", c.Name, err)
		}
		n = max(n-int64(q.Offset), 0)
		if q.Limit > 0 {
			n = min(n, int64(q.Limit))
		}
		return n, nil
	}
	var n int64
	err = s.each(ctx, func(entry) bool { n++; return true })
	return n, a.wrap("count", c.Name, err)
}

func (s *scan) lexCount(ctx context.Context) (int64, error) {
	cmds := make([]*goredis.IntCmd, len(s.streams))
	_, err := s.a.client.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i, st := range s.streams {
			lo, hi := st.start, st.end
			if s.p.desc {
				lo, hi = hi, lo
			}
			cmds[i] = pipe.ZLexCount(ctx, st.shard+s.p.suffix, lo, hi)
		}
		return nil
	})
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, err
}

// keysOnly returns q reading only the key and the fields its filters and
// order need.
func keysOnly(c *driver.Collection, q *driver.Query) *driver.Query {
	k := *q
	k.Fields = []int{c.Key}
	return &k
}

func orEmpty(q *driver.Query) *driver.Query {
	if q == nil {
		return &driver.Query{}
	}
	return q
}

// DeleteAll deletes the records the filters select, each with its index
// entries atomically, a pipeline of deletes per batch. It is not atomic as
// a whole.
func (a *Adapter) DeleteAll(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	s, err := a.newScan(ctx, c, keysOnly(c, orEmpty(q)), false)
	if err != nil {
		return 0, err
	}
	var n int64
	var keys []any
	flush := func() error {
		if a.opts.Replicas > 0 {
			// One by one, each waiting for its replicas.
			defer func() { keys = keys[:0] }()
			for _, k := range keys {
				err := a.Delete(ctx, c, driver.Delete{Key: k})
				switch {
				case err == nil:
					n++
				case !errors.Is(err, driver.ErrNotFound):
					return err
				}
			}
			return nil
		}
		// Each delete keeps its write id across a retry (after the
		// library was loaded again), so none applies twice.
		ids := make([]string, len(keys))
		for i := range ids {
			ids[i] = a.writeID()
		}
		pending := make([]int, len(keys))
		for i := range pending {
			pending[i] = i
		}
		for attempt := 0; len(pending) > 0; attempt++ {
			cmds := make([]*goredis.Cmd, len(pending))
			_, err := a.client.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
				for j, i := range pending {
					_, shard, pk, err := a.target(ctx, c, keys[i], false)
					if err != nil {
						return err
					}
					cmds[j] = pipe.FCall(ctx, fnPrefix+fnWrite, []string{shard}, "del", s.col.desc, ids[i], pk, a.idTTL, "")
				}
				return nil
			})
			var retry []int
			for j, cmd := range cmds {
				if cmd == nil {
					continue
				}
				if missing(cmd.Err()) {
					retry = append(retry, pending[j])
				} else if st, _ := reply(cmd.Val()); st == "ok" || st == "dup" {
					n++
				}
			}
			if len(retry) == 0 || attempt > 0 {
				keys = keys[:0]
				return err
			}
			if err := a.loadLibrary(ctx); err != nil {
				return err
			}
			pending = retry
		}
		keys = keys[:0]
		return nil
	}
	var flushErr error
	err = s.each(ctx, func(e entry) bool {
		keys = append(keys, e.rec.Key(c))
		if len(keys) == 256 {
			flushErr = flush()
		}
		return flushErr == nil
	})
	if err == nil {
		err = flushErr
	}
	if err == nil && len(keys) > 0 {
		err = flush()
	}
	return n, a.wrap("delete all", c.Name, err)
}

// Aggregate folds the field over the records q selects, read in batches.
func (a *Adapter) Aggregate(ctx context.Context, c *driver.Collection, q *driver.Query, fn driver.AggFunc, field int) (any, error) {
	if err := driver.CheckField(c, field, true); err != nil {
		return nil, err
	}
	k := *orEmpty(q)
	k.Fields = []int{c.Key, field}
	s, err := a.newScan(ctx, c, &k, false)
	if err != nil {
		return nil, err
	}
	var vals []any
	err = s.each(ctx, func(e entry) bool {
		if v := e.rec.Values[field]; v != nil {
			vals = append(vals, v)
		}
		return true
	})
	if err != nil {
		return nil, a.wrap("aggregate", c.Name, err)
	}
	return driver.AggregateValues(fn, c.Fields[field], vals)
}
