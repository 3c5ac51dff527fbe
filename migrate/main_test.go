package migrate_test

import (
	"bytes"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	_ "github.com/strata-go/strata/adapters/memory"
	"github.com/strata-go/strata/migrate"
)

func runMain(t *testing.T, ms *migrate.Migrations, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	code = migrate.Main(args, ms, &out, &errs)
	return code, out.String(), errs.String()
}

func TestMainCommands(t *testing.T) {
	ms := testMigrations(t)
	t.Setenv("STRATA_URL", "")

	code, out, errs := runMain(t, ms, "--url", "memory://", "status")
	require.Equal(t, 0, code, errs)
	require.Equal(t, `VERSION         NAME              STATE    APPLIED AT
20260101120000  create_users      pending
20260102120000  create_posts      pending
20260103120000  add_users_bio     pending
20260104120000  index_users_name  pending
`, out)

	code, out, errs = runMain(t, ms, "--url", "memory://", "up")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "up 20260101120000 create_users\nup 20260102120000 create_posts\nup 20260103120000 add_users_bio\nup 20260104120000 index_users_name\n", out)

	// Flags may follow the command; each memory:// is a new store.
	code, out, errs = runMain(t, ms, "to", "20260102120000", "--url", "memory://", "--dry-run")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "would run up 20260101120000 create_users\n"+
		"    create collection users (id int64 primary key, email string, name string); create unique index users_email_key on users (email)\n"+
		"would run up 20260102120000 create_posts\n"+
		"    create collection posts (id int64 primary key, author_id int64, title string); create index posts_author_id_idx on posts (author_id)\n", out)

	code, out, errs = runMain(t, ms, "--url", "memory://", "down", "2")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "nothing to migrate\n", out)

	t.Setenv("STRATA_URL", "memory://")
	code, out, errs = runMain(t, ms, "--timeout", "5s", "down")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "nothing to migrate\n", out, "the URL from $STRATA_URL")

	code, out, _ = runMain(t, nil, "status")
	require.Equal(t, 0, code)
	require.Equal(t, "no migrations\n", out)
}

func TestMainErrors(t *testing.T) {
	ms := testMigrations(t)
	t.Setenv("STRATA_URL", "")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "usage: strata-migrate"},
		{[]string{"--url", "memory://"}, 2, "usage: strata-migrate"},
		{[]string{"--url", "memory://", "sideways"}, 2, `unknown command "sideways"`},
		{[]string{"--url", "memory://", "up", "now"}, 2, "up takes no arguments"},
		{[]string{"--url", "memory://", "down", "x"}, 2, "N must be a positive number"},
		{[]string{"--url", "memory://", "down", "0"}, 2, "N must be a positive number"},
		{[]string{"--url", "memory://", "down", "1", "2"}, 2, "at most one argument"},
		{[]string{"--url", "memory://", "to"}, 2, "to takes one VERSION"},
		{[]string{"--url", "memory://", "to", "v1"}, 2, "VERSION must be a number"},
		{[]string{"--nope", "status"}, 2, "flag provided but not defined: -nope"},
		{[]string{"status"}, 2, "no store: pass --url"},
		{[]string{"new"}, 2, "new takes one NAME"},
		{[]string{"new", "Add Bio"}, 2, "NAME must be snake_case"},
		{[]string{"new", "--package", "9x", "add_bio"}, 2, "is not a package name"},
		{[]string{"--url", "nosuch://", "status"}, 1, `strata-migrate: invalid: repo.Open: no adapter for scheme "nosuch"`},
		{[]string{"--url", "memory://", "to", "1"}, 1, "strata-migrate: migrate: to 1: not found: no migration has version 1"},
	} {
		code, out, errs := runMain(t, ms, tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errs)
		require.Contains(t, errs, tc.msg, tc.args)
		require.Empty(t, out, tc.args)
	}

	code, _, errs := runMain(t, ms, "-h")
	require.Equal(t, 0, code)
	require.Contains(t, errs, "down [N]")

	var bad migrate.Migrations
	_ = bad.Add(migrate.Migration{Version: 1, Name: "x"})
	code, _, errs = runMain(t, &bad, "--url", "memory://", "status")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "the migrations are invalid: migrate: add 1 x: invalid: the migration has no Up operations")
}

// A failing run prints the steps it completed, then the error.
func TestMainPartialRun(t *testing.T) {
	ms, err := migrate.NewMigrations(
		migrate.Migration{Version: 1, Name: "one", Up: []migrate.Op{migrate.Nothing()}},
		migrate.Migration{Version: 2, Name: "two", Up: []migrate.Op{migrate.SQL("SELECT 1")}},
	)
	require.NoError(t, err)
	code, out, errs := runMain(t, ms, "--url", "memory://", "up")
	require.Equal(t, 1, code)
	require.Equal(t, "up 1 one\n", out)
	require.Contains(t, errs, "strata-migrate: migrate: up 2 two: op 1 of 1 (exec SELECT 1): ")
	require.Contains(t, errs, "unsupported")
}

func TestMainNew(t *testing.T) {
	before := time.Now().UTC().Truncate(time.Second)
	code, out, errs := runMain(t, nil, "new", "add_bio")
	require.Equal(t, 0, code, errs)
	after := time.Now().UTC()

	f, err := parser.ParseFile(token.NewFileSet(), "new.go", out, parser.ParseComments)
	require.NoError(t, err, out)
	require.Equal(t, "migrations", f.Name.Name)
	m := regexp.MustCompile(`Version: (\d{14}),\n\tName:    "add_bio",`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	at, err := time.Parse(migrate.VersionLayout, m[1])
	require.NoError(t, err)
	require.WithinRange(t, at, before, after)

	dir := t.TempDir()
	code, out, errs = runMain(t, nil, "new", "create_users", "--dir", dir, "--package", "db")
	require.Equal(t, 0, code, errs)
	path := strings.TrimSpace(out)
	require.Equal(t, dir, filepath.Dir(path))
	require.Regexp(t, `^\d{14}_create_users\.go$`, filepath.Base(path))
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(src), "package db\n"))
	v := strings.SplitN(filepath.Base(path), "_", 2)[0]
	_, err = strconv.ParseInt(v, 10, 64)
	require.NoError(t, err)
	require.Contains(t, string(src), "Version: "+v+",")

	code, _, errs = runMain(t, nil, "new", "x", "--dir", filepath.Join(dir, "missing"))
	require.Equal(t, 1, code)
	require.Contains(t, errs, "strata-migrate: new: ")
}
