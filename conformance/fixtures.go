package conformance

import (
	"time"

	"github.com/strata-go/strata/schema"
)

// The fixture schemas. Every case builds on them; the suite creates their
// collections in each fresh repo (through driver.Migrator, when the
// adapter has one). Their collection names start with "conformance_" so
// that they are easy to recognise in a store.
//
// Only Member has unique fields, and only the cases about unique indexes
// write it: a store without CapUniqueIndexes refuses every write to a
// schema with a unique index (rather than let duplicates in), so the
// general-purpose fixtures have none, and every other case runs there.

// Account is a record with a generated key, a version field and
// timestamps: CRUD, optimistic locking, transactions, context. Its email
// is indexed, not unique (unique values: Member).
type Account struct {
	_       struct{} `strata:"table=conformance_accounts"`
	ID      int64    `strata:"id,pk"`
	Email   string   `strata:"email,index"`
	Name    string   `strata:"name,index"`
	Age     int      `strata:"age"`
	Bio     *string  `strata:"bio"`
	Version int64    `strata:"version,version"`
	schema.Timestamps
}

// Setting is a record whose string primary key the caller sets.
type Setting struct {
	_     struct{} `strata:"table=conformance_settings"`
	Key   string   `strata:"key,pk"`
	Value string   `strata:"value"`
}

// Item is a record without a version field, with one field of each scalar
// kind: queries, paging, partial updates, aggregates. ID, Name and Rank are
// indexed; the other fields are not.
type Item struct {
	_     struct{}  `strata:"table=conformance_items"`
	ID    int64     `strata:"id,pk"`
	Name  string    `strata:"name,index"`
	Rank  int64     `strata:"rank,index"`
	Score float64   `strata:"score"`
	Label *string   `strata:"label"`
	At    time.Time `strata:"at"`
	Done  bool      `strata:"done"`
}

// Role is a named string type.
type Role string

// Tags is a named slice type.
type Tags []string

// Nested is stored as JSON.
type Nested struct {
	A string         `json:"a"`
	B []int          `json:"b"`
	C map[string]int `json:"c,omitempty"`
	F float64        `json:"f,omitempty"`
	D *Nested        `json:"d,omitempty"`
}

// Kinds has a field of every supported Go type.
type Kinds struct {
	_       struct{}       `strata:"table=conformance_kinds"`
	ID      int64          `strata:"id,pk"`
	S       string         `strata:"s"`
	I       int            `strata:"i"`
	I8      int8           `strata:"i8"`
	I16     int16          `strata:"i16"`
	I32     int32          `strata:"i32"`
	I64     int64          `strata:"i64"`
	U       uint           `strata:"u"`
	U8      uint8          `strata:"u8"`
	U16     uint16         `strata:"u16"`
	U32     uint32         `strata:"u32"`
	U64     uint64         `strata:"u64"`
	F32     float32        `strata:"f32"`
	F64     float64        `strata:"f64"`
	B       bool           `strata:"b"`
	T       time.Time      `strata:"t"`
	Bytes   []byte         `strata:"bytes"`
	Strs    []string       `strata:"strs"`
	Role    Role           `strata:"role"`
	Roles   []Role         `strata:"roles"`
	Tags    Tags           `strata:"tags"`
	PS      *string        `strata:"ps"`
	PI      *int64         `strata:"pi"`
	PU8     *uint8         `strata:"pu8"`
	PF      *float64       `strata:"pf"`
	PB      *bool          `strata:"pb"`
	PT      *time.Time     `strata:"pt"`
	PRole   *Role          `strata:"prole"`
	Nested  Nested         `strata:"nested"`
	PNested *Nested        `strata:"pnested"`
	Map     map[string]int `strata:"map"`
	List    []Nested       `strata:"list"`
}

// Stats has a field of each merge policy and no version field, so that
// concurrent changesets merge instead of failing as stale.
type Stats struct {
	_     struct{} `strata:"table=conformance_stats"`
	ID    int64    `strata:"id,pk"`
	Hits  int64    `strata:"hits,merge=counter"`
	Tags  []string `strata:"tags,merge=set"`
	High  int64    `strata:"high,merge=max"`
	Title string   `strata:"title"`
	Seen  bool     `strata:"seen,merge=flag"`
}

// Author has many Posts (a slice of structs) and one Profile.
type Author struct {
	_       struct{} `strata:"table=conformance_authors"`
	ID      int64    `strata:"id,pk"`
	Name    string   `strata:"name"`
	Posts   []Post   `strata:"posts,has_many=author_id"`
	Profile *Profile `strata:"profile,has_one=author_id"`
}

// Post belongs to an Author and has many Comments (a slice of pointers).
type Post struct {
	_        struct{}   `strata:"table=conformance_posts"`
	ID       int64      `strata:"id,pk"`
	AuthorID int64      `strata:"author_id"`
	Title    string     `strata:"title"`
	Author   *Author    `strata:"author,belongs_to=author_id"`
	Comments []*Comment `strata:"comments,has_many=post_id"`
}

// Comment belongs to a Post.
type Comment struct {
	_      struct{} `strata:"table=conformance_comments"`
	ID     int64    `strata:"id,pk"`
	PostID int64    `strata:"post_id,index"`
	Body   string   `strata:"body"`
	Post   *Post    `strata:"post,belongs_to=post_id"`
}

// Profile belongs to an Author (its has_one).
type Profile struct {
	_        struct{} `strata:"table=conformance_profiles"`
	ID       int64    `strata:"id,pk"`
	AuthorID int64    `strata:"author_id,index"`
	Bio      string   `strata:"bio"`
}

// Visitor has a version and timestamps and no unique field: upserts on
// the primary key. Its email is indexed, not unique.
type Visitor struct {
	_       struct{} `strata:"table=conformance_visitors"`
	ID      int64    `strata:"id,pk"`
	Email   string   `strata:"email,index"`
	Handle  string   `strata:"handle"`
	Name    string   `strata:"name"`
	Visits  int64    `strata:"visits"`
	Version int64    `strata:"version,version"`
	schema.Timestamps
}

// Member has two unique fields (their indexes are
// conformance_members_email_key and conformance_members_handle_key), a
// version and timestamps: the cases about unique indexes, and only they,
// write it. Its collection is created only in stores with
// CapUniqueIndexes.
type Member struct {
	_       struct{} `strata:"table=conformance_members"`
	ID      int64    `strata:"id,pk"`
	Email   string   `strata:"email,unique"`
	Handle  string   `strata:"handle,unique"`
	Name    string   `strata:"name"`
	Visits  int64    `strata:"visits"`
	Version int64    `strata:"version,version"`
	schema.Timestamps
}

// Dynamic has JSON fields that are nil without being pointers: an any and
// a map. Left nil they are stored as JSON null, never as NULL.
type Dynamic struct {
	_   struct{}       `strata:"table=conformance_dynamic"`
	ID  int64          `strata:"id,pk"`
	Any any            `strata:"any"`
	Map map[string]any `strata:"map"`
}

// The schemas with bad tags: using them is an error wrapping ErrInvalid
// that names the struct and the field. They are never migrated.

// BadOption has an unknown tag option.
type BadOption struct {
	ID   int64  `strata:"id,pk"`
	Size string `strata:"size,bogus"`
}

// BadMerge has a merge policy that does not fit its field's type.
type BadMerge struct {
	ID    int64  `strata:"id,pk"`
	Title string `strata:"title,merge=counter"`
}

// BadAssoc has a has_many association on a field that is not a slice.
type BadAssoc struct {
	ID    int64   `strata:"id,pk"`
	Posts *Post   `strata:"posts,has_many=author_id"`
	Note  *string `strata:"note"`
}

// fixtureSchemas are the schemas whose collections every repo gets (those
// with a unique index, Member, only where the store has
// CapUniqueIndexes).
var fixtureSchemas = []func() (*schema.Schema, error){
	schema.Of[Account], schema.Of[Setting], schema.Of[Item], schema.Of[Kinds], schema.Of[Stats],
	schema.Of[Author], schema.Of[Post], schema.Of[Comment], schema.Of[Profile], schema.Of[Visitor],
	schema.Of[Member], schema.Of[Dynamic],
}

// The unique indexes of Member.
const (
	memberEmailKey  = "conformance_members_email_key"
	memberHandleKey = "conformance_members_handle_key"
)

// uniqueCollection is the collection of Member, the one fixture with
// unique indexes.
const uniqueCollection = "conformance_members"

// hasUnique reports whether s has a unique index.
func hasUnique(s *schema.Schema) bool {
	for _, ix := range s.Collection.Indexes {
		if ix.Unique {
			return true
		}
	}
	return false
}
