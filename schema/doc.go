// Package schema turns tagged Go structs into Strata schemas and holds
// changesets, Strata's unit of validated, partial change.
//
// # Schemas
//
// A schema is a struct whose exported fields are stored. The `strata` tag
// names a field and sets its options:
//
//	type Post struct {
//		_          struct{}  `strata:"table=posts,consistency=cp"`
//		ID         int64     `strata:"id,pk"`
//		AuthorID   int64     `strata:"author_id"`
//		Title      string    `strata:"title,index"`
//		Slug       string    `strata:"slug,unique"`
//		Likes      int64     `strata:"likes,merge=counter"`
//		Tags       []string  `strata:"tags,merge=set"`
//		Version    int64     `strata:"version,version"`
//		Author     *Author   `strata:"author,belongs_to=author_id"`
//		Comments   []Comment `strata:"comments,has_many=post_id"`
//		schema.Timestamps
//	}
//
// The first tag element is the stored name (default: the field name in
// snake_case); "-" skips the field. Options:
//
//	pk                 the primary key (default: the field stored as "id").
//	                   An int key that is zero on insert gets a snowflake
//	                   ID from the repo; a string key must be set.
//	index, index=NAME  a secondary index; fields sharing NAME form one
//	                   composite index, in field order; index=A|B puts
//	                   the field in composite indexes A and B
//	unique, unique=NAME a unique index, likewise
//	size=N             at most N characters (string) or bytes ([]byte);
//	                   longer values are refused
//	merge=POLICY       lww (default), counter (int64 or int), set ([]string),
//	                   max (ints, floats, strings, times), flag (bool)
//	version            the optimistic-lock version (an int field)
//	inserted_at        set to the current time on insert (a time.Time)
//	updated_at         set to the current time on insert and update
//	belongs_to=FK      an association: FK is this schema's field holding
//	                   the related record's primary key
//	has_many=FK        an association: FK is the related schema's field
//	has_one=FK         holding this record's primary key
//
// A blank field `_ struct{}` carries schema-wide options: table=NAME (the
// collection name; default: the type name in snake_case) and
// consistency=ap|cp. An anonymous struct field without a tag is flattened
// into the schema, as encoding/json does; a field of type [Meta] holds the
// store's metadata for the record and is not stored.
//
// Types: string, every int and uint size (unsigned values above MaxInt64
// are rejected), float32 and float64 (finite), bool, time.Time (stored in
// UTC with microsecond precision, years 1–9999), []byte, []string, and
// pointers to any of these for nullable fields. Other structs, maps,
// slices and arrays are stored as JSON. Strings must be valid UTF-8
// without NUL bytes. Values that break these rules are rejected with an
// error wrapping driver.ErrInvalid, never stored half-way.
//
// Parsing happens once per type, at first use, and its result is cached
// (as encoding/json caches its field lists: memoization of a pure function,
// not state a caller can observe). A bad tag is an error at that first use
// that names the struct and the field.
//
// # Changesets
//
// A [Changeset] casts outside input (a map, url.Values or JSON) onto a
// struct, permitting only listed fields and converting types with a field
// error for each value that does not fit; validates it; records merge
// operations (Increment, AddToSet, RemoveFromSet); and maps store
// constraint violations to field errors. Package repo writes only the
// fields a changeset changed.
package schema
