package migrate

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/strata-go/strata/repo"
)

const usage = `usage: %[1]s [flags] command [args]

Commands:
  up             apply every pending migration
  down [N]       roll back the N applied migrations of highest version (default 1)
  to VERSION     migrate up or down to VERSION exactly (0: roll back everything)
  status         list the migrations, applied or pending
  new NAME       print a Go file for a new migration, versioned by the time
                 now (with --dir, write it into that directory)

Flags (before or after the command):
`

// Main is the migration command line: an app compiles its migrations into
// its own command, whose main is
//
//	func main() {
//		os.Exit(migrate.Main(os.Args[1:], &migrations.All, os.Stdout, os.Stderr))
//	}
//
// with the adapters of the URL schemes it supports imported for their side
// effects. args are the arguments after the program name; Main writes
// results to stdout and errors to stderr, and returns the exit status: 0
// on success, 1 when the command failed, 2 for a usage error. The store is
// --url, or $STRATA_URL when --url is not given. An interrupt (SIGINT,
// SIGTERM) cancels the run: the migration under way fails (and rolls back
// where migrations are transactional), and no further one starts.
func Main(args []string, ms *Migrations, stdout, stderr io.Writer) int {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	c := cli{stdout: stdout, stderr: stderr, ms: ms}
	return c.main(args)
}

type cli struct {
	stdout, stderr io.Writer
	ms             *Migrations

	url         string
	dryRun      bool
	withoutLock bool
	timeout     time.Duration
	dir, pkg    string
}

const prog = "strata-migrate"

func (c *cli) main(args []string) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.StringVar(&c.url, "url", "", "the store's `URL` (default $STRATA_URL)")
	fs.BoolVar(&c.dryRun, "dry-run", false, "show what would run, with the store's statements; change nothing")
	fs.BoolVar(&c.withoutLock, "without-lock", false, "migrate a store whose adapter cannot lock (only where one process ever migrates it)")
	fs.DurationVar(&c.timeout, "timeout", 0, "give up after `duration`, waiting for the lock included (0: no limit)")
	fs.StringVar(&c.dir, "dir", "", "new: write the file into `directory` instead of printing it")
	fs.StringVar(&c.pkg, "package", "migrations", "new: the Go `package` of the file")
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, usage, prog)
		fs.PrintDefaults()
	}
	// Flags may come before and after the command and its arguments.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if args = fs.Args(); len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) == 0 {
		fs.Usage()
		return 2
	}
	cmd, rest := pos[0], pos[1:]
	switch cmd {
	case "new":
		if len(rest) != 1 {
			return c.usageError("new takes one NAME")
		}
		return c.newFile(rest[0])
	case "up", "status":
		if len(rest) != 0 {
			return c.usageError("%s takes no arguments", cmd)
		}
	case "down":
		if len(rest) > 1 {
			return c.usageError("down takes at most one argument, N")
		}
		if len(rest) == 1 {
			if n, err := strconv.Atoi(rest[0]); err != nil || n < 1 {
				return c.usageError("down N: N must be a positive number, not %q", rest[0])
			}
		}
	case "to":
		if len(rest) != 1 {
			return c.usageError("to takes one VERSION")
		}
		if v, err := strconv.ParseInt(rest[0], 10, 64); err != nil || v < 0 {
			return c.usageError("to VERSION: VERSION must be a number, 0 or more, not %q", rest[0])
		}
	default:
		return c.usageError("unknown command %q", cmd)
	}
	if c.url == "" {
		c.url = os.Getenv("STRATA_URL")
	}
	if c.url == "" {
		return c.usageError("no store: pass --url (or set $STRATA_URL)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	if err := c.run(ctx, cmd, rest); err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", prog, err)
		return 1
	}
	return 0
}

func (c *cli) usageError(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "%s: %s (see %s -h)\n", prog, fmt.Sprintf(format, args...), prog)
	return 2
}

func (c *cli) run(ctx context.Context, cmd string, args []string) (err error) {
	r, err := repo.Open(ctx, c.url)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, r.Close()) }()
	var opts []Option
	if c.dryRun {
		opts = append(opts, DryRun())
	}
	if c.withoutLock {
		opts = append(opts, WithoutLock())
	}
	m, err := New(r, c.ms, opts...)
	if err != nil {
		return err
	}
	var steps []Step
	switch cmd {
	case "status":
		return c.status(ctx, m)
	case "up":
		steps, err = m.Up(ctx)
	case "down":
		n := 1
		if len(args) == 1 {
			n, _ = strconv.Atoi(args[0]) // checked by main
		}
		steps, err = m.Down(ctx, n)
	case "to":
		v, _ := strconv.ParseInt(args[0], 10, 64) // checked by main
		steps, err = m.To(ctx, v)
	}
	c.printSteps(steps, err == nil)
	return err
}

func (c *cli) printSteps(steps []Step, done bool) {
	verb := ""
	if c.dryRun {
		verb = "would run "
	}
	for _, s := range steps {
		fmt.Fprintf(c.stdout, "%s%s\n", verb, s)
		if c.dryRun {
			for _, p := range s.Plan {
				fmt.Fprintf(c.stdout, "    %s\n", p)
			}
		}
	}
	if done && len(steps) == 0 {
		fmt.Fprintln(c.stdout, "nothing to migrate")
	}
}

func (c *cli) status(ctx context.Context, m *Migrator) error {
	sts, err := m.Status(ctx)
	if err != nil {
		return err
	}
	if len(sts) == 0 {
		fmt.Fprintln(c.stdout, "no migrations")
		return nil
	}
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "VERSION\tNAME\tSTATE\tAPPLIED AT")
	for _, s := range sts {
		at := ""
		if !s.AppliedAt.IsZero() {
			at = s.AppliedAt.UTC().Format(time.DateTime + " MST")
		}
		state := s.State.String()
		if s.State == Unknown {
			state = "applied, not in this program"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", s.Version, s.Name, state, at)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for line := range bytes.Lines(buf.Bytes()) {
		fmt.Fprintf(c.stdout, "%s\n", bytes.TrimRight(line, " \n"))
	}
	return nil
}

var (
	migrationName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	packageName   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// VersionLayout is the time layout of the versions strata-migrate new
// gives: the UTC time as YYYYMMDDhhmmss.
const VersionLayout = "20060102150405"

const skeleton = `package %[1]s

import "github.com/strata-go/strata/migrate"

// All is this package's set of migrations (declare it once, in another
// file: var All migrate.Migrations); the app's migration command passes
// &All to migrate.Main.
var _ = All.Add(migrate.Migration{
	Version: %[2]d,
	Name:    %[3]q,
	Up: []migrate.Op{
		// migrate.AddColumn("users", driver.Field{Name: "bio", Kind: driver.KindString, Nullable: true}),
	},
	// Down undoes Up. Without it the migration cannot be rolled back;
	// migrate.Reverse derives it for creations and renames.
	Down: []migrate.Op{
		// migrate.DropColumn("users", "bio"),
	},
})
`

// newFile prints or writes the skeleton of a new migration.
func (c *cli) newFile(name string) int {
	if !migrationName.MatchString(name) {
		return c.usageError("new NAME: NAME must be snake_case (a-z, 0-9, _), not %q", name)
	}
	if !packageName.MatchString(c.pkg) {
		return c.usageError("--package: %q is not a package name", c.pkg)
	}
	now := time.Now().UTC()
	version, _ := strconv.ParseInt(now.Format(VersionLayout), 10, 64)
	src, err := format.Source(fmt.Appendf(nil, skeleton, c.pkg, version, name))
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: new: %v\n", prog, err)
		return 1
	}
	if c.dir == "" {
		c.stdout.Write(src)
		return 0
	}
	path := filepath.Join(c.dir, fmt.Sprintf("%d_%s.go", version, name))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		_, err = f.Write(src)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: new: %v\n", prog, err)
		return 1
	}
	fmt.Fprintln(c.stdout, path)
	return 0
}
