package sqlstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// Note is stored with values meant to break out of SQL literals.
type Note struct {
	_    struct{} `strata:"table=notes"`
	ID   string   `strata:"id,pk"`
	Body string   `strata:"body,index"`
	Tags []string `strata:"tags,merge=set"`
	Raw  []byte   `strata:"raw"`
}

var injections = []string{
	`'`, `''`, `\'`, `\\'`, `"`, "`", `'; DROP TABLE notes; --`, `' OR '1'='1`, `/* comment */`, `-- comment`,
	`?`, `$1`, `:name`, `%`, `_`, `!`, `\`, `\x00`, "tab\tnewline\nreturn\r", `ünïcødé ☃ 😀 ́`, "\u202e\u200b",
	`); DELETE FROM notes WHERE (1=1`, `\'; SELECT pg_sleep(10); --`,
	"pad", "pad ", "pad\t", // distinct strings, even where collations pad with spaces
}

// TestInjectionStringsVerbatim: every string goes in and out unchanged, as
// a value, a key, a filter, a prefix and a set element, on every dialect
// with a server.
func TestInjectionStringsVerbatim(t *testing.T) {
	eachDialect(t, func(t *testing.T, newURL func(testing.TB) string) {
		ctx := context.Background()
		r := harness(newURL).NewRepo(t)
		s, err := schema.Of[Note]()
		require.NoError(t, err)
		require.NoError(t, r.Driver().(driver.Migrator).Migrate(ctx, driver.CreateCollection{Collection: s.Collection}))
		for i, str := range injections {
			n := &Note{ID: "k" + str, Body: str, Tags: []string{str}, Raw: []byte(str)}
			require.NoError(t, r.Insert(ctx, n), "%d %q", i, str)
			var got Note
			require.NoError(t, r.Get(ctx, &got, "k"+str), "%q", str)
			require.Equal(t, *n, got, "%q", str)
			found, err := repo.All[Note](ctx, r, repo.Where("body", repo.Eq, str))
			require.NoError(t, err)
			require.Len(t, found, 1, "%q as a filter", str)
			prefixed, err := repo.All[Note](ctx, r, repo.Where("body", repo.Prefix, str))
			require.NoError(t, err)
			for _, p := range prefixed {
				require.True(t, len(p.Body) >= len(str) && p.Body[:len(str)] == str, "%q prefix matched %q", str, p.Body)
			}
			require.NoError(t, r.Update(ctx, schema.NewChangeset(&got).AddToSet("tags", str+"2")))
			require.Equal(t, []string{str, str + "2"}, got.Tags)
		}
		// NUL: bytes keep it; strings refuse it (PostgreSQL's text cannot
		// hold it), with an error and nothing stored.
		nul := &Note{ID: "nul", Body: "ok", Raw: []byte("a\x00b'\x00")}
		require.NoError(t, r.Insert(ctx, nul))
		var got Note
		require.NoError(t, r.Get(ctx, &got, "nul"))
		require.Equal(t, []byte("a\x00b'\x00"), got.Raw)
		require.ErrorIs(t, r.Insert(ctx, &Note{ID: "nul2", Body: "a\x00b"}), repo.ErrInvalid)
		n, err := repo.Count[Note](ctx, r, repo.Query{})
		require.NoError(t, err)
		require.Equal(t, int64(len(injections)+1), n, "the table is intact")
	})
}
