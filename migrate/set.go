package migrate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/strata-go/strata/repo/driver"
)

// Migrations is a program's set of migrations, built in Go code and kept
// in version order. The zero value is an empty set ready to use; a nil
// *Migrations is an empty set too.
//
// Add checks each migration and refuses a bad one; the set remembers the
// first error, and a Migrator refuses to run a set that has one, so a
// mistake cannot go unnoticed even where Add's result is ignored (as in
// `var _ = all.Add(...)` registrations).
//
// A Migrations is not safe for concurrent Add; register migrations before
// using the set, as one registers flags before parsing them.
type Migrations struct {
	list []Migration // sorted by version
	err  error
}

// NewMigrations returns a set holding ms, or the first error Add meets.
func NewMigrations(ms ...Migration) (*Migrations, error) {
	s := new(Migrations)
	if err := s.Add(ms...); err != nil {
		return nil, err
	}
	return s, nil
}

// Add adds migrations to the set. A version that is not positive or is
// already in the set, an empty or malformed name, an empty Up, or an Op
// that failed to build is an error wrapping ErrInvalid (or the Op's own
// error), which names the migration; the migrations before it are added,
// the others are not.
func (s *Migrations) Add(ms ...Migration) error {
	if s == nil {
		return fmt.Errorf("migrate: %w: Add on a nil *Migrations", driver.ErrInvalid)
	}
	for _, m := range ms {
		if err := s.add(m); err != nil {
			err = fmt.Errorf("migrate: add %s: %w", m, err)
			if s.err == nil {
				s.err = err
			}
			return err
		}
	}
	return nil
}

func (s *Migrations) add(m Migration) error {
	if m.Version <= 0 {
		return fmt.Errorf("%w: version %d is not positive", driver.ErrInvalid, m.Version)
	}
	if err := checkName(m.Name); err != nil {
		return err
	}
	if len(m.Up) == 0 {
		return fmt.Errorf("%w: the migration has no Up operations", driver.ErrInvalid)
	}
	if err := checkOps("up", m.Up); err != nil {
		return err
	}
	if err := checkOps("down", m.Down); err != nil {
		return err
	}
	i, found := slices.BinarySearchFunc(s.list, m.Version, func(x Migration, v int64) int {
		switch {
		case x.Version < v:
			return -1
		case x.Version > v:
			return 1
		}
		return 0
	})
	if found {
		return fmt.Errorf("%w: version %d is also migration %q", driver.ErrInvalid, m.Version, s.list[i].Name)
	}
	m.Up, m.Down = slices.Clone(m.Up), slices.Clone(m.Down)
	s.list = slices.Insert(s.list, i, m)
	return nil
}

func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the migration has no name", driver.ErrInvalid)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: the name is not valid UTF-8", driver.ErrInvalid)
	case strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return fmt.Errorf("%w: the name %q has control characters", driver.ErrInvalid, name)
	}
	return nil
}

func checkOps(dir string, ops []Op) error {
	var errs []error
	for i, o := range ops {
		if err := o.Err(); err != nil {
			errs = append(errs, fmt.Errorf("%s op %d: %w", dir, i+1, err))
		}
	}
	return errors.Join(errs...)
}

// Err returns the first error Add met, or nil.
func (s *Migrations) Err() error {
	if s == nil {
		return nil
	}
	return s.err
}

// Len returns the number of migrations in the set.
func (s *Migrations) Len() int {
	if s == nil {
		return 0
	}
	return len(s.list)
}

// List returns the migrations in version order. The slice is a copy; the
// Ops in it are shared, and are immutable.
func (s *Migrations) List() []Migration {
	if s == nil {
		return nil
	}
	return slices.Clone(s.list)
}

// Get returns the migration with the given version.
func (s *Migrations) Get(version int64) (Migration, bool) {
	if s == nil {
		return Migration{}, false
	}
	for _, m := range s.list {
		if m.Version == version {
			return m, true
		}
	}
	return Migration{}, false
}
