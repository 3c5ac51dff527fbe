package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/strata-go/strata/internal/valuecodec"
	"github.com/strata-go/strata/repo/driver"
)

// Insert stores a new record, with its index entries, in one script.
func (a *Adapter) Insert(ctx context.Context, c *driver.Collection, rec driver.Record, opts driver.InsertOptions) (driver.Record, error) {
	if err := driver.CheckRecord(c, rec); err != nil {
		return driver.Record{}, err
	}
	col, shard, pk, err := a.target(ctx, c, rec.Key(c), true)
	if err != nil {
		return driver.Record{}, err
	}
	mode, target := "", ""
	if oc := opts.OnConflict; oc != nil {
		mode, target = "r", oc.Target
		if oc.DoNothing {
			mode = "n"
		}
	}
	args := make([]any, 0, 8+2*len(c.Fields))
	args = append(args, "ins", col.desc, a.writeID(), pk, a.idTTL, mode, target, 0)
	args, n, err := appendFields(args, c, rec)
	if err != nil {
		return driver.Record{}, a.wrap("insert", c.Name, fmt.Errorf("%w: %w", driver.ErrInvalid, err))
	}
	args[7] = n
	if mode == "r" {
		for _, i := range opts.OnConflict.Replace {
			if i != c.Key {
				args = append(args, c.Fields[i].Name)
			}
		}
	}
	res, err := a.write(ctx, fnWrite, []string{shard}, args...)
	if err != nil {
		return driver.Record{}, a.wrap("insert", c.Name, err)
	}
	status, rest := reply(res)
	switch status {
	case "ok":
		if len(rest) == 0 {
			return rec, nil
		}
		flat, _ := rest[0].([]any)
		out, _, err := decodeFlat(c, flat)
		return out, err
	case "nothing":
		return driver.Record{}, nil
	case "dup": // applied by an earlier attempt whose reply was lost
		if mode == "" {
			return rec, nil
		}
		return a.Get(ctx, c, rec.Key(c))
	}
	return driver.Record{}, a.wrap("insert", c.Name, replyError(c, status, rest))
}

// Get reads a record's hash.
func (a *Adapter) Get(ctx context.Context, c *driver.Collection, key any) (driver.Record, error) {
	col, shard, pk, err := a.target(ctx, c, key, false)
	if err != nil {
		return driver.Record{}, err
	}
	var h map[string]string
	if col.ttl > 0 {
		h, err = a.getLive(ctx, shard+":r:"+pk)
	} else {
		h, err = a.client.HGetAll(ctx, shard+":r:"+pk).Result()
	}
	if err != nil {
		return driver.Record{}, a.wrap("get", c.Name, err)
	}
	if len(h) == 0 {
		return driver.Record{}, fmt.Errorf("redis: get %s %v: %w", c.Name, key, driver.ErrNotFound)
	}
	rec, _, err := decodeMap(c, h)
	return rec, err
}

// Update applies u's changes in one script: counters with exact int64
// arithmetic, sets as JSON lists, max by comparison, the version check
// and the index entries, atomically.
func (a *Adapter) Update(ctx context.Context, c *driver.Collection, u driver.Update) (driver.Record, error) {
	col, shard, pk, err := a.target(ctx, c, u.Key, false)
	if err != nil {
		return driver.Record{}, err
	}
	expect, err := expectVersion(c, u.ExpectVersion)
	if err != nil {
		return driver.Record{}, a.wrap("update", c.Name, err)
	}
	args := make([]any, 0, 7+4*len(u.Changes))
	args = append(args, "upd", col.desc, a.writeID(), pk, a.idTTL, expect)
	args, err = appendChanges(args, c, u.Key, u.Changes)
	if err != nil {
		return driver.Record{}, a.wrap("update", c.Name, err)
	}
	res, err := a.write(ctx, fnWrite, []string{shard}, args...)
	if err != nil {
		return driver.Record{}, a.wrap("update", c.Name, err)
	}
	status, rest := reply(res)
	switch status {
	case "ok":
		flat, _ := rest[0].([]any)
		out, _, err := decodeFlat(c, flat)
		return out, err
	case "dup":
		return a.Get(ctx, c, u.Key)
	}
	return driver.Record{}, a.wrap("update", c.Name, replyError(c, status, rest))
}

// Delete removes a record and its index entries in one script.
func (a *Adapter) Delete(ctx context.Context, c *driver.Collection, d driver.Delete) error {
	col, shard, pk, err := a.target(ctx, c, d.Key, false)
	if err != nil {
		return err
	}
	expect, err := expectVersion(c, d.ExpectVersion)
	if err != nil {
		return a.wrap("delete", c.Name, err)
	}
	res, err := a.write(ctx, fnWrite, []string{shard}, "del", col.desc, a.writeID(), pk, a.idTTL, expect)
	if err != nil {
		return a.wrap("delete", c.Name, err)
	}
	switch status, rest := reply(res); status {
	case "ok", "dup":
		return nil
	default:
		return a.wrap("delete", c.Name, replyError(c, status, rest))
	}
}

func expectVersion(c *driver.Collection, v *int64) (string, error) {
	if v == nil {
		return "", nil
	}
	if c.Version < 0 {
		return "", fmt.Errorf("%w: %s has no version field", driver.ErrInvalid, c.Name)
	}
	return strconv.FormatInt(*v, 10), nil
}

// appendChanges appends the script's form of changes: op, field, kind,
// value.
func appendChanges(args []any, c *driver.Collection, key any, changes []driver.Change) ([]any, error) {
	changes, err := driver.CheckChanges(c, key, changes)
	if err != nil {
		return nil, err
	}
	for _, ch := range changes {
		f := c.Fields[ch.Field]
		var op, val string
		switch ch.Op {
		case driver.Set, driver.SetMax:
			op = "s"
			if ch.Op == driver.SetMax {
				op = "m"
			}
			if ch.Value == nil {
				op = "d"
				break
			}
			if val, err = valuecodec.Encode(f.Kind, ch.Value); err != nil {
				return nil, err
			}
		case driver.Increment:
			op, val = "i", strconv.FormatInt(ch.Value.(int64), 10)
		case driver.Add, driver.Remove:
			elems := ch.Value.([]string)
			if elems == nil {
				elems = []string{}
			}
			b, _ := json.Marshal(elems)
			op, val = "a", string(b)
			if ch.Op == driver.Remove {
				op = "r"
			}
		}
		args = append(args, op, f.Name, string(kindChar(f.Kind)), val)
	}
	return args, nil
}

// reply splits a script's reply into its status and the rest.
func reply(res any) (string, []any) {
	list, _ := res.([]any)
	if len(list) == 0 {
		return "", nil
	}
	s, _ := list[0].(string)
	return s, list[1:]
}

// replyError is the error a script's failure status stands for.
func replyError(c *driver.Collection, status string, rest []any) error {
	arg := func(i int) string {
		if i < len(rest) {
			s, _ := rest[i].(string)
			return s
		}
		return ""
	}
	switch status {
	case "notfound":
		return driver.ErrNotFound
	case "stale":
		return driver.ErrStale
	case "unique":
		return &driver.ConstraintError{Kind: driver.Unique, Collection: c.Name, Name: arg(len(rest) - 1)}
	case "invalid":
		msg := arg(0)
		if f, ok := strings.CutPrefix(msg, "overflow:"); ok {
			msg = "the new value of " + f + " overflows int64"
		}
		return fmt.Errorf("%w: %s", driver.ErrInvalid, msg)
	case "conflict":
		return driver.ErrSerialization
	}
	return fmt.Errorf("redis: unexpected script reply %q %v", status, rest)
}

// isNil reports whether err is go-redis's "no such key".
func isNil(err error) bool { return errors.Is(err, goredis.Nil) }

// InsertAll inserts every record or none (driver.BatchInserter), by one
// commit script, on a single server.
func (a *Adapter) InsertAll(ctx context.Context, c *driver.Collection, recs []driver.Record) ([]driver.Record, error) {
	t, err := a.BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return nil, err
	}
	out, err := t.(*tx).InsertAll(ctx, c, recs)
	if err != nil {
		t.Rollback()
		return nil, err
	}
	if err := t.Commit(); err != nil {
		var ce *conflictError
		if errors.As(err, &ce) && t.(*tx).inserted(ce.key) {
			// A record inserted meanwhile with one of the keys.
			return nil, a.wrap("insert all", c.Name, &driver.ConstraintError{Kind: driver.Unique, Collection: c.Name, Name: driver.PrimaryKeyConstraint, Err: err})
		}
		return nil, err
	}
	return out, nil
}
