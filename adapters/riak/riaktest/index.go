package riaktest

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
	"github.com/strata-go/strata/adapters/riak/pb"
)

// Secondary index (2i) queries, a coverage query (see listing.go).

// An indexEntry is one (term, key) match of a query. The term of an
// integer index is kept parsed in n.
type indexEntry struct {
	term string
	n    int64
	key  string
}

// An indexQuery is a checked RpbIndexReq.
type indexQuery struct {
	bucket      bucketID
	index       string // "$bucket", "$key", or an index name
	isInt       bool
	isRange     bool
	eq          string // eq: the term
	eqN         int64
	min, max    string // range: inclusive bounds
	minN, maxN  int64
	regex       *regexp.Regexp
	returnTerms bool
	maxResults  int         // 0: no pagination
	after       *indexEntry // continuation: the last entry of the previous page
}

func (q *indexQuery) compare(a, b indexEntry) int {
	if q.isInt {
		return cmp.Or(cmp.Compare(a.n, b.n), strings.Compare(a.key, b.key))
	}
	return cmp.Or(strings.Compare(a.term, b.term), strings.Compare(a.key, b.key))
}

// ordinary reports whether the query is on an index of the objects, not
// on $bucket or $key.
func (q *indexQuery) ordinary() bool { return !strings.HasPrefix(q.index, "$") }

func parseIndexInt(index string, term []byte) (int64, error) {
	n, err := strconv.ParseInt(string(term), 10, 64)
	if err != nil {
		return 0, rpcErrorf("{field_parsing_failed,{<<%q>>,<<%q>>}}", index, term)
	}
	return n, nil
}

// indexQuery checks an RpbIndexReq.
func (s *session) indexQuery(m *riak_kv.RpbIndexReq) (*indexQuery, error) {
	b, err := s.node.c.checkBucket(m.Type, m.Bucket, noTypeKV)
	if err != nil {
		return nil, err
	}
	q := &indexQuery{bucket: b, index: string(m.Index)}
	switch {
	case q.index == "$bucket" || q.index == "$key":
	case strings.HasSuffix(q.index, "_bin"):
	case strings.HasSuffix(q.index, "_int"):
		q.isInt = true
	default:
		return nil, rpcErrorf("{unknown_field_type,<<%q>>}", q.index)
	}
	if m.Qtype == nil {
		return nil, rpcError("Error processing incoming message: RpbIndexReq without qtype")
	}
	switch *m.Qtype {
	case riak_kv.RpbIndexReq_eq:
		if m.Key == nil {
			return nil, rpcError("Error processing incoming message: eq query without key")
		}
		q.eq = string(m.Key)
		if q.isInt {
			if q.eqN, err = parseIndexInt(q.index, m.Key); err != nil {
				return nil, err
			}
		}
	case riak_kv.RpbIndexReq_range:
		if m.RangeMin == nil || m.RangeMax == nil {
			return nil, rpcError("Error processing incoming message: range query without range_min and range_max")
		}
		q.isRange = true
		q.min, q.max = string(m.RangeMin), string(m.RangeMax)
		if q.isInt {
			if q.minN, err = parseIndexInt(q.index, m.RangeMin); err != nil {
				return nil, err
			}
			if q.maxN, err = parseIndexInt(q.index, m.RangeMax); err != nil {
				return nil, err
			}
		}
	default:
		return nil, rpcErrorf("Error processing incoming message: unknown qtype %d", *m.Qtype)
	}
	if q.index == "$bucket" && q.isRange || q.index == "$key" && !q.isRange {
		return nil, rpcErrorf("Invalid query on %s", q.index)
	}
	if len(m.TermRegex) > 0 {
		if q.isInt {
			return nil, rpcError("Can not use term regular expressions on integer queries")
		}
		if q.regex, err = regexp.Compile(string(m.TermRegex)); err != nil {
			return nil, rpcErrorf("Invalid term regular expression: %v", err)
		}
	}
	q.returnTerms = m.GetReturnTerms() && q.isRange && q.ordinary()
	q.maxResults = int(min(m.GetMaxResults(), 1<<30))
	if len(m.Continuation) > 0 {
		after, ok := decodeContinuation(m.Continuation, q.isInt)
		if !ok {
			return nil, rpcError("Invalid continuation")
		}
		q.after = &after
	}
	return q, nil
}

// matchTerm reports whether an index term matches q, with the parsed
// term of an integer index.
func (q *indexQuery) matchTerm(term string) (int64, bool) {
	var n int64
	if q.isInt {
		var err error
		if n, err = strconv.ParseInt(term, 10, 64); err != nil {
			return 0, false
		}
		if q.isRange {
			return n, n >= q.minN && n <= q.maxN
		}
		return n, n == q.eqN
	}
	if q.isRange {
		return 0, term >= q.min && term <= q.max && (q.regex == nil || q.regex.MatchString(term))
	}
	return 0, term == q.eq
}

// matches returns the entries of a live object for q, ascending.
func (q *indexQuery) matches(key string, obj *object) []indexEntry {
	switch q.index {
	case "$bucket":
		return []indexEntry{{term: key, key: key}}
	case "$key":
		if key >= q.min && key <= q.max && (q.regex == nil || q.regex.MatchString(key)) {
			return []indexEntry{{term: key, key: key}}
		}
		return nil
	}
	var out []indexEntry
	for _, sib := range obj.siblings {
		if sib.deleted() {
			continue
		}
		for _, p := range sib.content.Indexes {
			if string(p.Key) != q.index {
				continue
			}
			if n, ok := q.matchTerm(string(p.Value)); ok {
				out = append(out, indexEntry{term: string(p.Value), n: n, key: key})
			}
		}
	}
	slices.SortFunc(out, q.compare)
	return slices.CompactFunc(out, func(a, b indexEntry) bool { return q.compare(a, b) == 0 })
}

// perVnode returns each coverage vnode's matches, descending; without
// returnTerms a key appears once per vnode.
func (q *indexQuery) perVnode(cover [][]coveredObject) [][]indexEntry {
	out := make([][]indexEntry, len(cover))
	for i, objs := range cover {
		var es []indexEntry
		for _, o := range objs {
			es = append(es, q.matches(o.key, o.obj)...)
		}
		slices.SortFunc(es, q.compare)
		if !q.returnTerms {
			// A key once, at its first term.
			seen := map[string]bool{}
			es = slices.DeleteFunc(es, func(e indexEntry) bool {
				dup := seen[e.key]
				seen[e.key] = true
				return dup
			})
		}
		slices.Reverse(es)
		out[i] = es
	}
	return out
}

// page returns the sorted page of a paginated query and its continuation
// ("" after the last page).
func (q *indexQuery) page(perVnode [][]indexEntry) ([]indexEntry, string) {
	var all []indexEntry
	for _, es := range perVnode {
		all = append(all, es...)
	}
	slices.SortFunc(all, q.compare)
	if !q.returnTerms {
		seen := map[string]bool{}
		all = slices.DeleteFunc(all, func(e indexEntry) bool {
			dup := seen[e.key]
			seen[e.key] = true
			return dup
		})
	}
	if q.after != nil {
		all = slices.DeleteFunc(all, func(e indexEntry) bool { return q.compareAfter(e) <= 0 })
	}
	if len(all) < q.maxResults {
		return all, ""
	}
	all = all[:q.maxResults]
	return all, q.continuation(all[len(all)-1])
}

// compareAfter compares e with the continuation point.
func (q *indexQuery) compareAfter(e indexEntry) int {
	if q.termInContinuation() {
		return q.compare(e, *q.after)
	}
	return strings.Compare(e.key, q.after.key)
}

// termInContinuation reports whether the continuation holds the last term
// with the last key (range queries on an index) or the key alone.
func (q *indexQuery) termInContinuation() bool { return q.isRange && q.ordinary() }

// continuation returns the continuation after e, as Riak makes it:
// base64(term_to_binary(Last)), Last being {Term, Key} or Key.
func (q *indexQuery) continuation(e indexEntry) string {
	b := []byte{131}
	if q.termInContinuation() {
		b = append(b, 104, 2)
		if q.isInt {
			b = appendIntegerTerm(b, e.n)
		} else {
			b = appendBinaryTerm(b, e.term)
		}
	}
	b = appendBinaryTerm(b, e.key)
	return base64.StdEncoding.EncodeToString(b)
}

// appendIntegerTerm appends an Erlang integer in external term format.
func appendIntegerTerm(b []byte, n int64) []byte {
	switch {
	case n >= 0 && n <= 255:
		return append(b, 97, byte(n))
	case n >= -1<<31 && n < 1<<31:
		return binary.BigEndian.AppendUint32(append(b, 98), uint32(int32(n)))
	}
	sign, u := byte(0), uint64(n)
	if n < 0 {
		sign, u = 1, uint64(-n)
	}
	var digits []byte
	for ; u > 0; u >>= 8 {
		digits = append(digits, byte(u))
	}
	return append(append(b, 110, byte(len(digits)), sign), digits...)
}

// decodeContinuation decodes what continuation made.
func decodeContinuation(s []byte, isInt bool) (indexEntry, bool) {
	b, err := base64.StdEncoding.DecodeString(string(s))
	if err != nil || len(b) < 2 || b[0] != 131 {
		return indexEntry{}, false
	}
	b = b[1:]
	var e indexEntry
	var ok bool
	if b[0] == 104 {
		if len(b) < 2 || b[1] != 2 {
			return indexEntry{}, false
		}
		b = b[2:]
		if isInt {
			e.n, b, ok = readIntegerTerm(b)
			e.term = strconv.FormatInt(e.n, 10)
		} else {
			e.term, b, ok = readBinaryTerm(b)
		}
		if !ok {
			return indexEntry{}, false
		}
	}
	e.key, b, ok = readBinaryTerm(b)
	return e, ok && len(b) == 0
}

func readBinaryTerm(b []byte) (string, []byte, bool) {
	if len(b) < 5 || b[0] != 109 {
		return "", nil, false
	}
	n := binary.BigEndian.Uint32(b[1:5])
	if uint64(n) > uint64(len(b)-5) {
		return "", nil, false
	}
	return string(b[5 : 5+n]), b[5+n:], true
}

func readIntegerTerm(b []byte) (int64, []byte, bool) {
	switch {
	case len(b) >= 2 && b[0] == 97:
		return int64(b[1]), b[2:], true
	case len(b) >= 5 && b[0] == 98:
		return int64(int32(binary.BigEndian.Uint32(b[1:5]))), b[5:], true
	case len(b) >= 3 && b[0] == 110:
		n, neg := int(b[1]), b[2] == 1
		if n > 8 || len(b) < 3+n {
			return 0, nil, false
		}
		var u uint64
		for i := n - 1; i >= 0; i-- {
			u = u<<8 | uint64(b[3+i])
		}
		if neg {
			return -int64(u), b[3+n:], true
		}
		return int64(u), b[3+n:], true
	}
	return 0, nil, false
}

// respFrame returns an RpbIndexResp frame with the entries es.
func (q *indexQuery) respFrame(es []indexEntry, cont string, done bool) frame {
	var m riak_kv.RpbIndexResp
	for _, e := range es {
		if q.returnTerms {
			m.Results = append(m.Results, &riak.RpbPair{Key: []byte(e.term), Value: []byte(e.key)})
		} else {
			m.Keys = append(m.Keys, []byte(e.key))
		}
	}
	if cont != "" {
		m.Continuation = []byte(cont)
	}
	if done {
		m.Done = proto.Bool(true)
	}
	return reply(pb.CodeIndexResp, &m)
}

// index answers a 2i query. Paginated (max_results), the matches are
// sorted by term then key; otherwise, streamed, each coverage vnode's
// matches go in a frame, and not streamed, they go in one frame in the
// order they would arrive (later vnodes first), sorted only with
// pagination_sort.
func (s *session) index(body []byte) ([]frame, error) {
	var m riak_kv.RpbIndexReq
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	q, err := s.indexQuery(&m)
	if err != nil {
		return nil, err
	}
	cover, err := s.cover(q.bucket, q)
	if err != nil {
		return nil, err
	}
	perVnode := q.perVnode(cover)
	stream := m.GetStream()
	if q.maxResults > 0 {
		es, cont := q.page(perVnode)
		if !stream {
			return []frame{q.respFrame(es, cont, false)}, nil
		}
		var frames []frame
		if len(es) > 0 {
			frames = append(frames, q.respFrame(es, "", false))
		}
		return append(frames, q.respFrame(nil, cont, true)), nil
	}
	if stream {
		var frames []frame
		for _, es := range perVnode {
			if len(es) > 0 {
				frames = append(frames, q.respFrame(es, "", false))
			}
		}
		return append(frames, q.respFrame(nil, "", true)), nil
	}
	var all []indexEntry
	for _, es := range slices.Backward(perVnode) {
		all = append(all, es...)
	}
	if m.GetPaginationSort() {
		slices.SortFunc(all, q.compare)
	}
	return []frame{q.respFrame(all, "", false)}, nil
}
