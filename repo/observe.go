package repo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/strata-go/strata/repo/driver"
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
	// Source is where a read was served from, when the store has tiers
	// (adapters/cache reports "l1", "l2" or "store"); "" otherwise.
	Source string
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

// call is one instrumented repo call; see begin.
type call struct {
	r        *Repo // nil when nothing observes the call
	ctx      context.Context
	op, coll string
	start    time.Time
	endSpan  func(error)
	info     *driver.CallInfo // filled by the adapter
}

// begin starts the instrumentation of a call: it returns the context to
// run the call with and the call to end, as
//
//	ctx, obs := r.begin(ctx, "get", s.Name())
//	defer obs.end(&rows, &err)
//
// rows may be nil. (A value with a method, not a closure, so that &err
// does not escape when nothing observes the call.)
func (r *Repo) begin(ctx context.Context, op, coll string) (context.Context, call) {
	if r.obs == nil && r.log == nil && r.tracer == nil {
		return ctx, call{}
	}
	c := call{r: r, op: op, coll: coll, start: time.Now()}
	if r.tracer != nil {
		ctx, c.endSpan = r.tracer(ctx, op, coll)
	}
	if r.obs != nil {
		c.info = new(driver.CallInfo)
		ctx = driver.ContextWithCallInfo(ctx, c.info)
	}
	c.ctx = ctx
	return ctx, c
}

// end reports the call to the tracer, the observer and the logger.
func (c call) end(rows *int, errp *error) {
	if c.r == nil {
		return
	}
	e := Event{Op: c.op, Schema: c.coll, Start: c.start, Duration: time.Since(c.start), Err: *errp}
	if rows != nil {
		e.Rows = *rows
	}
	if c.info != nil {
		e.Source = c.info.Source
	}
	if c.endSpan != nil {
		c.endSpan(e.Err)
	}
	if c.r.obs != nil {
		c.r.obs(c.ctx, e)
	}
	if c.r.log != nil {
		level := slog.LevelDebug
		if e.Err != nil && !errors.Is(e.Err, ErrNotFound) {
			level = slog.LevelWarn
		}
		c.r.log.LogAttrs(c.ctx, level, "strata "+c.op, slog.String("schema", c.coll), slog.Duration("duration", e.Duration),
			slog.Int("rows", e.Rows), slog.Any("error", e.Err))
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
