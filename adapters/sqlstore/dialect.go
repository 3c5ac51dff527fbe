package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/strata-go/strata/repo/driver"
)

// Dialect is one of the SQL databases the adapter speaks.
type Dialect uint8

// The dialects.
const (
	SQLite Dialect = iota + 1
	Postgres
	MySQL
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	}
	return fmt.Sprintf("Dialect(%d)", uint8(d))
}

// sqliteTime is how SQLite stores times: fixed-width text in UTC, so that
// text order is time order.
const sqliteTime = "2006-01-02T15:04:05.000000Z"

// columnType returns the column type of a field. key and indexed matter to
// MySQL, which cannot index TEXT without a length.
func (d Dialect) columnType(f driver.Field, indexed bool) string {
	switch f.Kind {
	case driver.KindString:
		switch {
		case f.Size > 0 && d != SQLite:
			return fmt.Sprintf("VARCHAR(%d)%s", f.Size, d.binaryCollation())
		case d == Postgres:
			return "TEXT" + d.binaryCollation()
		case d == MySQL && indexed:
			return "VARCHAR(255)" + d.binaryCollation()
		case d == MySQL:
			return "LONGTEXT" + d.binaryCollation()
		}
		return "TEXT"
	case driver.KindInt:
		if d == SQLite {
			return "INTEGER"
		}
		return "BIGINT"
	case driver.KindFloat:
		switch d {
		case Postgres:
			return "DOUBLE PRECISION"
		case MySQL:
			return "DOUBLE"
		}
		return "REAL"
	case driver.KindBool:
		switch d {
		case Postgres:
			return "BOOLEAN"
		case MySQL:
			return "TINYINT(1)"
		}
		return "INTEGER"
	case driver.KindTime:
		switch d {
		case Postgres:
			return "TIMESTAMP(6)"
		case MySQL:
			return "DATETIME(6)"
		}
		return "TEXT"
	case driver.KindBytes:
		switch d {
		case Postgres:
			return "BYTEA"
		case MySQL:
			if f.Size > 0 {
				return fmt.Sprintf("VARBINARY(%d)", f.Size)
			}
			return "LONGBLOB"
		}
		return "BLOB"
	}
	// KindStrings and KindJSON: JSON text.
	if d == MySQL {
		return "LONGTEXT" + d.binaryCollation()
	}
	return "TEXT"
}

// binaryCollation makes strings compare by code point (the byte order of
// UTF-8), as driver.Compare does; SQLite's default BINARY already does.
func (d Dialect) binaryCollation() string {
	switch d {
	case MySQL:
		// nopad: 'a' and 'a ' are different strings, as everywhere else.
		return " CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"
	case Postgres:
		return ` COLLATE "C"`
	}
	return ""
}

// encode converts a canonical value to what the dialect stores.
func (d Dialect) encode(k driver.Kind, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case []string:
		if x == nil {
			x = []string{}
		}
		b, _ := json.Marshal(x) // strings always marshal
		return string(b)
	case json.RawMessage:
		return string(x)
	case []byte:
		if x == nil {
			return []byte{} // bun writes a nil slice as NULL
		}
	case time.Time:
		switch d {
		case SQLite:
			return x.UTC().Format(sqliteTime)
		case MySQL:
			return x.UTC().Format("2006-01-02 15:04:05.000000")
		}
		return x.UTC()
	case float64:
		if d == MySQL {
			// bun writes floats in positional notation, which MariaDB reads
			// as a DECIMAL of at most 65 digits; in exponent form it reads
			// a DOUBLE.
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
	case bool:
		if d == SQLite {
			if x {
				return int64(1)
			}
			return int64(0)
		}
	}
	return v
}

// encodeList encodes the values of an In filter.
func (d Dialect) encodeList(k driver.Kind, vals []any) []any {
	out := make([]any, 0, len(vals))
	for _, v := range vals {
		if v != nil {
			out = append(out, d.encode(k, v))
		}
	}
	return out
}

// decode converts a scanned value to the canonical value of kind k.
func (d Dialect) decode(k driver.Kind, raw any) (any, error) {
	if raw == nil {
		return nil, nil
	}
	switch k {
	case driver.KindStrings:
		var s []string
		if err := json.Unmarshal(asBytes(raw), &s); err != nil {
			return nil, fmt.Errorf("%w: stored list is not JSON: %v", driver.ErrInvalid, err)
		}
		if s == nil {
			s = []string{}
		}
		return s, nil
	case driver.KindJSON:
		return json.RawMessage(append([]byte(nil), asBytes(raw)...)), nil
	case driver.KindTime:
		switch x := raw.(type) {
		case time.Time:
			return x.UTC().Truncate(driver.TimePrecision), nil
		case string, []byte:
			return parseTime(string(asBytes(x)))
		}
	case driver.KindBool:
		switch x := raw.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		case []byte:
			return string(x) != "0" && string(x) != "", nil
		}
	case driver.KindString:
		switch x := raw.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	case driver.KindBytes:
		switch x := raw.(type) {
		case []byte:
			return append([]byte{}, x...), nil
		case string:
			return []byte(x), nil
		}
	}
	return driver.Normalize(k, raw)
}

func asBytes(v any) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		return []byte(x)
	}
	return nil
}

func parseTime(s string) (any, error) {
	for _, layout := range []string{sqliteTime, "2006-01-02 15:04:05.999999", time.RFC3339Nano, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(driver.TimePrecision), nil
		}
	}
	return nil, fmt.Errorf("%w: stored time %q does not parse", driver.ErrInvalid, s)
}

// classify maps a database error to Strata's kinds: a *ConstraintError for
// constraint violations (naming the collection's constraint), ErrSerialization
// for lost races, ErrInvalid for values the database refused. Other errors
// pass through.
func (d Dialect) classify(c *driver.Collection, err error) error {
	if c == nil {
		c = &driver.Collection{}
	}
	switch {
	case isTxDone(err):
		return fmt.Errorf("%w: %w", driver.ErrTxDone, err)
	case err != nil && err.Error() == "sql: database is closed":
		return fmt.Errorf("%w: %w", driver.ErrClosed, err)
	}
	var pgErr *pgconn.PgError
	var myErr *mysql.MySQLError
	var sqErr *sqlite.Error
	switch {
	case errors.As(err, &pgErr):
		switch pgErr.Code {
		case "23505":
			name := pgErr.ConstraintName
			if name == pkeyName(c.Name) {
				name = driver.PrimaryKeyConstraint
			}
			return &driver.ConstraintError{Kind: driver.Unique, Collection: c.Name, Name: name, Err: err}
		case "23503":
			return &driver.ConstraintError{Kind: driver.ForeignKey, Collection: c.Name, Name: pgErr.ConstraintName, Err: err}
		case "23514":
			return &driver.ConstraintError{Kind: driver.Check, Collection: c.Name, Name: pgErr.ConstraintName, Err: err}
		case "40001", "40P01":
			return fmt.Errorf("%w: %w", driver.ErrSerialization, err)
		case "22001", "22003", "22007", "22008", "22P02", "22021", "23502":
			return fmt.Errorf("%w: %w", driver.ErrInvalid, err)
		case "42P07", "42710":
			return fmt.Errorf("%w: %w", driver.ErrConflict, err)
		case "42P01", "42703", "42704":
			return fmt.Errorf("%w: %w", driver.ErrNotFound, err)
		}
	case errors.As(err, &myErr):
		switch myErr.Number {
		case 1062:
			return &driver.ConstraintError{Kind: driver.Unique, Collection: c.Name, Name: mysqlKey(myErr.Message), Err: err}
		case 1451, 1452:
			return &driver.ConstraintError{Kind: driver.ForeignKey, Collection: c.Name, Err: err}
		case 1213, 1205:
			return fmt.Errorf("%w: %w", driver.ErrSerialization, err)
		case 4025, 3819:
			return &driver.ConstraintError{Kind: driver.Check, Collection: c.Name, Err: err}
		case 1264, 1292, 1366, 1406, 1048, 1690:
			return fmt.Errorf("%w: %w", driver.ErrInvalid, err)
		case 1050, 1061, 1060:
			return fmt.Errorf("%w: %w", driver.ErrConflict, err)
		case 1146, 1054, 1091:
			return fmt.Errorf("%w: %w", driver.ErrNotFound, err)
		}
	case errors.As(err, &sqErr):
		switch sqErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &driver.ConstraintError{Kind: driver.Unique, Collection: c.Name, Name: sqliteConstraint(c, sqErr.Error()), Err: err}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return &driver.ConstraintError{Kind: driver.ForeignKey, Collection: c.Name, Err: err}
		case sqlite3.SQLITE_CONSTRAINT_CHECK:
			return &driver.ConstraintError{Kind: driver.Check, Collection: c.Name, Err: err}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_BUSY_SNAPSHOT:
			return fmt.Errorf("%w: %w", driver.ErrSerialization, err)
		}
		msg := sqErr.Error()
		switch {
		case strings.Contains(msg, "integer overflow"):
			return fmt.Errorf("%w: %w", driver.ErrInvalid, err)
		case strings.Contains(msg, "already exists"):
			return fmt.Errorf("%w: %w", driver.ErrConflict, err)
		case strings.Contains(msg, "no such table"), strings.Contains(msg, "no such column"), strings.Contains(msg, "no such index"):
			return fmt.Errorf("%w: %w", driver.ErrNotFound, err)
		}
	}
	return err
}

// mysqlKey finds the key name in "Duplicate entry 'x' for key 'name'" (or
// MySQL 8's 'table.name').
func mysqlKey(msg string) string {
	i := strings.LastIndex(msg, "for key '")
	if i < 0 {
		return ""
	}
	name := strings.TrimSuffix(msg[i+len("for key '"):], "'")
	if j := strings.LastIndex(name, "."); j >= 0 {
		name = name[j+1:]
	}
	if name == "PRIMARY" {
		return driver.PrimaryKeyConstraint
	}
	return name
}

// sqliteConstraint names the constraint of "UNIQUE constraint failed:
// t.a, t.b" by its columns, which is all SQLite reports.
func sqliteConstraint(c *driver.Collection, msg string) string {
	i := strings.LastIndex(msg, "failed: ")
	if i < 0 {
		return ""
	}
	list := msg[i+len("failed: "):]
	if j := strings.LastIndex(list, " ("); j >= 0 { // the driver appends " (code)"
		list = list[:j]
	}
	var cols []string
	for _, part := range strings.Split(list, ", ") {
		part = strings.TrimSpace(part)
		if j := strings.LastIndex(part, "."); j >= 0 {
			part = part[j+1:]
		}
		cols = append(cols, part)
	}
	if len(cols) == 1 && c.Fields != nil && cols[0] == c.KeyField().Name {
		return driver.PrimaryKeyConstraint
	}
	for _, ix := range c.Indexes {
		if ix.Unique && strings.Join(ix.Fields, ",") == strings.Join(cols, ",") {
			return ix.Name
		}
	}
	return strings.Join(cols, ",")
}

// txError classifies an error of a transaction's own statements.
func (d Dialect) txError(err error) error {
	if isTxDone(err) {
		return fmt.Errorf("%w: %w", driver.ErrTxDone, err)
	}
	return d.classify(nil, err)
}

func isTxDone(err error) bool { return errors.Is(err, sql.ErrTxDone) }

// pkeyName is the name of a table's primary-key constraint on PostgreSQL,
// given explicitly (createTable) so that it survives the 63-byte limit on
// identifiers, which would otherwise truncate table_pkey unpredictably.
func pkeyName(table string) string {
	const max = 63
	if n := table + "_pkey"; len(n) <= max {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(table))
	return fmt.Sprintf("%s_%08x_pkey", table[:max-len("_pkey")-9], h.Sum32())
}
