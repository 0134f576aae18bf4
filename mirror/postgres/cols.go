package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/columns"
)

// tenantCols is this replica's column copy of one tenant's rows.
type tenantCols struct {
	mu      sync.Mutex     // held while table or version change
	table   *columns.Table // nil until loaded
	version int64          // table holds every write up to this version
}

// cols returns the tenant's entry, creating it.
func (s *Store) cols(tenant string) *tenantCols {
	s.mu.Lock()
	defer s.mu.Unlock()
	tc := s.tenants[tenant]
	if tc == nil {
		tc = &tenantCols{}
		s.tenants[tenant] = tc
	}
	return tc
}

// fresh returns the tenant's columns holding every write committed before
// it was called: it reads the tenant's version and catches the columns up
// when they are behind.
func (s *Store) fresh(ctx context.Context, tenant string) (*columns.Table, error) {
	var tid, version, floor int64
	err := s.pool.QueryRow(ctx, qTenantVersion, tenant).Scan(&tid, &version, &floor)
	if errors.Is(err, pgx.ErrNoRows) {
		return columns.New(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: tenant version: %w", err)
	}
	tc := s.cols(tenant)
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.table != nil && tc.version >= version {
		return tc.table, nil
	}
	if err := s.catchUp(ctx, tc, tid); err != nil {
		return nil, fmt.Errorf("postgres: refresh columns: %w", err)
	}
	return tc.table, nil
}

// catchUp brings tc up to the tenant's current version from one snapshot:
// the changes above tc.version when tc is loaded and its version is not
// below the pruned tombstones, else every row. tc.mu is held.
func (s *Store) catchUp(ctx context.Context, tc *tenantCols, tid int64) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	var version, floor int64
	if err := tx.QueryRow(ctx, qTenantByID, tid).Scan(&version, &floor); err != nil {
		return err
	}
	if tc.table != nil && tc.version >= floor {
		rows, _ := tx.Query(ctx, qTombstones, tid, tc.version)
		dels, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		rows, _ = tx.Query(ctx, qChanged, tid, tc.version)
		var broken bool // the columns refused a row
		err = tc.table.Update(func(w *columns.Writer) error {
			if err := load(w, rows); err != nil {
				broken = !errors.Is(err, errQuery)
				return err
			}
			for _, rid := range dels {
				w.Delete(rid)
			}
			return nil
		})
		if err == nil {
			tc.version = version
			return nil
		}
		// The columns hold part of the changes: drop them. A read error
		// is returned; when the columns refused a row (a key out of
		// order, which cannot happen while writes are numbered under the
		// tenant lock), reload them at once rather than answer wrongly.
		tc.table = nil
		if !broken {
			return err
		}
	}
	t := columns.New()
	rows, _ := tx.Query(ctx, qColumns, tid)
	if err := t.Update(func(w *columns.Writer) error { return load(w, rows) }); err != nil {
		return err
	}
	tc.table, tc.version = t, version
	return nil
}

// errQuery marks the errors of reading rows, as opposed to the columns
// refusing one.
var errQuery = errors.New("read rows")

// load upserts the rows of qColumns or qChanged, in rid order, into w.
// The strings go from the connection's buffer to the columns, which copy
// only those new to them: a million rows leave no garbage behind.
func load(w *columns.Writer, rows pgx.Rows) error {
	defer rows.Close()
	var rid int64
	var at time.Time
	var first bool
	for rows.Next() {
		// nil skips a column: the five strings are read raw (a text
		// value's binary form is its bytes).
		if err := rows.Scan(&rid, nil, nil, nil, nil, nil, &at, &first); err != nil {
			return fmt.Errorf("%w: %w", errQuery, err)
		}
		v := rows.RawValues()
		if err := w.Load(rid, v[1], v[2], v[3], v[4], v[5], at.UnixMilli(), first); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%w: %w", errQuery, err)
	}
	return nil
}

// applied updates this replica's columns with a batch it just committed at
// version, when they hold every earlier version; otherwise the next read
// catches them up from the change log.
func (s *Store) applied(tenant string, version int64, ups []*mirror.Row, rids []int64, deleted []int64) {
	s.mu.Lock()
	tc := s.tenants[tenant]
	s.mu.Unlock()
	if tc == nil {
		return
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.table == nil || tc.version != version-1 {
		return
	}
	order := make([]int, len(ups))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(rids[a], rids[b]) })
	err := tc.table.Update(func(w *columns.Writer) error {
		for _, k := range order {
			if err := w.Upsert(rids[k], ups[k]); err != nil {
				return err
			}
		}
		for _, rid := range deleted {
			w.Delete(rid)
		}
		return nil
	})
	if err != nil { // committed: the next read reloads the columns
		tc.table = nil
		return
	}
	tc.version = version
}
