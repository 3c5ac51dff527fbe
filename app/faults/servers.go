package faults

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/strata-go/strata/internal/testservers"
)

// Bounds of the private servers' steps.
const (
	serverReady = 60 * time.Second // from start to answering
	serverStop  = 30 * time.Second // from the signal to the exit
	serverPoll  = 20 * time.Millisecond
	logTail     = 30 // lines of a server's log shown when its test fails
)

// missing skips t (fails it when servers are required: see
// testservers.Required) for want of a server's program.
func missing(t testing.TB, what string) {
	t.Helper()
	msg := what + ": no private server for this fault test"
	if testservers.Required() {
		t.Fatal(msg + "; " + testservers.RequireEnv + "=1 makes that a failure")
	}
	t.Skip(msg)
}

// waitReady polls ready until it succeeds, p exits or serverReady passes.
func waitReady(ctx context.Context, p *testservers.Process, log string, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, serverReady)
	defer cancel()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("the server exited during startup:\n%s", testservers.LogTail(log, logTail))
		case <-ctx.Done():
			return fmt.Errorf("no answer within %v (last: %v):\n%s", serverReady, err, testservers.LogTail(log, logTail))
		case <-time.After(serverPoll):
		}
	}
}

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Postgres is a private PostgreSQL server that a test may stop and start
// again, on the same port and data directory. It runs from Debian's
// newest /usr/lib/postgresql/*/bin (else the postgres on PATH), as the
// postgres user when the test runs as root (PostgreSQL refuses root), as
// scripts/servers.sh runs the shared one: trust authentication on
// 127.0.0.1 for the user strata, no Unix socket. Commits are durable
// against a crash of the server (synchronous_commit), not of the machine
// (no fsync). It is stopped and its directory deleted when the test ends.
type Postgres struct {
	t    testing.TB
	bin  string
	dir  string // its directory: data/, log
	port int
	cred *syscall.Credential // nil: run as this process's user

	mu   sync.Mutex
	proc *testservers.Process
}

// StartPostgres initialises and starts a private PostgreSQL server with a
// database strata. Without PostgreSQL's programs it skips t (fails it
// when servers are required).
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := postgresBin()
	if bin == "" {
		missing(t, "PostgreSQL (initdb, postgres) not found in /usr/lib/postgresql/*/bin or on PATH")
	}
	p := &Postgres{t: t, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			missing(t, "running as root, and no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	base, err := os.MkdirTemp("", "strata-faults-pg-")
	if err != nil {
		t.Fatal(err)
	}
	// Only traversable by others: the postgres user reaches its own
	// directory inside.
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	p.dir = filepath.Join(base, "pg")
	if err := os.Mkdir(p.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if p.cred != nil {
		if err := os.Chown(p.dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		p.mu.Lock()
		proc := p.proc
		p.mu.Unlock()
		if err := proc.Stop(syscall.SIGQUIT, serverStop); err != nil {
			t.Errorf("postgres: %v", err)
		}
		if t.Failed() {
			t.Logf("postgres: the end of its log:\n%s", testservers.LogTail(p.log(), logTail))
		}
		os.RemoveAll(base)
	})

	initdb, err := testservers.Spawn(p.log(), p.dir, p.cred, filepath.Join(bin, "initdb"), "-D", p.data(), "-U", "strata",
		"--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--lc-collate=C", "--no-sync", "--no-instructions")
	if err != nil {
		t.Fatalf("postgres: initdb: %v", err)
	}
	if initdb.Err() != nil {
		t.Fatalf("postgres: initdb failed:\n%s", testservers.LogTail(p.log(), logTail))
	}
	for attempt := 1; ; attempt++ {
		if p.port, err = freePort(); err != nil {
			t.Fatal(err)
		}
		err = p.Start(t.Context())
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(testservers.LogTail(p.log(), logTail), "already in use") {
			t.Fatalf("postgres: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), serverReady)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.url("postgres"))
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE strata"); err != nil {
		t.Fatalf("postgres: create the database: %v", err)
	}
	return p
}

// postgresBin returns the directory of the newest Debian PostgreSQL's
// programs, else of the postgres on PATH, else "".
func postgresBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return va - vb
	})
	if pg, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(pg); err == nil {
			dirs = append([]string{filepath.Dir(real)}, dirs...)
		}
	}
	for _, d := range slices.Backward(dirs) {
		if isExec(filepath.Join(d, "postgres")) && isExec(filepath.Join(d, "initdb")) {
			return d
		}
	}
	return ""
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func (p *Postgres) data() string { return filepath.Join(p.dir, "data") }
func (p *Postgres) log() string  { return filepath.Join(p.dir, "log") }

func (p *Postgres) url(db string) string {
	return fmt.Sprintf("postgres://strata@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// URL returns the URL of the database strata.
func (p *Postgres) URL() string { return p.url("strata") }

// Start starts the server (again) and waits until it accepts a login. It
// is an error if it is running.
func (p *Postgres) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc.Running() {
		return errors.New("postgres: already running")
	}
	proc, err := testservers.Spawn(p.log(), p.dir, p.cred, filepath.Join(p.bin, "postgres"), "-D", p.data(),
		"-p", strconv.Itoa(p.port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	p.proc = proc
	return waitReady(ctx, proc, p.log(), func(ctx context.Context) error {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		conn, err := pgx.Connect(cctx, p.url("postgres"))
		if err != nil {
			return err
		}
		return conn.Close(cctx)
	})
}

// PostgresStop is how a Postgres is stopped.
type PostgresStop syscall.Signal

// The ways of stopping PostgreSQL.
const (
	// Fast shutdown (SIGINT): clients are disconnected, a checkpoint is
	// written.
	PostgresFast = PostgresStop(syscall.SIGINT)
	// Immediate shutdown (SIGQUIT): every process exits at once, as in a
	// crash; the next start recovers from the WAL.
	PostgresImmediate = PostgresStop(syscall.SIGQUIT)
)

// String names the way of stopping.
func (s PostgresStop) String() string {
	if s == PostgresFast {
		return "fast"
	}
	return "immediate"
}

// Stop stops the server and waits until it has exited.
func (p *Postgres) Stop(how PostgresStop) error {
	p.mu.Lock()
	proc := p.proc
	p.mu.Unlock()
	if !proc.Running() {
		return errors.New("postgres: not running")
	}
	return proc.Stop(syscall.Signal(how), serverStop)
}

// Redis is a private Redis server that a test may stop and start again on
// the same port. It keeps its data in an append-only file written and
// fsynced before each reply (appendfsync always), so that what it
// acknowledged survives a kill. It is stopped and its directory deleted
// when the test ends.
type Redis struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	mu   sync.Mutex
	proc *testservers.Process
}

// StartRedis starts a private Redis server. Without redis-server it
// skips t (fails it when servers are required).
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "redis-server not on PATH")
	}
	r := &Redis{t: t, bin: bin, dir: t.TempDir()}
	t.Cleanup(func() {
		r.mu.Lock()
		proc := r.proc
		r.mu.Unlock()
		if err := proc.Stop(syscall.SIGKILL, serverStop); err != nil {
			t.Errorf("redis: %v", err)
		}
		if t.Failed() {
			t.Logf("redis: the end of its log:\n%s", testservers.LogTail(r.log(), logTail))
		}
	})
	for attempt := 1; ; attempt++ {
		if r.port, err = freePort(); err != nil {
			t.Fatal(err)
		}
		err = r.Start(t.Context())
		if err == nil {
			return r
		}
		if attempt == 3 || !strings.Contains(testservers.LogTail(r.log(), logTail), "already in use") {
			t.Fatalf("redis: %v", err)
		}
	}
}

func (r *Redis) log() string { return filepath.Join(r.dir, "log") }

// Addr returns the server's address, 127.0.0.1:port.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// URL returns the server's URL (database 0).
func (r *Redis) URL() string { return "redis://" + r.Addr() + "/0" }

// Start starts the server (again) and waits until it answers PING. It is
// an error if it is running.
func (r *Redis) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc.Running() {
		return errors.New("redis: already running")
	}
	// No config file: the distro's /etc/redis stays out.
	proc, err := testservers.Spawn(r.log(), r.dir, nil, r.bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(r.port),
		"--dir", r.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--daemonize", "no", "--supervised", "no", "--logfile", "")
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	r.proc = proc
	return waitReady(ctx, proc, r.log(), func(ctx context.Context) error {
		c := r.client()
		defer c.Close()
		return c.Ping(ctx).Err()
	})
}

func (r *Redis) client() *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: r.Addr(), MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
}

// RedisStop is how a Redis is stopped.
type RedisStop int

// The ways of stopping Redis.
const (
	RedisKill     RedisStop = iota // SIGKILL, as in a crash
	RedisShutdown                  // SHUTDOWN NOSAVE
)

// String names the way of stopping.
func (s RedisStop) String() string {
	if s == RedisKill {
		return "kill"
	}
	return "shutdown"
}

// Stop stops the server and waits until it has exited.
func (r *Redis) Stop(ctx context.Context, how RedisStop) error {
	r.mu.Lock()
	proc := r.proc
	r.mu.Unlock()
	if !proc.Running() {
		return errors.New("redis: not running")
	}
	if how == RedisKill {
		return proc.Stop(syscall.SIGKILL, serverStop)
	}
	c := r.client()
	defer c.Close()
	// The server closes the connection as it exits: no reply.
	if err := c.ShutdownNoSave(ctx).Err(); err != nil && !errors.Is(err, goredis.ErrClosed) && !isConnEnd(err) {
		return fmt.Errorf("redis: SHUTDOWN NOSAVE: %w", err)
	}
	select {
	case <-proc.Done():
		return nil
	case <-time.After(serverStop):
		return proc.Stop(syscall.SIGKILL, serverStop)
	}
}

func isConnEnd(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "connection reset")
}
