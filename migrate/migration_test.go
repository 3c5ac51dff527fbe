package migrate_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/migrate"
	"github.com/strata-go/strata/repo/driver"
)

func TestAddRejects(t *testing.T) {
	up := []migrate.Op{migrate.CreateTableFor[user]()}
	type badTag struct {
		ID int64 `strata:"id,merge=nonsense"`
	}
	for name, tc := range map[string]struct {
		m    migrate.Migration
		kind error
		msg  string
	}{
		"zero version":     {migrate.Migration{Name: "x", Up: up}, driver.ErrInvalid, "version 0 is not positive"},
		"negative version": {migrate.Migration{Version: -1, Name: "x", Up: up}, driver.ErrInvalid, "not positive"},
		"no name":          {migrate.Migration{Version: 1, Up: up}, driver.ErrInvalid, "has no name"},
		"control name":     {migrate.Migration{Version: 1, Name: "a\nb", Up: up}, driver.ErrInvalid, "control characters"},
		"bad utf-8 name":   {migrate.Migration{Version: 1, Name: "a\xff", Up: up}, driver.ErrInvalid, "UTF-8"},
		"no up":            {migrate.Migration{Version: 1, Name: "x"}, driver.ErrInvalid, "has no Up"},
		"zero op":          {migrate.Migration{Version: 1, Name: "x", Up: []migrate.Op{{}}}, driver.ErrInvalid, "up op 1: invalid: empty"},
		"nil raw":          {migrate.Migration{Version: 1, Name: "x", Up: []migrate.Op{migrate.Raw(nil)}}, driver.ErrInvalid, "nil migration operation"},
		"pointer raw":      {migrate.Migration{Version: 1, Name: "x", Up: []migrate.Op{migrate.Raw(&driver.DropCollection{Name: "t"})}}, driver.ErrInvalid, "not a pointer"},
		"nil table":        {migrate.Migration{Version: 1, Name: "x", Up: []migrate.Op{migrate.CreateTable(nil)}}, driver.ErrInvalid, "nil collection"},
		"bad schema":       {migrate.Migration{Version: 1, Name: "x", Up: []migrate.Op{migrate.CreateTableFor[badTag]()}}, driver.ErrInvalid, "CreateTableFor:"},
		"bad down":         {migrate.Migration{Version: 1, Name: "x", Up: up, Down: []migrate.Op{migrate.DropTableFor[badTag]()}}, driver.ErrInvalid, "down op 1: DropTableFor:"},
		"unknown column":   {migrate.Migration{Version: 1, Name: "x", Up: []migrate.Op{migrate.AddColumnFor[user]("bio")}}, driver.ErrInvalid, `users has no field "bio"`},
		"unknown index": {migrate.Migration{Version: 1, Name: "x", Up: []migrate.Op{migrate.CreateIndexFor[user]("nope")}}, driver.ErrInvalid,
			`users has no index "nope" (it has: users_email_key)`},
		"irreversible": {migrate.Migration{Version: 1, Name: "x", Up: up, Down: migrate.Reverse(migrate.DropColumn("users", "name"))},
			driver.ErrUnsupported, "drop field users.name cannot be reversed"},
	} {
		t.Run(name, func(t *testing.T) {
			var ms migrate.Migrations
			err := ms.Add(tc.m)
			require.ErrorIs(t, err, tc.kind)
			require.ErrorContains(t, err, tc.msg)
			require.ErrorContains(t, err, "migrate: add ")
			require.Equal(t, err, ms.Err(), "the set remembers it")
			require.Zero(t, ms.Len())
		})
	}
}

func TestDuplicateVersion(t *testing.T) {
	up := []migrate.Op{migrate.CreateTableFor[user]()}
	a := migrate.Migration{Version: 7, Name: "a", Up: up}
	b := migrate.Migration{Version: 7, Name: "b", Up: up}
	_, err := migrate.NewMigrations(a, b)
	require.ErrorIs(t, err, driver.ErrInvalid)
	require.ErrorContains(t, err, `migrate: add 7 b: invalid: version 7 is also migration "a"`)

	var ms migrate.Migrations
	require.NoError(t, ms.Add(a))
	require.Error(t, ms.Add(b))
	require.NoError(t, ms.Add(migrate.Migration{Version: 3, Name: "c", Up: up}), "later Adds still work")
	require.Error(t, ms.Err(), "but the first error stays")
	require.Equal(t, 2, ms.Len())

	var nilSet *migrate.Migrations
	require.ErrorIs(t, nilSet.Add(a), driver.ErrInvalid)
	require.Zero(t, nilSet.Len())
	require.Nil(t, nilSet.List())
	require.NoError(t, nilSet.Err())
}

func TestMigrationsOrder(t *testing.T) {
	up := []migrate.Op{migrate.Nothing()}
	var ms migrate.Migrations
	for _, v := range []int64{30, 10, 20} {
		require.NoError(t, ms.Add(migrate.Migration{Version: v, Name: "m", Up: up}))
	}
	var got []int64
	for _, m := range ms.List() {
		got = append(got, m.Version)
	}
	require.Equal(t, []int64{10, 20, 30}, got)
	m, ok := ms.Get(20)
	require.True(t, ok)
	require.Equal(t, "20 m", m.String())
	_, ok = ms.Get(21)
	require.False(t, ok)

	// The set keeps its own copy of the operation lists.
	ops := []migrate.Op{migrate.DropTable("a")}
	require.NoError(t, ms.Add(migrate.Migration{Version: 40, Name: "m", Up: ops}))
	ops[0] = migrate.DropTable("b")
	m, _ = ms.Get(40)
	require.Equal(t, "drop collection a", m.Up[0].String())
}

func TestConstructors(t *testing.T) {
	users, err := driver.NewCollection("users", []driver.Field{
		{Name: "id", Kind: driver.KindInt, Bits: 64},
		{Name: "email", Kind: driver.KindString, Size: 80},
		{Name: "logins", Kind: driver.KindInt, Bits: 32, Unsigned: true, Merge: driver.MergeCounter},
		{Name: "score", Kind: driver.KindFloat, Bits: 64, Nullable: true},
		{Name: "version", Kind: driver.KindInt, Bits: 64},
	}, "id", "version", []driver.Index{{Name: "users_email_key", Fields: []string{"email"}, Unique: true}}, driver.CP)
	require.NoError(t, err)
	bio := driver.Field{Name: "bio", Kind: driver.KindString, Nullable: true}
	for _, tc := range []struct {
		op   migrate.Op
		want driver.MigrationOp
		desc string
	}{
		{migrate.CreateTable(users), driver.CreateCollection{Collection: users},
			"create collection users (id int64 primary key, email string(80), logins uint32 counter, score float64 null, version int64 version); " +
				"create unique index users_email_key on users (email)"},
		{migrate.Raw(driver.CreateCollection{Collection: users, IfNotExists: true}), driver.CreateCollection{Collection: users, IfNotExists: true},
			"create collection users if not exists (id int64 primary key, email string(80), logins uint32 counter, score float64 null, version int64 version); " +
				"create unique index users_email_key on users (email)"},
		{migrate.DropTable("users"), driver.DropCollection{Name: "users"}, "drop collection users"},
		{migrate.Raw(driver.DropCollection{Name: "users", IfExists: true}), driver.DropCollection{Name: "users", IfExists: true}, "drop collection users if exists"},
		{migrate.RenameTable("a", "b"), driver.RenameCollection{From: "a", To: "b"}, "rename collection a to b"},
		{migrate.AddColumn("users", bio), driver.AddField{Collection: "users", Field: bio}, "add field users.bio string null"},
		{migrate.DropColumn("users", "bio"), driver.DropField{Collection: "users", Name: "bio"}, "drop field users.bio"},
		{migrate.RenameColumn("users", "a", "b"), driver.RenameField{Collection: "users", From: "a", To: "b"}, "rename field users.a to b"},
		{migrate.AlterColumn("users", bio), driver.AlterField{Collection: "users", Field: bio}, "alter field users.bio to string null"},
		{migrate.CreateIndex("users", "ix", "a", "b"), driver.CreateIndex{Collection: "users", Index: driver.Index{Name: "ix", Fields: []string{"a", "b"}}},
			"create index ix on users (a, b)"},
		{migrate.CreateUniqueIndex("users", "ux", "a"), driver.CreateIndex{Collection: "users", Index: driver.Index{Name: "ux", Fields: []string{"a"}, Unique: true}},
			"create unique index ux on users (a)"},
		{migrate.DropIndex("users", "ix"), driver.DropIndex{Collection: "users", Name: "ix"}, "drop index ix on users"},
		{migrate.SQL("UPDATE t SET a = ?", 1), driver.Exec{Statement: "UPDATE t SET a = ?", Args: []any{1}}, "exec UPDATE t SET a = ? [1]"},
		{migrate.SQL("VACUUM"), driver.Exec{Statement: "VACUUM"}, "exec VACUUM"},
		{migrate.CreateIndexFor[user]("users_email_key"),
			driver.CreateIndex{Collection: "users", Index: driver.Index{Name: "users_email_key", Fields: []string{"email"}, Unique: true}},
			"create unique index users_email_key on users (email)"},
		{migrate.DropTableFor[user](), driver.DropCollection{Name: "users"}, "drop collection users"},
	} {
		require.NoError(t, tc.op.Err())
		require.Equal(t, tc.want, tc.op.Driver())
		require.Equal(t, tc.desc, tc.op.String())
	}

	op := migrate.AddColumnFor[userBio]("bio")
	require.Equal(t, driver.AddField{Collection: "users", Field: driver.Field{Name: "bio", Kind: driver.KindString, Nullable: true}}, op.Driver())
	c, ok := migrate.CreateTableFor[user]().Driver().(driver.CreateCollection)
	require.True(t, ok)
	require.Equal(t, "users", c.Collection.Name)
	require.Len(t, c.Collection.Indexes, 1)

	require.Equal(t, "nothing", migrate.Nothing().String())
	require.NoError(t, migrate.Nothing().Err())
	require.Nil(t, migrate.Nothing().Driver())
	require.Contains(t, migrate.CreateTable(nil).String(), "invalid operation")
	require.Equal(t, "<nil operation>", migrate.Describe(nil))
}

func TestReverse(t *testing.T) {
	users, err := driver.NewCollection("users", []driver.Field{{Name: "id", Kind: driver.KindInt}}, "id", "", nil, driver.AnyConsistency)
	require.NoError(t, err)
	bio := driver.Field{Name: "bio", Kind: driver.KindString}
	down := migrate.Reverse(
		migrate.CreateTable(users),
		migrate.RenameTable("users", "people"),
		migrate.AddColumn("people", bio),
		migrate.RenameColumn("people", "bio", "about"),
		migrate.CreateIndex("people", "people_about_idx", "about"),
		migrate.Nothing(),
	)
	var got []string
	for _, o := range down {
		require.NoError(t, o.Err())
		got = append(got, o.String())
	}
	require.Equal(t, []string{
		"nothing",
		"drop index people_about_idx on people",
		"rename field people.about to bio",
		"drop field people.bio",
		"rename collection people to users",
		"drop collection users",
	}, got)

	for _, op := range []migrate.Op{
		migrate.DropTable("a"), migrate.DropColumn("a", "b"), migrate.AlterColumn("a", bio), migrate.DropIndex("a", "b"), migrate.SQL("x"),
	} {
		r := migrate.Reverse(op)
		require.Len(t, r, 1)
		require.ErrorIs(t, r[0].Err(), driver.ErrUnsupported, op.String())
	}
	require.Error(t, migrate.Reverse(migrate.Op{})[0].Err())
	require.Error(t, migrate.Reverse(migrate.CreateTable(nil))[0].Err())
}
