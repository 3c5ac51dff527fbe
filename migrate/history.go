package migrate

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
)

// HistoryTable is the collection in which a store keeps its migration
// history, one record per applied migration; it is also the name of the
// lock a Migrator holds while it migrates.
const HistoryTable = "strata_migrations"

// record is one applied migration in the history.
type record struct {
	_         struct{}  `strata:"table=strata_migrations"`
	Version   int64     `strata:"version,pk"`
	Name      string    `strata:"name"`
	AppliedAt time.Time `strata:"applied_at"`
}

// history is what the store's history says: the applied migrations by
// version.
type history map[int64]record

// readHistory reads the history through the repo. With missingIsEmpty,
// for the calls that only read and so do not create the history first, a
// history collection that does not exist (the store was never migrated:
// adapters report reading a missing collection as ErrNotFound, or read
// nothing) is an empty history.
func (m *Migrator) readHistory(ctx context.Context, missingIsEmpty bool) (history, error) {
	recs, err := repo.All[record](ctx, m.r, repo.Query{}.OrderBy("version").FullScan())
	if missingIsEmpty && errors.Is(err, driver.ErrNotFound) {
		return history{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", HistoryTable, err)
	}
	h := make(history, len(recs))
	for _, r := range recs {
		h[r.Version] = r
	}
	return h, nil
}

// createHistory creates the history collection if it does not exist.
func (m *Migrator) createHistory(ctx context.Context) error {
	err := m.mig.Migrate(ctx, driver.CreateCollection{Collection: m.hist.Collection, IfNotExists: true})
	if err != nil {
		return fmt.Errorf("create %s: %w", HistoryTable, err)
	}
	return nil
}

// writeHistory records that mig was applied (dir Up) or rolled back
// (Down): in the transaction tx if it is not nil, else through the repo.
func (m *Migrator) writeHistory(ctx context.Context, tx driver.Tx, dir Direction, mig Migration) error {
	rec := record{Version: mig.Version, Name: mig.Name, AppliedAt: m.now().UTC().Truncate(driver.TimePrecision)}
	var err error
	switch {
	case tx == nil && dir == Up:
		err = m.r.Insert(ctx, &rec)
	case tx == nil:
		err = m.r.Delete(ctx, &rec)
	case dir == Up:
		// A transaction's Repo does not expose its driver.Tx, which must
		// also run the operations, so in a transaction the history is
		// written through the driver, encoded by the same schema.
		var vals []any
		if vals, err = m.hist.Encode(reflect.ValueOf(rec)); err == nil {
			_, err = tx.Insert(ctx, m.hist.Collection, driver.Record{Values: vals}, driver.InsertOptions{})
		}
	default:
		err = tx.Delete(ctx, m.hist.Collection, driver.Delete{Key: rec.Version})
	}
	if err != nil {
		if dir == Up {
			return fmt.Errorf("record it in %s: %w", HistoryTable, err)
		}
		return fmt.Errorf("remove it from %s: %w", HistoryTable, err)
	}
	return nil
}

func historySchema() (*schema.Schema, error) { return schema.Of[record]() }
