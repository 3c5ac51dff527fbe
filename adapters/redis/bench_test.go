package redis_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/strata-go/strata/adapters/redis"
	"github.com/strata-go/strata/internal/testservers"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// The benchmarks do the same work on the standalone server through the
// repo and through raw go-redis, in one run (see BENCHMARKS.md):
//
//	go test -run '^$' -bench BenchmarkRedis -count 10 -benchmem ./adapters/redis | tee bench.txt
//	benchstat -col /impl bench.txt
//
// The raw side keeps its records under its own prefix "{ns:raw}" in the
// adapter's layout: a hash per record, the values formatted as the adapter
// formats them, and sorted sets (all scores 0) of the same members for
// the primary key and the indexed field.

// benchItem is the schema: an int64 key, a string, an int, a time, a bool
// and one indexed string.
type benchItem struct {
	_     struct{}  `strata:"table=bench_items"`
	ID    int64     `strata:"id,pk"`
	Name  string    `strata:"name"`
	Team  string    `strata:"team,index"`
	Score int64     `strata:"score"`
	At    time.Time `strata:"at"`
	Done  bool      `strata:"done"`
}

const (
	benchTeams   = 20 // seeded values of the indexed field…
	benchPerTeam = 50 // …with this many records each: a query's answer
	benchTeam    = "t7"
)

var benchAt = time.Date(2024, 5, 1, 12, 30, 0, 123456000, time.UTC)

// benchEnv is one sub-benchmark's namespace: a repo over an adapter, and
// the raw side on the adapter's go-redis client.
type benchEnv struct {
	r   *repo.Repo
	c   goredis.UniversalClient
	raw rawStore
}

var benchSeq atomic.Int64

// openBenchEnv opens a repo on the standalone server in a fresh namespace
// (deleted when b ends) and creates the collection.
func openBenchEnv(b *testing.B) benchEnv {
	ctx := context.Background()
	serverURL := testservers.RedisURL(b)
	ns := fmt.Sprintf("bench_%d_%d", time.Now().UnixNano()%1e9, benchSeq.Add(1))
	a, err := redis.Open(ctx, withParam(serverURL, "namespace", ns))
	if err != nil {
		b.Fatal(err)
	}
	r, err := repo.New(a, repo.WithNode(1))
	if err != nil {
		a.Close()
		b.Fatal(err)
	}
	// Cleanups run last-registered first: the keys go before the client.
	b.Cleanup(func() { r.Close() })
	b.Cleanup(func() { dropBenchNamespace(b, a.Client(), ns) })
	s, err := schema.Of[benchItem]()
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Migrate(ctx, driver.CreateCollection{Collection: s.Collection}); err != nil {
		b.Fatal(err)
	}
	return benchEnv{r: r, c: a.Client(), raw: rawStore{c: a.Client(), prefix: "{" + ns + ":raw}"}}
}

// dropBenchNamespace deletes the keys of namespace ns a SCAN page at a
// time (an insert benchmark leaves tens of thousands: one DEL per key, as
// dropNamespace does, takes seconds).
func dropBenchNamespace(b *testing.B, c goredis.UniversalClient, ns string) {
	one, ok := c.(*goredis.Client)
	if !ok { // a cluster: the keys of one UNLINK must share a slot
		dropNamespace(b, c, ns)
		return
	}
	ctx := context.Background()
	var cursor uint64
	for {
		keys, next, err := one.Scan(ctx, cursor, "{"+ns+"[:}]*", 1000).Result()
		if err == nil && len(keys) > 0 {
			err = one.Unlink(ctx, keys...).Err()
		}
		if err != nil {
			b.Errorf("drop namespace %s: %v", ns, err)
			return
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}

// seedRepo inserts benchTeams × benchPerTeam records through the repo.
func (e benchEnv) seedRepo(b *testing.B) {
	items := make([]benchItem, 0, benchTeams*benchPerTeam)
	for i := range benchTeams * benchPerTeam {
		items = append(items, newBenchItem(0, i))
	}
	if err := e.r.InsertAll(context.Background(), items); err != nil {
		b.Fatal(err)
	}
}

// seedRaw writes the same records on the raw side, in one pipeline.
func (e benchEnv) seedRaw(b *testing.B) {
	ctx := context.Background()
	_, err := e.c.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i := range benchTeams * benchPerTeam {
			e.raw.insert(ctx, pipe, newBenchItem(int64(i+1), i))
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func newBenchItem(id int64, i int) benchItem {
	return benchItem{
		ID:    id,
		Name:  "item " + strconv.Itoa(i),
		Team:  "t" + strconv.Itoa(i%benchTeams),
		Score: int64(i),
		At:    benchAt,
		Done:  i%2 == 0,
	}
}

// rawStore is the raw go-redis side.
type rawStore struct {
	c      goredis.UniversalClient
	prefix string // "{ns:raw}"
}

// insert queues the record's hash and its two index entries on pipe.
func (s rawStore) insert(ctx context.Context, pipe goredis.Pipeliner, it benchItem) {
	pk := appendIntComponent(nil, it.ID)
	done := "0"
	if it.Done {
		done = "1"
	}
	pipe.HSet(ctx, s.prefix+":r:"+string(pk),
		"id", strconv.FormatInt(it.ID, 10),
		"name", it.Name,
		"team", it.Team,
		"score", strconv.FormatInt(it.Score, 10),
		"at", strconv.FormatInt(it.At.UnixMicro(), 10),
		"done", done)
	member := append(appendStringComponent(make([]byte, 0, 64), it.Team), pk...)
	pipe.ZAdd(ctx, s.prefix+":i:team", goredis.Z{Member: string(member)})
	pipe.ZAdd(ctx, s.prefix+":k", goredis.Z{Member: string(pk)})
}

// get reads a record's hash and decodes it into it.
// rawInsert is the minimal atomic insert: claim the key in the key index,
// then write the hash and the index entry.
var rawInsert = goredis.NewScript(`
if redis.call("ZADD", KEYS[1] .. ":k", "NX", 0, ARGV[1]) == 0 then return 0 end
redis.call("HSET", KEYS[1] .. ":r:" .. ARGV[1], "id", ARGV[2], "name", ARGV[3], "team", ARGV[4], "score", ARGV[5], "at", ARGV[6], "done", ARGV[7])
redis.call("ZADD", KEYS[1] .. ":i:team", 0, ARGV[8])
return 1`)

func (s rawStore) insertScript(ctx context.Context, c goredis.UniversalClient, it benchItem) (int64, error) {
	pk := appendIntComponent(nil, it.ID)
	done := "0"
	if it.Done {
		done = "1"
	}
	member := append(appendStringComponent(make([]byte, 0, 64), it.Team), pk...)
	return rawInsert.Run(ctx, c, []string{s.prefix}, string(pk), strconv.FormatInt(it.ID, 10), it.Name, it.Team,
		strconv.FormatInt(it.Score, 10), strconv.FormatInt(it.At.UnixMicro(), 10), done, string(member)).Int64()
}

func (s rawStore) get(ctx context.Context, id int64, it *benchItem) error {
	h, err := s.c.HGetAll(ctx, s.prefix+":r:"+string(appendIntComponent(nil, id))).Result()
	if err != nil {
		return err
	}
	if len(h) == 0 {
		return fmt.Errorf("record %d not found", id)
	}
	return decodeRaw(h, it)
}

// byTeam reads the index entries of team (ZRANGE BYLEX), then their
// records in one pipeline of HGETALLs.
func (s rawStore) byTeam(ctx context.Context, team string) ([]benchItem, error) {
	lo := appendStringComponent(nil, team)
	hi := append([]byte(nil), lo...)
	hi[len(hi)-1]++ // just past every member that starts with lo
	members, err := s.c.ZRangeArgs(ctx, goredis.ZRangeArgs{
		Key: s.prefix + ":i:team", Start: "[" + string(lo), Stop: "(" + string(hi), ByLex: true,
	}).Result()
	if err != nil {
		return nil, err
	}
	cmds := make([]*goredis.MapStringStringCmd, len(members))
	_, err = s.c.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i, m := range members {
			cmds[i] = pipe.HGetAll(ctx, s.prefix+":r:"+m[len(lo):])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]benchItem, 0, len(cmds))
	for _, cmd := range cmds {
		var it benchItem
		if err := decodeRaw(cmd.Val(), &it); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

// decodeRaw converts a record's hash fields into the struct.
func decodeRaw(h map[string]string, it *benchItem) error {
	var err error
	if it.ID, err = strconv.ParseInt(h["id"], 10, 64); err != nil {
		return err
	}
	it.Name, it.Team = h["name"], h["team"]
	if it.Score, err = strconv.ParseInt(h["score"], 10, 64); err != nil {
		return err
	}
	us, err := strconv.ParseInt(h["at"], 10, 64)
	if err != nil {
		return err
	}
	it.At = time.UnixMicro(us).UTC()
	if it.Done, err = strconv.ParseBool(h["done"]); err != nil {
		return err
	}
	return nil
}

// appendIntComponent and appendStringComponent build the index components
// the adapter builds (valuecodec.AppendComponent), for positive ints and
// strings.
func appendIntComponent(b []byte, n int64) []byte {
	var d [20]byte
	digits := strconv.AppendInt(d[:0], n, 10)
	b = append(b, 0x20, 0x80+byte(len(digits)))
	return append(b, digits...)
}

func appendStringComponent(b []byte, s string) []byte {
	b = append(b, 0x40)
	b = append(b, s...)
	return append(b, 0)
}

// checkTeam fails b unless items are the benchPerTeam records of team.
func checkTeam(b *testing.B, items []benchItem, err error, team string) {
	if err != nil {
		b.Fatal(err)
	}
	if len(items) != benchPerTeam {
		b.Fatalf("got %d records of %s, want %d", len(items), team, benchPerTeam)
	}
	for _, it := range items {
		if it.Team != team || !it.At.Equal(benchAt) || it.ID == 0 || it.Name == "" {
			b.Fatalf("got %+v among the records of %s", it, team)
		}
	}
}

func checkItem(b *testing.B, got, want benchItem) {
	if got.ID != want.ID || got.Name != want.Name || got.Team != want.Team || got.Score != want.Score ||
		!got.At.Equal(want.At) || got.Done != want.Done {
		b.Fatalf("got %+v, want %+v", got, want)
	}
}

var rawIDs atomic.Int64

// BenchmarkRedis: benchstat -col /impl compares impl=repo with impl=raw.
func BenchmarkRedis(b *testing.B) {
	ctx := context.Background()

	// Insert: a record with distinct keys (the repo's generated, the raw
	// side's a counter), its hash and its entries in both indexes, in one
	// round trip (the repo: one script; raw: MULTI/EXEC).
	b.Run("op=Insert/impl=repo", func(b *testing.B) {
		e := openBenchEnv(b)
		b.ReportAllocs()
		for b.Loop() {
			it := newBenchItem(0, 7)
			if err := e.r.Insert(ctx, &it); err != nil {
				b.Fatal(err)
			}
			if it.ID == 0 {
				b.Fatal("no key generated")
			}
		}
	})
	b.Run("op=Insert/impl=raw", func(b *testing.B) {
		e := openBenchEnv(b)
		b.ReportAllocs()
		for b.Loop() {
			it := newBenchItem(rawIDs.Add(1), 7)
			cmds, err := e.c.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
				e.raw.insert(ctx, pipe, it)
				return nil
			})
			if err != nil || len(cmds) != 3 {
				b.Fatal(err, len(cmds))
			}
		}
	})

	// The same insert as a minimal script, which, like the repo's and
	// unlike MULTI/EXEC, refuses a key that exists (the repo's script
	// also checks unique indexes and records its write id).
	b.Run("op=Insert/impl=rawscript", func(b *testing.B) {
		e := openBenchEnv(b)
		b.ReportAllocs()
		for b.Loop() {
			it := newBenchItem(rawIDs.Add(1), 7)
			n, err := e.raw.insertScript(ctx, e.c, it)
			if err != nil || n != 1 {
				b.Fatal(err, n)
			}
		}
	})

	// Get: HGETALL of one record, decoded into the struct.
	b.Run("op=Get/impl=repo", func(b *testing.B) {
		e := openBenchEnv(b)
		want := newBenchItem(0, 7)
		if err := e.r.Insert(ctx, &want); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		var got benchItem
		for b.Loop() {
			if err := e.r.Get(ctx, &got, want.ID); err != nil {
				b.Fatal(err)
			}
		}
		checkItem(b, got, want)
	})
	b.Run("op=Get/impl=raw", func(b *testing.B) {
		e := openBenchEnv(b)
		want := newBenchItem(42, 7)
		if _, err := e.c.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			e.raw.insert(ctx, pipe, want)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		var got benchItem
		for b.Loop() {
			got = benchItem{}
			if err := e.raw.get(ctx, want.ID, &got); err != nil {
				b.Fatal(err)
			}
		}
		checkItem(b, got, want)
	})

	// Query50: the 50 records (of 1,000) with one value of the indexed
	// field, decoded into structs.
	b.Run("op=Query50/impl=repo", func(b *testing.B) {
		e := openBenchEnv(b)
		e.seedRepo(b)
		q := repo.Where("team", repo.Eq, benchTeam)
		b.ReportAllocs()
		for b.Loop() {
			items, err := repo.All[benchItem](ctx, e.r, q)
			checkTeam(b, items, err, benchTeam)
		}
	})
	b.Run("op=Query50/impl=raw", func(b *testing.B) {
		e := openBenchEnv(b)
		e.seedRaw(b)
		b.ReportAllocs()
		for b.Loop() {
			items, err := e.raw.byTeam(ctx, benchTeam)
			checkTeam(b, items, err, benchTeam)
		}
	})
}
