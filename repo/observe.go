package repo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/strata-go/strata/schema"
)

// Event describes one finished repo call.
type Event struct {
	// Op is the operation: "insert", "insert_all", "get", "query",
	// "count", "aggregate", "update", "delete", "delete_all",
	// "transaction". Preload reports one "query" per association.
	Op string
	// Schema is the collection name ("" for transactions, and for calls
	// whose argument has no schema).
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
// for logs and metrics; calls refused for bad input are reported too. It
// must not block.
type Observer func(ctx context.Context, e Event)

// Tracer is called before every repo call, for tracing: it starts a span
// and returns the context to run the call with — so that the adapter's own
// instrumentation (a SQL or Redis client's hooks) nests under the span —
// and a function that ends the span with the call's error.
type Tracer func(ctx context.Context, op, schema string) (context.Context, func(err error))

// WithTracer starts a span around every repo call; see Tracer.
func WithTracer(t Tracer) Option { return func(c *config) { c.tracer = t } }

// noEnd ends a call that nothing observes, without allocating.
func noEnd(*int, *error) {}

// begin starts the instrumentation of a call: it returns the context to
// run the call with and the function to end it with, as
//
//	ctx, done := r.begin(ctx, "get", s.Name())
//	defer done(&rows, &err)
//
// rows may be nil.
func (r *Repo) begin(ctx context.Context, op, coll string) (context.Context, func(rows *int, errp *error)) {
	if r.obs == nil && r.log == nil && r.tracer == nil {
		return ctx, noEnd
	}
	start := time.Now()
	var endSpan func(error)
	if r.tracer != nil {
		ctx, endSpan = r.tracer(ctx, op, coll)
	}
	return ctx, func(rows *int, errp *error) {
		e := Event{Op: op, Schema: coll, Start: start, Duration: time.Since(start), Err: *errp}
		if rows != nil {
			e.Rows = *rows
		}
		if endSpan != nil {
			endSpan(e.Err)
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
}

// nameOf returns the collection name of a schema, or "" for none.
func nameOf(s *schema.Schema) string {
	if s == nil {
		return ""
	}
	return s.Name()
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
