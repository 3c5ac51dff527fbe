package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/strata-go/strata/internal/valuecodec"
	"github.com/strata-go/strata/repo/driver"
)

// collection is what the adapter derives once from a *driver.Collection:
// its indexes and the descriptor the scripts read them from.
type collection struct {
	*driver.Collection
	indexes []index
	desc    string
	// unique: the collection has a unique index (and so one shard).
	unique bool
	// ttl: its records expire this long after their last write (0: never).
	ttl time.Duration
}

// index is a secondary index: its fields (positions in Fields), then the
// primary key, make its members.
type index struct {
	name   string
	unique bool
	fields []int
}

// collectionOf returns the adapter's view of c, built on first use.
func (a *Adapter) collectionOf(c *driver.Collection) (*collection, error) {
	if v, ok := a.collections.Load(c); ok {
		return v.(*collection), nil
	}
	col := &collection{Collection: c, ttl: a.opts.TTL[c.Name]}
	var desc strings.Builder
	if c.Version >= 0 {
		desc.WriteString(c.Fields[c.Version].Name)
	}
	desc.WriteString("\t" + strconv.FormatInt(col.ttl.Milliseconds(), 10))
	for _, ix := range c.Indexes {
		x := index{name: ix.Name, unique: ix.Unique}
		desc.WriteString("\n" + ix.Name)
		if ix.Unique {
			desc.WriteString("\tu")
			col.unique = true
		} else {
			desc.WriteString("\tn")
		}
		for _, name := range ix.Fields {
			i := c.FieldIndex(name)
			if i < 0 {
				return nil, fmt.Errorf("%w: redis: index %s of %s names unknown field %s", driver.ErrInvalid, ix.Name, c.Name, name)
			}
			k := kindChar(c.Fields[i].Kind)
			if k == 0 {
				return nil, fmt.Errorf("%w: redis: index %s of %s: field %s is a %s field; only scalar fields can be indexed",
					driver.ErrUnsupported, ix.Name, c.Name, name, c.Fields[i].Kind)
			}
			x.fields = append(x.fields, i)
			desc.WriteString("\t" + name + "\t" + string(k) + "\t" + absent(c.Fields[i]))
		}
		col.indexes = append(col.indexes, x)
	}
	col.desc = desc.String()
	v, _ := a.collections.LoadOrStore(c, col)
	return v.(*collection), nil
}

// absent is the descriptor's form of what a record without field f holds
// in an index: NULL ("-") if f is nullable, else its kind's zero value
// (a field added since the record was written).
func absent(f driver.Field) string {
	if f.Nullable {
		return "-"
	}
	s, _ := valuecodec.Encode(f.Kind, driver.Zero(f.Kind))
	return "=" + s
}

// kindChar is the scripts' name for a scalar kind, or 0.
func kindChar(k driver.Kind) byte {
	switch k {
	case driver.KindInt, driver.KindTime:
		return 'i'
	case driver.KindFloat:
		return 'f'
	case driver.KindString:
		return 's'
	case driver.KindBool:
		return 'b'
	}
	return 0
}

// layout is where a collection's keys are: its shards' key prefixes.
type layout struct {
	tags []string
}

// shardOf returns the prefix of the shard that holds the record whose
// encoded primary key is pk.
func (l *layout) shardOf(pk string) string {
	if len(l.tags) == 1 {
		return l.tags[0]
	}
	return l.tags[crc32.ChecksumIEEE([]byte(pk))%uint32(len(l.tags))]
}

// meta is what the namespace's meta hash records of a collection.
type meta struct {
	Shards  int            `json:"shards"`
	Indexes []driver.Index `json:"indexes,omitempty"`
}

// metaKey is the hash of the namespace's collections (name -> meta).
func (a *Adapter) metaKey() string { return "{" + a.opts.Namespace + "}:meta" }

// layoutOf returns where the records of a collection are. A collection
// that is not in the meta hash (it was never created nor written to) reads
// as empty; the first insert into it (write) creates it with the
// adapter's shard count (1 if it has a unique index).
func (a *Adapter) layoutOf(ctx context.Context, col *collection, write bool) (*layout, error) {
	if v, ok := a.layouts.Load(col.Name); ok {
		return v.(*layout), nil
	}
	m, err := a.readMeta(ctx, col.Name)
	if errors.Is(err, driver.ErrNotFound) {
		m = meta{Shards: a.opts.Shards, Indexes: col.Collection.Indexes}
		if col.unique {
			m.Shards = 1
		}
		if !write {
			return a.newLayout(col.Name, m.Shards), nil
		}
		b, _ := json.Marshal(fullMeta{meta: m, Fields: col.Fields})
		if err = a.client.HSetNX(ctx, a.metaKey(), col.Name, b).Err(); err == nil {
			m, err = a.readMeta(ctx, col.Name)
		}
	}
	if err != nil {
		return nil, a.wrap("layout", col.Name, err)
	}
	if col.unique && m.Shards != 1 {
		return nil, fmt.Errorf("%w: redis: %s has %d shards, and unique indexes need one: Redis checks uniqueness atomically only within a slot",
			driver.ErrUnsupported, col.Name, m.Shards)
	}
	l := a.newLayout(col.Name, m.Shards)
	v, _ := a.layouts.LoadOrStore(col.Name, l)
	return v.(*layout), nil
}

func (a *Adapter) newLayout(name string, shards int) *layout {
	l := &layout{tags: make([]string, max(shards, 1))}
	base := a.opts.Namespace + ":" + name
	if len(l.tags) == 1 {
		l.tags[0] = "{" + base + "}"
		return l
	}
	for i := range l.tags {
		l.tags[i] = "{" + base + ":" + strconv.Itoa(i) + "}"
	}
	return l
}

// readMeta reads what the meta hash records of collection name, or
// ErrNotFound.
func (a *Adapter) readMeta(ctx context.Context, name string) (meta, error) {
	var m meta
	b, err := a.client.HGet(ctx, a.metaKey(), name).Bytes()
	if errors.Is(err, goredis.Nil) {
		return m, fmt.Errorf("collection %s: %w", name, driver.ErrNotFound)
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Shards < 1 {
		return m, fmt.Errorf("redis: bad meta of collection %s: %q", name, b)
	}
	return m, nil
}

// target is the shard prefix and encoded key of one record (see layoutOf
// for write).
func (a *Adapter) target(ctx context.Context, c *driver.Collection, key any, write bool) (*collection, string, string, error) {
	col, err := a.collectionOf(c)
	if err != nil {
		return nil, "", "", err
	}
	l, err := a.layoutOf(ctx, col, write)
	if err != nil {
		return nil, "", "", err
	}
	if err := driver.CheckKey(c, key); err != nil {
		return nil, "", "", err
	}
	pk := string(valuecodec.AppendComponent(nil, key))
	return col, l.shardOf(pk), pk, nil
}

// zrangeLex returns the arguments of ZRANGE key - + BYLEX LIMIT 0 n.
func zrangeLex(key string, n int64) goredis.ZRangeArgs {
	return goredis.ZRangeArgs{Key: key, Start: "-", Stop: "+", ByLex: true, Count: n}
}
