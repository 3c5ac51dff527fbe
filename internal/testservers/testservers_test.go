package testservers

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// dial opens a TCP connection to the host and port of rawURL (defaultPort
// when it names none), bounded by a timeout that also covers later reads.
func dial(t *testing.T, rawURL, defaultPort string) net.Conn {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("parse %q: %v", rawURL, err)
	}
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("server unreachable at %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline.Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// The server answers PostgreSQL's SSLRequest with one byte, 'S' or 'N':
// reachable, and a PostgreSQL server.
func TestPostgresReachable(t *testing.T) {
	conn := dial(t, PostgresURL(t), "5432")
	req := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 8), 80877103)
	if _, err := conn.Write(req); err != nil {
		t.Fatalf("write SSLRequest: %v", err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(conn, b); err != nil {
		t.Fatalf("read SSLRequest answer: %v", err)
	}
	if b[0] != 'S' && b[0] != 'N' {
		t.Fatalf("SSLRequest answered %q, want 'S' or 'N': not a PostgreSQL server?", b[0])
	}
}

// A MySQL server speaks first: a handshake packet, protocol version 10.
func TestMySQLReachable(t *testing.T) {
	conn := dial(t, MySQLURL(t), "3306")
	header := make([]byte, 4) // 3-byte little-endian length, sequence number
	if _, err := io.ReadFull(conn, header); err != nil {
		t.Fatalf("read handshake: %v", err)
	}
	n := int(header[0]) | int(header[1])<<8 | int(header[2])<<16
	if n == 0 || n > 1<<16 {
		t.Fatalf("handshake length %d: not a MySQL server?", n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(conn, payload); err != nil {
		t.Fatalf("read handshake: %v", err)
	}
	switch payload[0] {
	case 10:
		version, _, _ := strings.Cut(string(payload[1:]), "\x00")
		t.Logf("server version %s", version)
	case 0xff: // an error packet: code, then a message
		t.Fatalf("server refused the connection: %q", payload[min(3, len(payload)):])
	default:
		t.Fatalf("handshake protocol version %d, want 10: not a MySQL server?", payload[0])
	}
}

// redisCommand sends an inline command and reads one reply: a simple
// string, an error or a bulk string (its payload).
func redisCommand(t *testing.T, conn net.Conn, r *bufio.Reader, cmd string) string {
	t.Helper()
	if _, err := conn.Write([]byte(cmd + "\r\n")); err != nil {
		t.Fatalf("write %s: %v", cmd, err)
	}
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read the reply to %s: %v", cmd, err)
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 || n > 1<<20 {
			t.Fatalf("%s: bulk reply %q", cmd, line)
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatalf("read the reply to %s: %v", cmd, err)
		}
		return string(b[:n])
	case strings.HasPrefix(line, "-"):
		t.Fatalf("%s: error reply %q", cmd, line)
	}
	return line
}

// redisPing dials addr and expects +PONG to an inline PING.
func redisPing(t *testing.T, rawURL, defaultPort string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn := dial(t, rawURL, defaultPort)
	r := bufio.NewReader(conn)
	if got := redisCommand(t, conn, r, "PING"); got != "+PONG" {
		t.Fatalf("PING answered %q, want +PONG: not a Redis server?", got)
	}
	return conn, r
}

func TestRedisReachable(t *testing.T) {
	redisPing(t, RedisURL(t), "6379")
}

// Every node of the cluster answers PING, and one (so every one, as
// scripts/servers.sh waits for that) says the cluster is ok.
func TestRedisClusterReachable(t *testing.T) {
	u, err := url.Parse(RedisClusterURL(t))
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "redis+cluster" {
		t.Fatalf("scheme %q, want redis+cluster", u.Scheme)
	}
	nodes := strings.Split(u.Host, ",")
	for _, node := range nodes {
		redisPing(t, "redis://"+node, "6379")
	}
	conn, r := redisPing(t, "redis://"+nodes[0], "6379")
	info := redisCommand(t, conn, r, "CLUSTER INFO")
	if !strings.Contains(info, "cluster_state:ok\r\n") {
		t.Fatalf("CLUSTER INFO on %s:\n%s\nwant cluster_state:ok", nodes[0], info)
	}
	t.Logf("%d nodes, cluster_state:ok", len(nodes))
}

// fakeTB records how lookup ends a test; like testing.T, Skip and Fatal end
// the goroutine.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skip(args ...any) {
	f.skipped, f.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fakeTB) Fatal(args ...any) {
	f.failed, f.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

// run calls fn with a fakeTB in its own goroutine, as Goexit requires.
func run(fn func(testing.TB) string) (f *fakeTB, got string) {
	f = &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = fn(f)
	}()
	<-done
	return f, got
}

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fn        func(testing.TB) string
		env       string
		value     string
		require   string
		skip, bad bool
	}{
		{"postgres set", PostgresURL, PostgresEnv, "postgres://u@h:1/d", "1", false, false},
		{"mysql set", MySQLURL, MySQLEnv, "mysql://u:p@h:2/d", "", false, false},
		{"postgres unset", PostgresURL, PostgresEnv, "", "", true, false},
		{"mysql unset, not required", MySQLURL, MySQLEnv, "", "0", true, false},
		{"postgres unset, required", PostgresURL, PostgresEnv, "", "1", false, true},
		{"mysql unset, required", MySQLURL, MySQLEnv, "", "1", false, true},
		{"redis set", RedisURL, RedisEnv, "redis://h:3/0", "1", false, false},
		{"redis unset", RedisURL, RedisEnv, "", "", true, false},
		{"redis unset, required", RedisURL, RedisEnv, "", "1", false, true},
		{"redis cluster set", RedisClusterURL, RedisClusterEnv, "redis+cluster://h:4,h:5", "", false, false},
		{"redis cluster unset", RedisClusterURL, RedisClusterEnv, "", "0", true, false},
		{"redis cluster unset, required", RedisClusterURL, RedisClusterEnv, "", "1", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			t.Setenv(RequireEnv, tc.require)
			f, got := run(tc.fn)
			if f.skipped != tc.skip || f.failed != tc.bad {
				t.Fatalf("skipped=%v failed=%v (%q), want skipped=%v failed=%v", f.skipped, f.failed, f.msg, tc.skip, tc.bad)
			}
			if !tc.skip && !tc.bad && got != tc.value {
				t.Fatalf("got %q, want %q", got, tc.value)
			}
			if (tc.skip || tc.bad) && !strings.Contains(f.msg, tc.env) {
				t.Fatalf("message %q does not name %s", f.msg, tc.env)
			}
		})
	}
}

func TestPostgresSchema(t *testing.T) {
	u := PostgresSchema(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(schema, "t") {
		t.Fatalf("connected to schema %q, not the fresh one", schema)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE x (id int)"); err != nil {
		t.Fatal(err)
	}
}
