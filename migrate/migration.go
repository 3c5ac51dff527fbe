package migrate

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// Migration is one versioned change to a store's schema: the operations
// that make it (Up) and those that undo it (Down).
type Migration struct {
	// Version orders migrations and identifies them in the history. It
	// must be positive; by convention it is the UTC time the migration was
	// written, as YYYYMMDDhhmmss (strata-migrate new does that).
	Version int64
	// Name says what the migration does, in snake_case ("create_users").
	Name string
	// Up applies the migration; it must not be empty.
	Up []Op
	// Down undoes Up. A migration without Down is irreversible: rolling it
	// back fails with ErrUnsupported before anything runs. Use
	// []Op{Nothing()} when Up leaves nothing to undo, and Reverse to
	// derive Down from Up.
	Down []Op
}

func (m Migration) String() string { return fmt.Sprintf("%d %s", m.Version, m.Name) }

// Op is one step of a migration: a driver.MigrationOp, or the error met
// while building one (a schema struct with a bad tag, an index that does
// not exist), which Migrations.Add reports, so that a mistake in a
// migration is found when the program registers it, not when it runs.
// Build Ops with the functions of this package; the zero Op is invalid.
type Op struct {
	op      driver.MigrationOp
	err     error
	nothing bool
}

// Driver returns the driver operation, or nil for Nothing or an Op that
// failed to build.
func (o Op) Driver() driver.MigrationOp { return o.op }

// Err returns the error met while building the Op, if any.
func (o Op) Err() error {
	switch {
	case o.err != nil:
		return o.err
	case o.op == nil && !o.nothing:
		return fmt.Errorf("%w: empty migration operation (build one with the functions of package migrate)", driver.ErrInvalid)
	}
	return nil
}

// String describes the operation; see Describe.
func (o Op) String() string {
	switch {
	case o.err != nil:
		return "invalid operation: " + o.err.Error()
	case o.nothing:
		return "nothing"
	}
	return Describe(o.op)
}

// Raw wraps a driver operation, for the operations and options (such as
// IfNotExists) that the other functions do not cover.
func Raw(op driver.MigrationOp) Op {
	if op == nil {
		return failed("%w: nil migration operation", driver.ErrInvalid)
	}
	if reflect.ValueOf(op).Kind() == reflect.Pointer {
		return failed("%w: Raw(%T): pass driver operations by value, not a pointer to one", driver.ErrInvalid, op)
	}
	return Op{op: op}
}

// Nothing is an operation that does nothing: Down: []Op{Nothing()} marks
// a migration whose Up leaves nothing to undo as reversible.
func Nothing() Op { return Op{nothing: true} }

func failed(format string, args ...any) Op { return Op{err: fmt.Errorf(format, args...)} }

// CreateTable creates a collection (a table, a bucket, a key prefix) as c
// describes it, with its indexes. Build c with driver.NewCollection, or
// use CreateTableFor.
func CreateTable(c *driver.Collection) Op {
	if c == nil {
		return failed("%w: CreateTable of a nil collection", driver.ErrInvalid)
	}
	return Op{op: driver.CreateCollection{Collection: c}}
}

// CreateTableFor creates the collection of schema struct T, with its
// indexes, as the struct declares it when the program runs. That is what
// a first migration wants, but it is a snapshot of the present struct, not
// of the struct when the migration was written: once a later migration
// changes the collection (AddColumn, say), a store migrated from scratch
// would get the new field from both. Freeze the first migration then: keep
// a copy of the old struct next to it, or use CreateTable with the
// collection spelled out.
func CreateTableFor[T any]() Op {
	s, err := schema.Of[T]()
	if err != nil {
		return failed("CreateTableFor: %w", err)
	}
	return CreateTable(s.Collection)
}

// DropTable drops a collection and all its records.
func DropTable(name string) Op { return Op{op: driver.DropCollection{Name: name}} }

// DropTableFor drops the collection of schema struct T: the Down of
// CreateTableFor[T].
func DropTableFor[T any]() Op {
	s, err := schema.Of[T]()
	if err != nil {
		return failed("DropTableFor: %w", err)
	}
	return DropTable(s.Name())
}

// RenameTable renames a collection.
func RenameTable(from, to string) Op { return Op{op: driver.RenameCollection{From: from, To: to}} }

// AddColumn adds a field to a collection. Existing records get NULL if it
// is nullable, else the zero value of its kind.
func AddColumn(table string, f driver.Field) Op {
	return Op{op: driver.AddField{Collection: table, Field: f}}
}

// AddColumnFor adds the named field of schema struct T (its stored name),
// as the struct declares it, to T's collection.
func AddColumnFor[T any](field string) Op {
	s, err := schema.Of[T]()
	if err != nil {
		return failed("AddColumnFor: %w", err)
	}
	i := s.Collection.FieldIndex(field)
	if i < 0 {
		return failed("AddColumnFor: %w: %s has no field %q", driver.ErrInvalid, s.Name(), field)
	}
	return AddColumn(s.Name(), s.Collection.Fields[i])
}

// DropColumn drops a field and its values.
func DropColumn(table, name string) Op {
	return Op{op: driver.DropField{Collection: table, Name: name}}
}

// RenameColumn renames a field.
func RenameColumn(table, from, to string) Op {
	return Op{op: driver.RenameField{Collection: table, From: from, To: to}}
}

// AlterColumn changes a field's kind, width or nullability to f's.
func AlterColumn(table string, f driver.Field) Op {
	return Op{op: driver.AlterField{Collection: table, Field: f}}
}

// CreateIndex creates (and fills) a secondary index over fields.
func CreateIndex(table, name string, fields ...string) Op {
	return Op{op: driver.CreateIndex{Collection: table, Index: driver.Index{Name: name, Fields: fields}}}
}

// CreateUniqueIndex creates a unique index over fields; it fails if
// stored records already collide in it.
func CreateUniqueIndex(table, name string, fields ...string) Op {
	return Op{op: driver.CreateIndex{Collection: table, Index: driver.Index{Name: name, Fields: fields, Unique: true}}}
}

// CreateIndexFor creates the named index of schema struct T as the struct
// declares it (index names are listed by schema.Of[T]().Collection.Indexes;
// a tag `index` on field f of table t is named t_f_idx, `unique`
// t_f_key).
func CreateIndexFor[T any](name string) Op {
	s, err := schema.Of[T]()
	if err != nil {
		return failed("CreateIndexFor: %w", err)
	}
	names := make([]string, 0, len(s.Collection.Indexes))
	for _, ix := range s.Collection.Indexes {
		if ix.Name == name {
			return Op{op: driver.CreateIndex{Collection: s.Name(), Index: ix}}
		}
		names = append(names, ix.Name)
	}
	return failed("CreateIndexFor: %w: %s has no index %q (it has: %s)", driver.ErrInvalid, s.Name(), name, strings.Join(names, ", "))
}

// DropIndex drops a secondary index.
func DropIndex(table, name string) Op {
	return Op{op: driver.DropIndex{Collection: table, Name: name}}
}

// SQL runs a store-specific statement with parameters (driver.Exec):
// raw SQL on SQL stores. Stores without a statement language refuse it
// with ErrUnsupported, so a migration that uses it ties the app to one
// kind of store.
func SQL(statement string, args ...any) Op {
	return Op{op: driver.Exec{Statement: statement, Args: args}}
}

// Reverse returns the operations that undo ops, last first: a created
// collection, field or index is dropped, a rename is renamed back, and
// Nothing stays nothing. Dropping and altering cannot be reversed (what
// was dropped or altered is not in the operation), nor can SQL; for those
// Reverse returns an invalid Op, which Migrations.Add reports: write Down
// by hand.
func Reverse(ops ...Op) []Op {
	out := make([]Op, 0, len(ops))
	for _, o := range slices.Backward(ops) {
		out = append(out, reverse(o))
	}
	return out
}

func reverse(o Op) Op {
	if o.err != nil || o.nothing {
		return o
	}
	switch op := o.op.(type) {
	case driver.CreateCollection:
		if op.Collection == nil {
			return CreateTable(nil)
		}
		return Op{op: driver.DropCollection{Name: op.Collection.Name, IfExists: op.IfNotExists}}
	case driver.RenameCollection:
		return RenameTable(op.To, op.From)
	case driver.AddField:
		return DropColumn(op.Collection, op.Field.Name)
	case driver.RenameField:
		return RenameColumn(op.Collection, op.To, op.From)
	case driver.CreateIndex:
		return DropIndex(op.Collection, op.Index.Name)
	case nil:
		return Op{}
	}
	return failed("Reverse: %w: %s cannot be reversed; write Down by hand", driver.ErrUnsupported, Describe(o.op))
}

// Describe returns a readable description of a driver operation, such as
// "add field users.bio string null". Dry runs show it for adapters that
// are not a driver.Planner.
func Describe(op driver.MigrationOp) string {
	switch op := op.(type) {
	case driver.CreateCollection:
		if op.Collection == nil {
			return "create collection <nil>"
		}
		c := op.Collection
		var b strings.Builder
		fmt.Fprintf(&b, "create collection %s", c.Name)
		if op.IfNotExists {
			b.WriteString(" if not exists")
		}
		b.WriteString(" (")
		for i, f := range c.Fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(f.Name + " " + fieldType(f))
			if i == c.Key {
				b.WriteString(" primary key")
			}
			if i == c.Version {
				b.WriteString(" version")
			}
		}
		b.WriteString(")")
		for _, ix := range c.Indexes {
			b.WriteString("; " + describeIndex(c.Name, ix))
		}
		return b.String()
	case driver.DropCollection:
		if op.IfExists {
			return "drop collection " + op.Name + " if exists"
		}
		return "drop collection " + op.Name
	case driver.RenameCollection:
		return fmt.Sprintf("rename collection %s to %s", op.From, op.To)
	case driver.AddField:
		return fmt.Sprintf("add field %s.%s %s", op.Collection, op.Field.Name, fieldType(op.Field))
	case driver.DropField:
		return fmt.Sprintf("drop field %s.%s", op.Collection, op.Name)
	case driver.RenameField:
		return fmt.Sprintf("rename field %s.%s to %s", op.Collection, op.From, op.To)
	case driver.AlterField:
		return fmt.Sprintf("alter field %s.%s to %s", op.Collection, op.Field.Name, fieldType(op.Field))
	case driver.CreateIndex:
		return describeIndex(op.Collection, op.Index)
	case driver.DropIndex:
		return fmt.Sprintf("drop index %s on %s", op.Name, op.Collection)
	case driver.Exec:
		if len(op.Args) == 0 {
			return "exec " + op.Statement
		}
		return fmt.Sprintf("exec %s %v", op.Statement, op.Args)
	case nil:
		return "<nil operation>"
	}
	return fmt.Sprintf("%T", op)
}

func describeIndex(table string, ix driver.Index) string {
	kind := "index"
	if ix.Unique {
		kind = "unique index"
	}
	return fmt.Sprintf("create %s %s on %s (%s)", kind, ix.Name, table, strings.Join(ix.Fields, ", "))
}

// fieldType describes a field's type: "int64", "uint32", "string(80)
// null", "int counter".
func fieldType(f driver.Field) string {
	t := f.Kind.String()
	if f.Unsigned {
		t = "u" + t
	}
	if f.Bits != 0 && (f.Kind == driver.KindInt || f.Kind == driver.KindFloat) {
		t += fmt.Sprint(f.Bits)
	}
	if f.Size != 0 {
		t += fmt.Sprintf("(%d)", f.Size)
	}
	if f.Nullable {
		t += " null"
	}
	if f.Merge != driver.MergeLWW {
		t += " " + f.Merge.String()
	}
	return t
}
