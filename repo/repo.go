package repo

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"time"

	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
	"github.com/strata-go/strata/snowflake"
)

// Repo is a handle on one store. It is safe for concurrent use, except a
// Repo handed to a Transaction function, which belongs to that function.
type Repo struct {
	a      driver.Adapter
	st     driver.Store // a, or the transaction
	tx     driver.Tx    // nil outside a transaction
	txs    *txState     // shared by a transaction's nested Repos
	depth  int          // transaction nesting depth
	caps   driver.Capabilities
	ccaps  driver.CollectionCapabilities // a, if its capabilities differ per collection
	ids    IDSource
	obs    Observer
	tracer Tracer
	log    *slog.Logger
	now    func() time.Time
}

// Option configures a Repo.
type Option func(*config)

type config struct {
	node    int
	nodeSet bool
	ids     IDSource
	obs     Observer
	tracer  Tracer
	log     *slog.Logger
	now     func() time.Time
}

// WithNode sets the node id (0–1023) of the snowflake IDs the repo
// generates. Give every process that writes to the same store its own
// node id; without this option a random one is chosen, which is fine for a
// single process.
func WithNode(id int) Option { return func(c *config) { c.node, c.nodeSet = id, true } }

// IDSource issues the snowflake IDs a repo generates (NewID, generated
// keys). A *snowflake.Generator is one.
type IDSource interface {
	Next() (snowflake.ID, error)
}

// WithIDSource makes the repo draw its IDs from s instead of a generator
// of its own (WithNode is then ignored): for a process whose node id may
// stop being its own, such as one leased from a shared store, whose
// source refuses IDs while the lease is in doubt.
func WithIDSource(s IDSource) Option { return func(c *config) { c.ids = s } }

// WithObserver calls o after every repo call; see Observer.
func WithObserver(o Observer) Option { return func(c *config) { c.obs = o } }

// WithLogger logs every call at debug level (and failures other than
// not-found at warn level) to l.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithClock sets the clock for timestamps and IDs (for tests).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// New returns a repo over an adapter.
func New(a driver.Adapter, opts ...Option) (*Repo, error) {
	if a == nil {
		return nil, fmt.Errorf("%w: repo.New: nil adapter", ErrInvalid)
	}
	c := config{now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	ids := c.ids
	if ids == nil {
		if !c.nodeSet {
			c.node = rand.IntN(1024)
		}
		g, err := snowflake.New(c.node, snowflake.WithClock(c.now))
		if err != nil {
			return nil, fmt.Errorf("%w: repo.New: %v", ErrInvalid, err)
		}
		ids = g
	}
	r := &Repo{a: a, st: a, caps: a.Capabilities(), ids: ids, obs: c.obs, tracer: c.tracer, log: c.log, now: c.now}
	r.ccaps, _ = a.(driver.CollectionCapabilities)
	return r, nil
}

// Close closes the adapter. Calling it on a transaction's Repo is an error.
func (r *Repo) Close() error {
	if r.tx != nil {
		return fmt.Errorf("%w: Close inside a transaction", ErrInvalid)
	}
	return r.a.Close()
}

// Capabilities returns the adapter's capabilities: what holds for every
// schema. Over an adapter whose capabilities differ per collection (a
// driver.CollectionCapabilities, such as a Router) each call is checked
// against those of its schema's collection, which may have more; a
// Router's transactions are those of its transaction store (see Router).
func (r *Repo) Capabilities() driver.Capabilities { return r.caps }

// CapabilitiesOf returns the capabilities that hold for calls on schema
// T: over a Router, those of T's store (with transactions only if a
// transaction can use T); over any other adapter, Capabilities.
func CapabilitiesOf[T any](r *Repo) (driver.Capabilities, error) {
	s, err := schema.Of[T]()
	if err != nil {
		return 0, err
	}
	return r.capsOf(s.Collection), nil
}

// capsOf returns the capabilities that hold for calls on c.
func (r *Repo) capsOf(c *driver.Collection) driver.Capabilities {
	if r.ccaps != nil {
		return r.ccaps.CapabilitiesOf(c)
	}
	return r.caps
}

// Driver returns the adapter, for packages that extend Strata (migrate,
// conformance) and for reaching store-specific features.
func (r *Repo) Driver() driver.Adapter { return r.a }

// InTransaction reports whether r is a transaction's Repo.
func (r *Repo) InTransaction() bool { return r.tx != nil }

// NewID returns a new snowflake ID from the repo's generator (or
// WithIDSource's). A generator fails only when the clock is past the IDs'
// range (year 2093).
func (r *Repo) NewID() (snowflake.ID, error) { return r.ids.Next() }

// target resolves v, a non-nil pointer to a schema struct, to its schema
// and the struct value.
func target(op string, v any) (*schema.Schema, reflect.Value, error) {
	rv := reflect.ValueOf(v)
	if v == nil || rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, reflect.Value{}, fmt.Errorf("%w: %s needs a non-nil pointer to a schema struct, not %T", ErrInvalid, op, v)
	}
	s, err := schema.ForType(rv.Type())
	if err != nil {
		return nil, reflect.Value{}, fmt.Errorf("%s: %w", op, err)
	}
	if rv.Elem().Kind() != reflect.Struct {
		return nil, reflect.Value{}, fmt.Errorf("%w: %s needs a pointer to a struct, not %T", ErrInvalid, op, v)
	}
	return s, rv.Elem(), nil
}

// keyOf returns the canonical primary key of the struct v, refusing an
// empty one.
func keyOf(s *schema.Schema, v reflect.Value) (any, error) {
	k, err := s.Key.Value(v)
	if err != nil {
		return nil, err
	}
	return checkKey(s, k)
}

func checkKey(s *schema.Schema, k any) (any, error) {
	switch x := k.(type) {
	case string:
		if x == "" {
			return nil, fmt.Errorf("%w: %s is empty", ErrInvalid, s.Key)
		}
	case int64:
		if x == 0 {
			return nil, fmt.Errorf("%w: %s is zero", ErrInvalid, s.Key)
		}
	case nil:
		return nil, fmt.Errorf("%w: %s is nil", ErrInvalid, s.Key)
	}
	return k, nil
}

// timestamp returns the current time as stored.
func (r *Repo) timestamp() time.Time { return r.now().UTC().Truncate(driver.TimePrecision) }
