package repo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Event describes one finished repo call.
type Event struct {
	// Op is the operation: "insert", "insert_all", "get", "query",
	// "count", "exists", "aggregate", "update", "delete", "delete_all",
	// "transaction". Preload reports one "query" per association.
	Op string
	// Schema is the collection name ("" for transactions).
	Schema string
	// Start and Duration time the call.
	Start    time.Time
	Duration time.Duration
	// Rows is the number of records read or written, where known.
	Rows int
	// Err is the call's error, if any (not-found included: it is a value).
	Err error
}

// Observer is called after every repo call, on the caller's goroutine,
// for logs, metrics and tracing (a tracer can open a span at e.Start).
// It must not block.
type Observer func(ctx context.Context, e Event)

// observe reports a call; use it as
//
//	defer r.observe(ctx, "get", s.Name(), time.Now(), &rows, &err)
func (r *Repo) observe(ctx context.Context, op, coll string, start time.Time, rows *int, errp *error) {
	if r.obs == nil && r.log == nil {
		return
	}
	e := Event{Op: op, Schema: coll, Start: start, Duration: time.Since(start), Err: *errp}
	if rows != nil {
		e.Rows = *rows
	}
	if r.obs != nil {
		r.obs(ctx, e)
	}
	if r.log != nil {
		level := slog.LevelDebug
		if e.Err != nil && !errors.Is(e.Err, ErrNotFound) {
			level = slog.LevelWarn
		}
		r.log.LogAttrs(ctx, level, "strata "+op, slog.String("schema", coll), slog.Duration("duration", e.Duration),
			slog.Int("rows", e.Rows), slog.Any("error", e.Err))
	}
}

// wrap gives an error the operation and schema, once.
func wrap(op, coll string, err error) error {
	if err == nil {
		return nil
	}
	if coll == "" {
		return fmt.Errorf("strata: %s: %w", op, err)
	}
	return fmt.Errorf("strata: %s %s: %w", op, coll, err)
}
