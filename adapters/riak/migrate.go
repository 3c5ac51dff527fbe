package riak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"

	"github.com/strata-go/strata/adapters/riak/pb"
	"github.com/strata-go/strata/repo/driver"
)

// meta is what the adapter records of a collection, in the bucket
// ns._collections (key: the collection's name).
type meta struct {
	Fields  []driver.Field `json:"fields"`
	Key     string         `json:"key"`
	Version string         `json:"version,omitempty"`
	Indexes []driver.Index `json:"indexes,omitempty"`
}

func (a *Adapter) metaBucket() []byte { return []byte(a.opts.Namespace + "._collections") }

// Migrate applies a schema operation (driver.Migrator):
//
//   - CreateCollection gives the bucket allow_mult=true (and n_val) and
//     records the collection;
//   - DropCollection deletes every record;
//   - CreateIndex rewrites every record with its new 2i entries (writers
//     must already know the index);
//   - DropIndex, AddField, DropField and AlterField change the record
//     only: records keep stale index entries and fields, which nothing
//     reads (a field added reads as NULL or its zero value);
//   - RenameField rewrites every record;
//   - Exec sets properties: Statement "bucket_props" with Args
//     (collection name, *riak.RpbBucketProps) sets a collection's bucket's,
//     "bucket_type_props" with Args (*riak.RpbBucketProps) sets the
//     adapter's bucket type's (Riak creates bucket types only through
//     `riak admin bucket-type create`);
//   - RenameCollection is ErrUnsupported.
func (a *Adapter) Migrate(ctx context.Context, op driver.MigrationOp) error {
	if err := a.migrate(ctx, op); err != nil {
		return fmt.Errorf("riak: migrate %T: %w", op, err)
	}
	return nil
}

func (a *Adapter) migrate(ctx context.Context, op driver.MigrationOp) error {
	switch op := op.(type) {
	case driver.CreateCollection:
		c := op.Collection
		m := meta{Fields: c.Fields, Key: c.Fields[c.Key].Name, Indexes: c.Indexes}
		if c.Version >= 0 {
			m.Version = c.Fields[c.Version].Name
		}
		// The bucket first, then the record of the collection: a failed
		// creation is retried whole, and never leaves a collection whose
		// bucket would drop siblings.
		props := &riak.RpbBucketProps{AllowMult: proto.Bool(true), LastWriteWins: proto.Bool(false)}
		if a.opts.NVal > 0 {
			props.NVal = proto.Uint32(a.opts.NVal)
		}
		col := a.collectionOf(c)
		if err := a.c.SetBucket(ctx, &riak.RpbSetBucketReq{Bucket: col.bucket, Type: col.typ, Props: props}); err != nil {
			return err
		}
		err := a.putMeta(ctx, c.Name, m, true)
		var re *pb.Error
		if errors.As(err, &re) && re.Message == "match_found" {
			if op.IfNotExists {
				return nil
			}
			return fmt.Errorf("collection %s exists: %w", c.Name, driver.ErrConflict)
		}
		return err
	case driver.DropCollection:
		m, err := a.getMeta(ctx, op.Name)
		if errors.Is(err, driver.ErrNotFound) && op.IfExists {
			return nil
		}
		if err != nil {
			return err
		}
		c, err := m.collection(op.Name)
		if err != nil {
			return err
		}
		if _, err := a.DeleteAll(ctx, c, &driver.Query{FullScan: true}); err != nil {
			return err
		}
		return a.c.Delete(ctx, &riak_kv.RpbDelReq{Bucket: a.metaBucket(), Key: []byte(op.Name), Type: []byte(a.opts.BucketType)})
	case driver.CreateIndex:
		m, err := a.getMeta(ctx, op.Collection)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(m.Indexes, func(ix driver.Index) bool { return ix.Name == op.Index.Name }) {
			return fmt.Errorf("index %s of %s exists: %w", op.Index.Name, op.Collection, driver.ErrConflict)
		}
		m.Indexes = append(m.Indexes, op.Index)
		c, err := m.collection(op.Collection)
		if err != nil {
			return err
		}
		if err := a.rewrite(ctx, c, nil); err != nil {
			return err
		}
		return a.putMeta(ctx, op.Collection, m, false)
	case driver.DropIndex:
		return a.changeMeta(ctx, op.Collection, func(m *meta) error {
			i := slices.IndexFunc(m.Indexes, func(ix driver.Index) bool { return ix.Name == op.Name })
			if i < 0 {
				return fmt.Errorf("index %s of %s: %w", op.Name, op.Collection, driver.ErrNotFound)
			}
			m.Indexes = slices.Delete(m.Indexes, i, i+1)
			return nil
		})
	case driver.AddField:
		return a.changeMeta(ctx, op.Collection, func(m *meta) error {
			if m.field(op.Field.Name) >= 0 {
				return fmt.Errorf("field %s.%s exists: %w", op.Collection, op.Field.Name, driver.ErrConflict)
			}
			m.Fields = append(m.Fields, op.Field)
			return nil
		})
	case driver.DropField:
		return a.changeMeta(ctx, op.Collection, func(m *meta) error {
			i := m.field(op.Name)
			if i < 0 {
				return fmt.Errorf("field %s.%s: %w", op.Collection, op.Name, driver.ErrNotFound)
			}
			m.Fields = slices.Delete(m.Fields, i, i+1)
			return nil
		})
	case driver.AlterField:
		return a.changeMeta(ctx, op.Collection, func(m *meta) error {
			i := m.field(op.Field.Name)
			if i < 0 {
				return fmt.Errorf("field %s.%s: %w", op.Collection, op.Field.Name, driver.ErrNotFound)
			}
			if m.Fields[i].Kind != op.Field.Kind || m.Fields[i].Merge != op.Field.Merge {
				return fmt.Errorf("%w: changing the kind or merge policy of %s.%s would rewrite every record", driver.ErrUnsupported, op.Collection, op.Field.Name)
			}
			m.Fields[i] = op.Field
			return nil
		})
	case driver.RenameField:
		m, err := a.getMeta(ctx, op.Collection)
		if err != nil {
			return err
		}
		i := m.field(op.From)
		if i < 0 {
			return fmt.Errorf("field %s.%s: %w", op.Collection, op.From, driver.ErrNotFound)
		}
		if m.field(op.To) >= 0 {
			return fmt.Errorf("field %s.%s exists: %w", op.Collection, op.To, driver.ErrConflict)
		}
		old, err := m.collection(op.Collection)
		if err != nil {
			return err
		}
		// (old shares m's slices: edit copies.)
		m.Fields = slices.Clone(m.Fields)
		m.Fields[i].Name = op.To
		m.Indexes = slices.Clone(m.Indexes)
		for k, ix := range m.Indexes {
			ix.Fields = slices.Clone(ix.Fields)
			for j, f := range ix.Fields {
				if f == op.From {
					ix.Fields[j] = op.To
				}
			}
			m.Indexes[k] = ix
		}
		if m.Key == op.From {
			m.Key = op.To
		}
		if m.Version == op.From {
			m.Version = op.To
		}
		next, err := m.collection(op.Collection)
		if err != nil {
			return err
		}
		err = a.rewrite(ctx, old, func(st *state) {
			if fs, ok := st.fields[op.From]; ok {
				st.fields[op.To] = fs
				delete(st.fields, op.From)
			}
		}, next)
		if err != nil {
			return err
		}
		return a.putMeta(ctx, op.Collection, m, false)
	case driver.RenameCollection:
		return fmt.Errorf("%w: a collection is a bucket: renaming %s would copy every record", driver.ErrUnsupported, op.From)
	case driver.Exec:
		return a.exec(ctx, op)
	}
	return fmt.Errorf("%w: unknown migration operation %T", driver.ErrUnsupported, op)
}

func (m *meta) field(name string) int {
	return slices.IndexFunc(m.Fields, func(f driver.Field) bool { return f.Name == name })
}

func (m *meta) collection(name string) (*driver.Collection, error) {
	return driver.NewCollection(name, m.Fields, m.Key, m.Version, m.Indexes, driver.AP)
}

func (a *Adapter) getMeta(ctx context.Context, name string) (meta, error) {
	var m meta
	resp, err := a.c.Get(ctx, &riak_kv.RpbGetReq{Bucket: a.metaBucket(), Key: []byte(name), Type: []byte(a.opts.BucketType)})
	if err != nil {
		return m, err
	}
	var found bool
	for _, c := range resp.GetContent() {
		if !c.GetDeleted() && json.Unmarshal(c.GetValue(), &m) == nil {
			found = true
			break
		}
	}
	if !found {
		return m, fmt.Errorf("collection %s: %w", name, driver.ErrNotFound)
	}
	return m, nil
}

func (a *Adapter) putMeta(ctx context.Context, name string, m meta, create bool) error {
	b, _ := json.Marshal(m)
	req := &riak_kv.RpbPutReq{Bucket: a.metaBucket(), Key: []byte(name), Type: []byte(a.opts.BucketType),
		Content: &riak_kv.RpbContent{Value: b, ContentType: []byte("application/json")}}
	if create {
		req.IfNoneMatch = proto.Bool(true)
	} else {
		resp, err := a.c.Get(ctx, &riak_kv.RpbGetReq{Bucket: a.metaBucket(), Key: []byte(name), Type: []byte(a.opts.BucketType)})
		if err != nil {
			return err
		}
		req.Vclock = resp.GetVclock()
	}
	_, err := a.c.Put(ctx, req)
	return err
}

func (a *Adapter) changeMeta(ctx context.Context, name string, change func(*meta) error) error {
	m, err := a.getMeta(ctx, name)
	if err != nil {
		return err
	}
	if err := change(&m); err != nil {
		return err
	}
	return a.putMeta(ctx, name, m, false)
}

// rewrite reads every record of c and writes it again (through change,
// if not nil, and as a record of next, if given): its 2i entries are then
// those of next's indexes.
func (a *Adapter) rewrite(ctx context.Context, c *driver.Collection, change func(*state), next ...*driver.Collection) error {
	to := c
	if len(next) > 0 {
		to = next[0]
	}
	col := a.newCollection(c)
	var keys [][]byte
	err := a.read(ctx, col, plan{index: "$key", min: everything[0], max: everything[1]}, 0, map[string]bool{}, func(vals []any) bool {
		keys = append(keys, keyOf(vals[c.Key]))
		return true
	})
	if err != nil {
		return err
	}
	tcol := a.newCollection(to)
	for _, k := range keys {
		obj, found, err := a.fetch(ctx, col, k)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		if change != nil {
			change(obj.st)
		}
		vals, err := obj.st.values(to)
		if err != nil {
			return err
		}
		if err := a.store(ctx, tcol, k, obj, vals, false); err != nil {
			return err
		}
	}
	return nil
}

// exec runs the Exec statements the adapter knows: bucket and bucket-type
// properties.
func (a *Adapter) exec(ctx context.Context, op driver.Exec) error {
	props := func(i int) (*riak.RpbBucketProps, error) {
		if i < len(op.Args) {
			if p, ok := op.Args[i].(*riak.RpbBucketProps); ok && p != nil {
				return p, nil
			}
		}
		return nil, fmt.Errorf("%w: %s wants a *riak.RpbBucketProps as argument %d", driver.ErrInvalid, op.Statement, i+1)
	}
	merging := func(p *riak.RpbBucketProps) error {
		if (p.AllowMult != nil && !p.GetAllowMult()) || p.GetLastWriteWins() {
			return fmt.Errorf("%w: %s: allow_mult=false or last_write_wins=true would drop the siblings the adapter merges", driver.ErrInvalid, op.Statement)
		}
		return nil
	}
	switch op.Statement {
	case "bucket_props":
		var name string
		if len(op.Args) > 0 {
			name, _ = op.Args[0].(string)
		}
		if len(op.Args) < 2 || name == "" {
			return fmt.Errorf("%w: bucket_props wants a collection name and a *riak.RpbBucketProps", driver.ErrInvalid)
		}
		p, err := props(1)
		if err != nil {
			return err
		}
		if err := merging(p); err != nil {
			return err
		}
		return a.c.SetBucket(ctx, &riak.RpbSetBucketReq{Bucket: []byte(a.opts.Namespace + "." + name), Type: []byte(a.opts.BucketType), Props: p})
	case "bucket_type_props":
		p, err := props(0)
		if err != nil {
			return err
		}
		if err := merging(p); err != nil {
			return err
		}
		return a.c.SetBucketType(ctx, &riak.RpbSetBucketTypeReq{Type: []byte(a.opts.BucketType), Props: p})
	}
	return fmt.Errorf("%w: unknown statement %q (want bucket_props or bucket_type_props)", driver.ErrUnsupported, op.Statement)
}
