package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"syscall"
	"time"

	"github.com/strata-go/strata/repo/driver"
)

// Lock takes a named lock shared by every process using the database:
// PostgreSQL's session advisory lock and MariaDB's GET_LOCK, each on a
// connection of its own held until unlock (the server releases it if the
// process dies; the connection counts against max_open_conns while held); for SQLite, an flock(2) on a file beside the database
// (released by the kernel if the process dies), or a lock in this process
// for an in-memory database.
func (a *Adapter) Lock(ctx context.Context, name string) (func() error, error) {
	unlock, err := a.lock(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: lock %q: %w", name, err)
	}
	return unlock, nil
}

func (a *Adapter) lock(ctx context.Context, name string) (func() error, error) {
	if a.d == SQLite {
		return a.fileLock(ctx, name)
	}
	conn, err := a.db.Conn(ctx)
	if err != nil {
		return nil, a.d.classify(nil, err)
	}
	switch a.d {
	case Postgres:
		h := fnv.New64a()
		h.Write([]byte(name))
		key := int64(h.Sum64())
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", key); err != nil {
			conn.Close()
			return nil, err
		}
		return func() error {
			defer conn.Close()
			_, err := conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(?)", key)
			return err
		}, nil
	default: // MySQL: wait in steps of a second, so that ctx is honoured
		for {
			var got any
			if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 1)", name).Scan(&got); err != nil {
				conn.Close()
				return nil, err
			}
			if v, _ := a.d.decode(driver.KindInt, got); v == int64(1) {
				return func() error {
					defer conn.Close()
					_, err := conn.ExecContext(context.Background(), "SELECT RELEASE_LOCK(?)", name)
					return err
				}, nil
			}
			if err := ctx.Err(); err != nil {
				conn.Close()
				return nil, err
			}
		}
	}
}

// fileLock locks path.lock-name with flock, polling so that ctx is
// honoured. An in-memory database has no file: it uses a channel per
// adapter and name.
func (a *Adapter) fileLock(ctx context.Context, name string) (func() error, error) {
	if a.path == "" {
		return a.memLock(ctx, name)
	}
	f, err := os.OpenFile(a.path+".lock-"+fileSafe(name), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() error {
				defer f.Close()
				return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (a *Adapter) memLock(ctx context.Context, name string) (func() error, error) {
	a.memLocksMu.Lock()
	if a.memLocks == nil {
		a.memLocks = map[string]chan struct{}{}
	}
	ch := a.memLocks[name]
	if ch == nil {
		ch = make(chan struct{}, 1)
		a.memLocks[name] = ch
	}
	a.memLocksMu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() error { <-ch; return nil }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fileSafe turns a lock name into a file-name suffix: letters, digits, '-'
// and '_' stay, anything else (a '/', "..") becomes '_' — and a hash of the
// name keeps two names that map alike apart.
func fileSafe(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("%s-%08x", b, h.Sum32())
}
