package driver

// Record is one stored record: a value per field of its collection, in the
// order of [Collection.Fields], each nil or of its field's canonical type
// (see [Kind]).
type Record struct {
	Values []any
	// Meta is opaque store metadata that travels with the record from a
	// read to the next write of it (Riak's causal context, for example).
	// The portable layer never looks inside it. Adapters that need none
	// leave it nil.
	Meta []byte
}

// Key returns the record's primary-key value.
func (r Record) Key(c *Collection) any { return r.Values[c.Key] }

// ChangeOp is how a [Change] applies its value to a field.
type ChangeOp uint8

// The change operations. The portable layer chooses the operation from the
// field's merge policy: Increment for MergeCounter fields, Add and Remove for
// MergeSet fields, SetMax for MergeMax fields, Set for everything else.
const (
	// Set replaces the value (nil sets NULL on a nullable field).
	Set ChangeOp = iota + 1
	// Increment adds an int64 (possibly negative) to a KindInt field.
	Increment
	// Add adds the []string Value to a set field, ignoring elements
	// already present.
	Add
	// Remove removes the []string Value from a set field, ignoring
	// elements not present.
	Remove
	// SetMax replaces the value only if the new value is greater
	// (by [Compare]); a NULL is replaced by any value.
	SetMax
)

func (op ChangeOp) String() string {
	switch op {
	case Set:
		return "set"
	case Increment:
		return "increment"
	case Add:
		return "add"
	case Remove:
		return "remove"
	case SetMax:
		return "max"
	}
	return "ChangeOp(?)"
}

// Change is a change to one field.
type Change struct {
	// Field is the index of the field in [Collection.Fields].
	Field int
	Op    ChangeOp
	Value any
}

// Update is a partial update of the record with key Key. Only the fields
// named in Changes are written; every change applies atomically with the
// others, against the record as stored (so two concurrent updates that
// touch different fields, or increment the same counter, both take effect).
// Changes apply in order.
//
// Edge cases every adapter treats alike: Increment on NULL counts from 0,
// and one that overflows int64 is ErrInvalid; Add on NULL creates the
// list; Remove on NULL leaves NULL; Add and Remove never leave duplicates;
// a list emptied by Remove is an empty list, not NULL; a change to the
// primary key is ErrInvalid; ExpectVersion on a collection without a
// version field is ErrInvalid.
type Update struct {
	Key     any
	Changes []Change
	// ExpectVersion, when not nil, makes the update conditional: it applies
	// only if the record's version field (Collection.Version) still holds
	// this value, and fails with ErrStale otherwise (atomically with the
	// write where the store has CapConditionalWrites). The portable layer
	// then also includes a Set of the version field to the next version.
	ExpectVersion *int64
	// Meta is the metadata of the record as last read, or nil.
	Meta []byte
}

// Delete deletes the record with key Key.
type Delete struct {
	Key any
	// ExpectVersion, when not nil, makes the delete conditional, as for
	// Update: ErrStale if the version no longer matches.
	ExpectVersion *int64
	// Meta is the metadata of the record as last read, or nil.
	Meta []byte
}

// InsertOptions modify an insert.
type InsertOptions struct {
	// OnConflict, when not nil, turns the insert into an upsert: if the
	// record collides with an existing one on the Target constraint, the
	// existing record is left alone (DoNothing) or updated instead. Only
	// adapters with CapUpsert are given one.
	OnConflict *OnConflict
}

// OnConflict describes an upsert. It must be atomic: the check for a
// collision and the insert or update are one step (SQL's ON CONFLICT),
// and inside a transaction a collision does not abort the transaction.
type OnConflict struct {
	// Target is the constraint whose violation triggers the update: the
	// Name of a unique [Index], or PrimaryKeyConstraint. A violation of any
	// other constraint is still a *ConstraintError.
	Target string
	// DoNothing leaves the existing record as it is; Insert then returns
	// a Record with nil Values, meaning "not inserted".
	DoNothing bool
	// Replace lists the indexes of the fields to overwrite with the new
	// record's values (unless DoNothing). The primary key is never
	// replaced. If the
	// collection has a version field, the adapter increments the stored
	// version as part of the update.
	Replace []int
}
