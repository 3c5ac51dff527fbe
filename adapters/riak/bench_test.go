package riak_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"

	riakadapter "github.com/strata-go/strata/adapters/riak"
	"github.com/strata-go/strata/adapters/riak/pb"
	"github.com/strata-go/strata/adapters/riak/riaktest"
	"github.com/strata-go/strata/internal/valuecodec"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// The benchmarks do the same work on riaktest through the repo and
// through the bare PB client (pb.Cluster over the same three nodes), in
// one run (see BENCHMARKS.md):
//
//	go test -run '^$' -bench BenchmarkRiak -count 10 -benchmem ./adapters/riak | tee bench.txt
//	benchstat -col /impl bench.txt
//
// The raw side keeps its records in a bucket of its own with the
// adapter's bucket properties (allow_mult, n_val 3), under the adapter's
// keys and 2i entries (layout.go); its value is the record as JSON with
// an lww stamp per field and a writer id, about the size of the
// adapter's state encoding.

// benchMsg is a chat message: an int64 key, lww fields and the indexed
// conversation.
type benchMsg struct {
	_      struct{}  `strata:"table=messages"`
	ID     int64     `strata:"id,pk"`
	Conv   string    `strata:"conv,index"`
	Sender string    `strata:"sender"`
	Body   string    `strata:"body"`
	Seq    int64     `strata:"seq"`
	At     time.Time `strata:"at"`
}

const (
	benchConvs    = 5   // seeded conversations…
	benchPerConv  = 200 // …of this many messages each
	benchPageSize = 50  // a page: the newest 50 of one conversation
	benchConv     = "c3"
)

var benchAt = time.Date(2024, 5, 1, 12, 30, 0, 123456000, time.UTC)

func newBenchMsg(id int64, i int) benchMsg {
	return benchMsg{
		ID:     id,
		Conv:   "c" + strconv.Itoa(i%benchConvs),
		Sender: "user" + strconv.Itoa(i%17),
		Body:   "message " + strconv.Itoa(i) + ": see you at the station at noon, bring the tickets",
		Seq:    int64(i),
		At:     benchAt.Add(time.Duration(i) * time.Second),
	}
}

// benchEnv is one riaktest cluster with a repo (namespace "bench") and
// the raw side's client and bucket.
type benchEnv struct {
	r      *repo.Repo
	c      *pb.Cluster
	bucket []byte // the raw side's bucket
	ixAsc  []byte // the raw side's 2i index names (the adapter's)
	ixDesc []byte
}

var benchSeq atomic.Int64

// openBenchEnv starts a 3-node riaktest cluster for one benchmark group
// and opens both sides on it.
func openBenchEnv(b *testing.B) benchEnv {
	ctx := context.Background()
	cluster := riaktest.Start(b, riaktest.Options{Nodes: 3})
	addrs := cluster.Addrs()
	a, err := riakadapter.Open(ctx, fmt.Sprintf("riak://%s?namespace=bench%d&n_val=3", strings.Join(addrs, ","), benchSeq.Add(1)))
	if err != nil {
		b.Fatal(err)
	}
	r, err := repo.New(a, repo.WithNode(1))
	if err != nil {
		a.Close()
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	s, err := schema.Of[benchMsg]()
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Migrate(ctx, driver.CreateCollection{Collection: s.Collection}); err != nil {
		b.Fatal(err)
	}
	c, err := pb.NewCluster(addrs, pb.ClusterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	e := benchEnv{r: r, c: c, bucket: []byte("raw.messages")}
	ix := s.Collection.Indexes[0].Name
	e.ixAsc, e.ixDesc = []byte(ix+"_a_bin"), []byte(ix+"_d_bin")
	if err := c.SetBucket(ctx, &riak.RpbSetBucketReq{
		Bucket: e.bucket, Type: []byte("default"),
		Props: &riak.RpbBucketProps{AllowMult: proto.Bool(true), NVal: proto.Uint32(3)},
	}); err != nil {
		b.Fatal(err)
	}
	return e
}

// seed inserts benchConvs × benchPerConv messages, keys 1…, on both sides.
func (e benchEnv) seed(b *testing.B) {
	ctx := context.Background()
	items := make([]benchMsg, 0, benchConvs*benchPerConv)
	for i := range benchConvs * benchPerConv {
		items = append(items, newBenchMsg(int64(i+1), i))
	}
	if err := e.r.InsertAll(ctx, items); err != nil {
		b.Fatal(err)
	}
	for _, m := range items {
		if err := e.rawInsert(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

// rawMsg is the raw side's value: the message and, as a hand-made lww
// scheme needs, a stamp per field and the writer.
type rawMsg struct {
	ID     int64     `json:"id"`
	Conv   string    `json:"conv"`
	Sender string    `json:"sender"`
	Body   string    `json:"body"`
	Seq    int64     `json:"seq"`
	At     time.Time `json:"at"`
	Stamps [6]uint64 `json:"ts"`
	Writer string    `json:"w"`
}

const rawWriter = "5f3c9a61d2e07b84.12"

// rawIndexes returns the adapter's 2i entries for m (layout.go): the key
// complemented, the conversation, and the conversation and key
// complemented.
func (e benchEnv) rawIndexes(key []byte, conv string) []*riak.RpbPair {
	term := valuecodec.AppendComponent(nil, conv)
	return []*riak.RpbPair{
		{Key: []byte("strata_key_d_bin"), Value: complement(slices.Clone(key))},
		{Key: e.ixAsc, Value: term},
		{Key: e.ixDesc, Value: complement(append(slices.Clone(term), key...))},
	}
}

func complement(b []byte) []byte {
	for i := range b {
		b[i] = ^b[i]
	}
	return b
}

// rawInsert is one RpbPutReq with if_none_match, the value and the 2i
// entries.
func (e benchEnv) rawInsert(ctx context.Context, m benchMsg) error {
	now := uint64(time.Now().UnixMicro())
	v, err := json.Marshal(rawMsg{ID: m.ID, Conv: m.Conv, Sender: m.Sender, Body: m.Body, Seq: m.Seq, At: m.At,
		Stamps: [6]uint64{now, now, now, now, now, now}, Writer: rawWriter})
	if err != nil {
		return err
	}
	key := valuecodec.AppendComponent(nil, m.ID)
	_, err = e.c.Put(ctx, &riak_kv.RpbPutReq{
		Bucket: e.bucket, Key: key, Type: []byte("default"), IfNoneMatch: proto.Bool(true),
		Content: &riak_kv.RpbContent{Value: v, ContentType: []byte("application/json"), Indexes: e.rawIndexes(key, m.Conv)},
	})
	return err
}

// rawGet is one RpbGetReq, its value decoded into m.
func (e benchEnv) rawGet(ctx context.Context, key []byte, m *benchMsg) error {
	resp, err := e.c.Get(ctx, &riak_kv.RpbGetReq{Bucket: e.bucket, Key: key, Type: []byte("default")})
	if err != nil {
		return err
	}
	if len(resp.GetContent()) != 1 {
		return fmt.Errorf("get %x: %d siblings", key, len(resp.GetContent()))
	}
	var rm rawMsg
	if err := json.Unmarshal(resp.GetContent()[0].GetValue(), &rm); err != nil {
		return err
	}
	*m = benchMsg{ID: rm.ID, Conv: rm.Conv, Sender: rm.Sender, Body: rm.Body, Seq: rm.Seq, At: rm.At}
	return nil
}

// rawPage reads the newest n messages of conv: one RpbIndexReq range of
// the descending index with max_results n, then the n objects, fetched by
// fetchers workers (the adapter's Options.Fetchers is 8).
func (e benchEnv) rawPage(ctx context.Context, conv string, n, fetchers int) ([]benchMsg, error) {
	prefix := complement(valuecodec.AppendComponent(nil, conv))
	resp, err := e.c.Index(ctx, &riak_kv.RpbIndexReq{
		Bucket: e.bucket, Type: []byte("default"), Index: e.ixDesc,
		Qtype:    riak_kv.RpbIndexReq_range.Enum(),
		RangeMin: prefix, RangeMax: valuecodec.Successor(prefix),
		MaxResults: proto.Uint32(uint32(n)),
	})
	if err != nil {
		return nil, err
	}
	keys := resp.GetKeys()
	out := make([]benchMsg, len(keys))
	errs := make([]error, len(keys))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range fetchers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(keys) {
					return
				}
				errs[i] = e.rawGet(ctx, keys[i], &out[i])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// wantPage is the keys of the newest benchPageSize messages of benchConv
// as seeded: key i+1 is message i, of conversation i % benchConvs.
func wantPage() []int64 {
	var ids []int64
	for i := benchConvs*benchPerConv - 1; i >= 0 && len(ids) < benchPageSize; i-- {
		if "c"+strconv.Itoa(i%benchConvs) == benchConv {
			ids = append(ids, int64(i+1))
		}
	}
	return ids
}

// checkPage fails b unless items are the messages with keys want, in
// that order, with their seeded values.
func checkPage(b *testing.B, items []benchMsg, err error, want []int64) {
	if err != nil {
		b.Fatal(err)
	}
	if len(items) != len(want) {
		b.Fatalf("got %d messages of %s, want %d", len(items), benchConv, len(want))
	}
	for i, it := range items {
		if it.ID != want[i] {
			b.Fatalf("message %d is %d, want %d", i, it.ID, want[i])
		}
		checkMsg(b, it, newBenchMsg(want[i], int(want[i]-1)))
	}
}

func checkMsg(b *testing.B, got, want benchMsg) {
	if got.ID != want.ID || got.Conv != want.Conv || got.Sender != want.Sender || got.Body != want.Body ||
		got.Seq != want.Seq || !got.At.Equal(want.At) {
		b.Fatalf("got %+v, want %+v", got, want)
	}
}

// rawIDs are the raw side's keys: from 2^60, so that they encode to as
// many bytes as the repo's generated snowflake IDs.
var rawIDs atomic.Int64

func init() { rawIDs.Store(1 << 60) }

// BenchmarkRiak: benchstat -col /impl compares impl=repo with impl=raw.
// Each op group runs on its own riaktest cluster (3 nodes, n_val 3).
func BenchmarkRiak(b *testing.B) {
	ctx := context.Background()

	// Insert: a new message, one RpbPutReq with if_none_match, the value
	// and three 2i entries (the repo's key generated, the raw side's a
	// counter of the same size). Each run has a fresh cluster: -count runs a sub-benchmark
	// again in the same BenchmarkRiak, and the inserts would pile up.
	b.Run("op=Insert/impl=repo", func(b *testing.B) {
		ins := openBenchEnv(b)
		b.ReportAllocs()
		for b.Loop() {
			m := newBenchMsg(0, 7)
			if err := ins.r.Insert(ctx, &m); err != nil {
				b.Fatal(err)
			}
			if m.ID == 0 {
				b.Fatal("no key generated")
			}
		}
	})
	b.Run("op=Insert/impl=raw", func(b *testing.B) {
		ins := openBenchEnv(b)
		b.ReportAllocs()
		for b.Loop() {
			if err := ins.rawInsert(ctx, newBenchMsg(rawIDs.Add(1), 7)); err != nil {
				b.Fatal(err)
			}
		}
	})

	// Get: one RpbGetReq, the value decoded into the struct.
	get := openBenchEnv(b)
	want := newBenchMsg(42, 7)
	if err := get.r.Insert(ctx, &want); err != nil {
		b.Fatal(err)
	}
	if err := get.rawInsert(ctx, want); err != nil {
		b.Fatal(err)
	}
	b.Run("op=Get/impl=repo", func(b *testing.B) {
		b.ReportAllocs()
		var got benchMsg
		for b.Loop() {
			got = benchMsg{}
			if err := get.r.Get(ctx, &got, want.ID); err != nil {
				b.Fatal(err)
			}
		}
		checkMsg(b, got, want)
	})
	b.Run("op=Get/impl=raw", func(b *testing.B) {
		key := valuecodec.AppendComponent(nil, want.ID)
		b.ReportAllocs()
		var got benchMsg
		for b.Loop() {
			got = benchMsg{}
			if err := get.rawGet(ctx, key, &got); err != nil {
				b.Fatal(err)
			}
		}
		checkMsg(b, got, want)
	})

	// Page50: the newest 50 messages of a conversation of 200 (of 1,000
	// messages), decoded into structs: one 2i range of the descending
	// index, then the objects it lists, 8 at a time.
	page := openBenchEnv(b)
	page.seed(b)
	wantIDs := wantPage()
	b.Run("op=Page50/impl=repo", func(b *testing.B) {
		q := repo.Where("conv", repo.Eq, benchConv).OrderBy("-id").Limit(benchPageSize)
		b.ReportAllocs()
		for b.Loop() {
			p, err := repo.Paginate[benchMsg](ctx, page.r, q)
			checkPage(b, p.Items, err, wantIDs)
			if p.Next == "" {
				b.Fatal("no next page")
			}
		}
	})
	b.Run("op=Page50/impl=raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			items, err := page.rawPage(ctx, benchConv, benchPageSize, 8)
			checkPage(b, items, err, wantIDs)
		}
	})
}
