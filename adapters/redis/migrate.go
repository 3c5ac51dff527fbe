package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/strata-go/strata/repo/driver"
)

// Migrate applies a schema operation (driver.Migrator). Redis has no
// schema: the namespace's meta hash records each collection's shard count,
// fields and indexes, so that operations can be checked, and the data
// changes where an operation needs it:
//
//   - CreateIndex backfills the index, shard by shard, in batches (a
//     unique index fails with a *driver.ConstraintError on the first
//     collision, and is dropped again); writers must already know the
//     index (run code that declares it) so that no write misses it;
//   - DropIndex deletes the index's sorted sets;
//   - DropField and RenameField rewrite every record's hash, in batches;
//   - AddField needs nothing: a record without the field reads it as NULL
//     or, if the field is not nullable, the zero value, and its index
//     entries hold the same;
//   - AlterField may change nullability (the indexes over the field are
//     built again) and widths, not the kind;
//   - DropCollection deletes every record and index;
//   - RenameCollection is ErrUnsupported: keys are named by collection, so
//     it would move every record;
//   - Exec runs a Redis command: Statement is its name, Args its
//     arguments.
//
// Operations on different collections may run at once; package migrate
// holds the adapter's lock (Lock) so that migrators do not.
func (a *Adapter) Migrate(ctx context.Context, op driver.MigrationOp) error {
	err := a.migrate(ctx, op)
	if err != nil {
		return fmt.Errorf("redis: migrate %T: %w", op, err)
	}
	return nil
}

// fullMeta is a collection's entry in the meta hash.
type fullMeta struct {
	meta
	Fields []driver.Field `json:"fields,omitempty"`
}

func (a *Adapter) migrate(ctx context.Context, op driver.MigrationOp) error {
	switch op := op.(type) {
	case driver.CreateCollection:
		c := op.Collection
		col, err := a.collectionOf(c)
		if err != nil {
			return err
		}
		m := fullMeta{meta: meta{Shards: a.opts.Shards, Indexes: c.Indexes}, Fields: c.Fields}
		if col.unique {
			m.Shards = 1
		}
		b, _ := json.Marshal(m)
		created, err := a.client.HSetNX(ctx, a.metaKey(), c.Name, b).Result()
		if err != nil {
			return err
		}
		if !created && !op.IfNotExists {
			return fmt.Errorf("collection %s exists: %w", c.Name, driver.ErrConflict)
		}
		return nil
	case driver.DropCollection:
		m, err := a.fullMeta(ctx, op.Name)
		if errors.Is(err, driver.ErrNotFound) && op.IfExists {
			return nil
		}
		if err != nil {
			return err
		}
		return a.dropCollection(ctx, op.Name, m)
	case driver.RenameCollection:
		return fmt.Errorf("%w: keys are named by collection: renaming %s would move every record; copy it instead", driver.ErrUnsupported, op.From)
	case driver.AddField:
		return a.changeMeta(ctx, op.Collection, func(m *fullMeta) error {
			if m.field(op.Field.Name) >= 0 {
				return fmt.Errorf("field %s.%s exists: %w", op.Collection, op.Field.Name, driver.ErrConflict)
			}
			m.Fields = append(m.Fields, op.Field)
			return nil
		})
	case driver.DropField:
		var idx []driver.Index
		err := a.changeMeta(ctx, op.Collection, func(m *fullMeta) error {
			i := m.field(op.Name)
			if i < 0 {
				return fmt.Errorf("field %s.%s: %w", op.Collection, op.Name, driver.ErrNotFound)
			}
			m.Fields = slices.Delete(m.Fields, i, i+1)
			m.Indexes = slices.DeleteFunc(m.Indexes, func(ix driver.Index) bool {
				if slices.Contains(ix.Fields, op.Name) {
					idx = append(idx, ix)
					return true
				}
				return false
			})
			return nil
		})
		if err != nil {
			return err
		}
		for _, ix := range idx {
			if err := a.deleteIndex(ctx, op.Collection, ix.Name); err != nil {
				return err
			}
		}
		return a.eachBatch(ctx, op.Collection, "hdel", op.Name)
	case driver.RenameField:
		err := a.changeMeta(ctx, op.Collection, func(m *fullMeta) error {
			i := m.field(op.From)
			if i < 0 {
				return fmt.Errorf("field %s.%s: %w", op.Collection, op.From, driver.ErrNotFound)
			}
			if m.field(op.To) >= 0 {
				return fmt.Errorf("field %s.%s exists: %w", op.Collection, op.To, driver.ErrConflict)
			}
			m.Fields[i].Name = op.To
			for _, ix := range m.Indexes {
				for j, f := range ix.Fields {
					if f == op.From {
						ix.Fields[j] = op.To
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return a.eachBatch(ctx, op.Collection, "rename", op.From, op.To)
	case driver.AlterField:
		rebuild := false
		err := a.changeMeta(ctx, op.Collection, func(m *fullMeta) error {
			i := m.field(op.Field.Name)
			if i < 0 {
				return fmt.Errorf("field %s.%s: %w", op.Collection, op.Field.Name, driver.ErrNotFound)
			}
			if m.Fields[i].Kind != op.Field.Kind {
				return fmt.Errorf("%w: changing %s.%s from %s to %s would rewrite every record; add a new field instead",
					driver.ErrUnsupported, op.Collection, op.Field.Name, m.Fields[i].Kind, op.Field.Kind)
			}
			rebuild = m.Fields[i].Nullable != op.Field.Nullable
			m.Fields[i] = op.Field
			return nil
		})
		if err != nil || !rebuild {
			return err
		}
		return a.rebuildIndexes(ctx, op.Collection, op.Field.Name)
	case driver.CreateIndex:
		return a.createIndex(ctx, op)
	case driver.DropIndex:
		err := a.changeMeta(ctx, op.Collection, func(m *fullMeta) error {
			i := slices.IndexFunc(m.Indexes, func(ix driver.Index) bool { return ix.Name == op.Name })
			if i < 0 {
				return fmt.Errorf("index %s of %s: %w", op.Name, op.Collection, driver.ErrNotFound)
			}
			m.Indexes = slices.Delete(m.Indexes, i, i+1)
			return nil
		})
		if err != nil {
			return err
		}
		return a.deleteIndex(ctx, op.Collection, op.Name)
	case driver.Exec:
		if op.Statement == "" {
			return fmt.Errorf("%w: Exec without a command", driver.ErrInvalid)
		}
		return a.client.Do(ctx, append([]any{op.Statement}, op.Args...)...).Err()
	}
	return fmt.Errorf("%w: unknown migration operation %T", driver.ErrUnsupported, op)
}

func (m *fullMeta) field(name string) int {
	return slices.IndexFunc(m.Fields, func(f driver.Field) bool { return f.Name == name })
}

func (a *Adapter) fullMeta(ctx context.Context, name string) (fullMeta, error) {
	var m fullMeta
	b, err := a.client.HGet(ctx, a.metaKey(), name).Bytes()
	if isNil(err) {
		return m, fmt.Errorf("collection %s: %w", name, driver.ErrNotFound)
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("bad meta of collection %s: %w", name, err)
	}
	return m, nil
}

// changeMeta rewrites a collection's meta entry. (Migrations hold the
// adapter's lock, so a read and a write suffice.)
func (a *Adapter) changeMeta(ctx context.Context, name string, change func(*fullMeta) error) error {
	m, err := a.fullMeta(ctx, name)
	if err != nil {
		return err
	}
	if err := change(&m); err != nil {
		return err
	}
	b, _ := json.Marshal(m)
	return a.client.HSet(ctx, a.metaKey(), name, b).Err()
}

// eachBatch runs a batch step over every record of a collection.
func (a *Adapter) eachBatch(ctx context.Context, name string, step string, args ...any) error {
	m, err := a.fullMeta(ctx, name)
	if err != nil {
		return err
	}
	for _, shard := range a.newLayout(name, m.Shards).tags {
		start := "-"
		for {
			res, err := a.call(ctx, fnBatch, []string{shard}, append([]any{step, start, 256}, args...)...)
			if err != nil {
				return err
			}
			status, rest := reply(res)
			if status == "unique" {
				ixName, _ := rest[0].(string)
				return &driver.ConstraintError{Kind: driver.Unique, Collection: name, Name: ixName}
			}
			if status != "ok" || len(rest) != 2 {
				return fmt.Errorf("unexpected reply %v", res)
			}
			n, _ := rest[0].(int64)
			last, _ := rest[1].(string)
			if n < 256 {
				break
			}
			start = "(" + last
		}
	}
	return nil
}

func (a *Adapter) createIndex(ctx context.Context, op driver.CreateIndex) error {
	var line string
	err := a.changeMeta(ctx, op.Collection, func(m *fullMeta) error {
		if slices.ContainsFunc(m.Indexes, func(ix driver.Index) bool { return ix.Name == op.Index.Name }) {
			return fmt.Errorf("index %s of %s exists: %w", op.Index.Name, op.Collection, driver.ErrConflict)
		}
		if op.Index.Unique && m.Shards > 1 {
			return fmt.Errorf("%w: a unique index on %s, which has %d shards: Redis checks uniqueness atomically only within a slot",
				driver.ErrUnsupported, op.Collection, m.Shards)
		}
		var err error
		if line, err = m.indexLine(op.Collection, op.Index); err != nil {
			return err
		}
		m.Indexes = append(m.Indexes, op.Index)
		return nil
	})
	if err != nil {
		return err
	}
	if err := a.eachBatch(ctx, op.Collection, "index", line); err != nil {
		_ = a.changeMeta(ctx, op.Collection, func(m *fullMeta) error {
			m.Indexes = slices.DeleteFunc(m.Indexes, func(ix driver.Index) bool { return ix.Name == op.Index.Name })
			return nil
		})
		_ = a.deleteIndex(ctx, op.Collection, op.Index.Name)
		return err
	}
	return nil
}

// indexLine returns the descriptor line of index ix of collection name
// (see lua/strata.lua).
func (m *fullMeta) indexLine(name string, ix driver.Index) (string, error) {
	line := ix.Name + "\tn"
	if ix.Unique {
		line = ix.Name + "\tu"
	}
	for _, f := range ix.Fields {
		i := m.field(f)
		if i < 0 {
			return "", fmt.Errorf("field %s.%s: %w", name, f, driver.ErrNotFound)
		}
		k := kindChar(m.Fields[i].Kind)
		if k == 0 {
			return "", fmt.Errorf("%w: %s.%s is a %s field; only scalar fields can be indexed", driver.ErrUnsupported, name, f, m.Fields[i].Kind)
		}
		line += "\t" + f + "\t" + string(k) + "\t" + absent(m.Fields[i])
	}
	return line, nil
}

// rebuildIndexes builds again the indexes of collection name over field
// (after its nullability changed, and with it what a record without the
// field holds in them).
func (a *Adapter) rebuildIndexes(ctx context.Context, name, field string) error {
	m, err := a.fullMeta(ctx, name)
	if err != nil {
		return err
	}
	for _, ix := range m.Indexes {
		if !slices.Contains(ix.Fields, field) {
			continue
		}
		line, err := m.indexLine(name, ix)
		if err != nil {
			return err
		}
		if err := a.deleteIndex(ctx, name, ix.Name); err != nil {
			return err
		}
		if err := a.eachBatch(ctx, name, "index", line); err != nil {
			return err
		}
	}
	return nil
}

// deleteIndex deletes an index's sorted set in every shard.
func (a *Adapter) deleteIndex(ctx context.Context, name, index string) error {
	m, err := a.fullMeta(ctx, name)
	if err != nil {
		return err
	}
	for _, shard := range a.newLayout(name, m.Shards).tags {
		if err := a.client.Del(ctx, shard+":i:"+index).Err(); err != nil {
			return err
		}
	}
	return nil
}

// dropCollection deletes every record of a collection (found through its
// primary-key index), its indexes and its meta entry.
func (a *Adapter) dropCollection(ctx context.Context, name string, m fullMeta) error {
	for _, shard := range a.newLayout(name, m.Shards).tags {
		for {
			pks, err := a.client.ZRangeArgs(ctx, zrangeLex(shard+":k", 512)).Result()
			if err != nil {
				return err
			}
			if len(pks) == 0 {
				break
			}
			keys := make([]string, len(pks))
			members := make([]any, len(pks))
			for i, pk := range pks {
				keys[i] = shard + ":r:" + pk
				members[i] = pk
			}
			if err := a.client.Del(ctx, keys...).Err(); err != nil {
				return err
			}
			if err := a.client.ZRem(ctx, shard+":k", members...).Err(); err != nil {
				return err
			}
		}
		keys := []string{shard + ":k", shard + ":x"}
		for _, ix := range m.Indexes {
			keys = append(keys, shard+":i:"+ix.Name)
		}
		// Also the indexes the code declares but the meta lacks.
		a.collections.Range(func(_, v any) bool {
			if col := v.(*collection); col.Name == name {
				for _, ix := range col.indexes {
					keys = append(keys, shard+":i:"+ix.name)
				}
			}
			return true
		})
		if err := a.client.Del(ctx, keys...).Err(); err != nil {
			return err
		}
	}
	a.layouts.Delete(name)
	return a.client.HDel(ctx, a.metaKey(), name).Err()
}
