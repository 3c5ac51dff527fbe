package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers "sqlite", pure Go

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
)

func init() {
	for _, scheme := range []string{"sqlite", "postgres", "postgresql", "mysql"} {
		repo.Register(scheme, func(ctx context.Context, u *url.URL) (driver.Adapter, error) {
			return Open(ctx, u.String())
		})
	}
}

// Open opens an adapter from a URL:
//
//	sqlite:///path/to/file.db      a database file (created if missing)
//	sqlite://relative/file.db
//	sqlite://:memory:              a private in-memory database
//	postgres://user:pass@host:5432/db?sslmode=disable
//	mysql://user:pass@host:3306/db
//
// The query may also hold pool settings, which are taken out before the
// rest goes to the database driver: max_open_conns, max_idle_conns,
// conn_max_lifetime and conn_max_idle_time (durations such as 5m). Without
// max_open_conns a pool has at most 32 connections to a PostgreSQL or
// MySQL server (database/sql sets no limit: a burst of callers would
// each open one, past the server's own limit); without max_idle_conns it
// keeps up to 32 idle (database/sql keeps 2). Open checks that the database answers.
func Open(ctx context.Context, rawURL string) (*Adapter, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("%w: sqlstore: %q is not a URL", driver.ErrInvalid, rawURL)
	}
	target, query, _ := strings.Cut(rest, "?")
	params, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("%w: sqlstore: query of %s: %v", driver.ErrInvalid, scheme, err)
	}
	pool, err := takePool(params)
	if err != nil {
		return nil, err
	}
	var sqldb *sql.DB
	var db *bun.DB
	path := ""
	switch scheme {
	case "sqlite":
		var dsn string
		dsn, path = sqliteDSN(target, params)
		if sqldb, err = sql.Open("sqlite", dsn); err == nil {
			if path == "" { // each connection to :memory: is its own database
				sqldb.SetMaxOpenConns(1)
			}
			db = bun.NewDB(sqldb, sqlitedialect.New())
		}
	case "postgres", "postgresql":
		if sqldb, err = sql.Open("pgx", scheme+"://"+target+"?"+params.Encode()); err == nil {
			db = bun.NewDB(sqldb, pgdialect.New())
		}
	case "mysql":
		var dsn string
		if dsn, err = mysqlDSN(target, params); err == nil {
			if sqldb, err = sql.Open("mysql", dsn); err == nil {
				db = bun.NewDB(sqldb, mysqldialect.New())
			}
		}
	default:
		return nil, fmt.Errorf("%w: sqlstore: unknown scheme %q (want sqlite, postgres or mysql)", driver.ErrInvalid, scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", scheme, err)
	}
	pool = pool.withDefaults(scheme != "sqlite")
	pool.apply(sqldb)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", scheme, err)
	}
	a, err := New(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	a.path = path
	if path != "" {
		a.gate = make(gate, 1) // a file: one writer at a time (see gate)
		if pool.unlimited() {
			a.stmts = newStmtCache(sqldb) // see exec.go
		}
	}
	return a, nil
}

// sqliteDSN builds modernc's DSN: WAL (readers never wait for the writer),
// a busy timeout (writers wait for each other instead of failing),
// immediate transactions (a transaction takes the write lock when it
// begins, so it cannot fail half-way for another's commit), foreign keys,
// and case-sensitive LIKE (as in the other databases).
func sqliteDSN(target string, params url.Values) (dsn, path string) {
	p := url.Values{}
	for k, v := range params {
		p[k] = v
	}
	for _, pragma := range []string{fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()), "foreign_keys(1)", "case_sensitive_like(1)", "synchronous(NORMAL)"} {
		p.Add("_pragma", pragma)
	}
	p.Set("_txlock", "immediate")
	if target == ":memory:" || target == "" {
		return "file::memory:?" + p.Encode(), ""
	}
	p.Add("_pragma", "journal_mode(WAL)")
	return "file:" + target + "?" + p.Encode(), target
}

// mysqlDSN turns user:pass@host:port/db into the MySQL driver's DSN.
// Connections report matched rows (not changed ones) as affected, which
// the adapter's conditional updates rely on, and run in strict mode.
func mysqlDSN(target string, params url.Values) (string, error) {
	u, err := url.Parse("mysql://" + target)
	if err != nil {
		return "", fmt.Errorf("%w: %v", driver.ErrInvalid, err)
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net, cfg.Addr = "tcp", u.Host
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	cfg.ClientFoundRows = true
	// Strict (a value too long is an error, never truncated), and with
	// backslash escapes, which bun's quoting of values relies on.
	cfg.Params = map[string]string{"sql_mode": "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"}
	for k, v := range params {
		cfg.Params[k] = v[0]
	}
	return cfg.FormatDSN(), nil
}

// poolSettings are the database/sql pool settings of a URL.
type poolSettings struct {
	maxOpen, maxIdle  int
	lifetime, idle    time.Duration
	hasOpen, hasIdle  bool
	hasLife, hasIdleT bool
}

func takePool(params url.Values) (poolSettings, error) {
	var p poolSettings
	var err error
	take := func(name string) (string, bool) {
		v, ok := params[name]
		delete(params, name)
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	if v, ok := take("max_open_conns"); ok {
		p.hasOpen = true
		if p.maxOpen, err = strconv.Atoi(v); err != nil {
			return p, fmt.Errorf("%w: sqlstore: max_open_conns=%q", driver.ErrInvalid, v)
		}
	}
	if v, ok := take("max_idle_conns"); ok {
		p.hasIdle = true
		if p.maxIdle, err = strconv.Atoi(v); err != nil {
			return p, fmt.Errorf("%w: sqlstore: max_idle_conns=%q", driver.ErrInvalid, v)
		}
	}
	if v, ok := take("conn_max_lifetime"); ok {
		p.hasLife = true
		if p.lifetime, err = time.ParseDuration(v); err != nil {
			return p, fmt.Errorf("%w: sqlstore: conn_max_lifetime=%q", driver.ErrInvalid, v)
		}
	}
	if v, ok := take("conn_max_idle_time"); ok {
		p.hasIdleT = true
		if p.idle, err = time.ParseDuration(v); err != nil {
			return p, fmt.Errorf("%w: sqlstore: conn_max_idle_time=%q", driver.ErrInvalid, v)
		}
	}
	return p, nil
}

// withDefaults fills what the URL left unset. database/sql opens as many
// connections as there are callers, and a server refuses past its own
// limit (PostgreSQL's 100), every connection a process or thread there:
// at most defaultMaxOpen to a server (SQLite's are files). And it keeps
// 2 idle: a burst of concurrent writes (a store coming back, a node's
// clients reconnecting) would open and close a connection each, and a
// server's connection setup dwarfs the statements.
func (p poolSettings) withDefaults(server bool) poolSettings {
	if !p.hasOpen && server {
		p.hasOpen, p.maxOpen = true, defaultMaxOpen
	}
	if !p.hasIdle {
		p.hasIdle, p.maxIdle = true, defaultIdle
	}
	return p
}

// unlimited reports whether the pool opens as many connections as there
// are callers.
func (p poolSettings) unlimited() bool { return !p.hasOpen || p.maxOpen <= 0 }

func (p poolSettings) apply(db *sql.DB) {
	if p.hasOpen {
		db.SetMaxOpenConns(p.maxOpen)
	}
	if p.hasIdle {
		db.SetMaxIdleConns(p.maxIdle)
	}
	if p.hasIdleT {
		db.SetConnMaxIdleTime(p.idle)
	}
	if p.hasLife {
		db.SetConnMaxLifetime(p.lifetime)
	}
}

// The pool's defaults (see withDefaults).
const (
	defaultMaxOpen = 32
	defaultIdle    = 32
)
