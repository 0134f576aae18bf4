// Package sqlite is the mirror's store in an embedded SQLite database
// (modernc.org/sqlite: pure Go, no cgo), in WAL mode, with versioned
// migrations in code (migrations/*.sql, applied in order at Open).
//
// Rows live in one table keyed by (tenant, id), with an index on
// (tenant, createdAt) for reconciliation. Aggregates are answered from an
// in-memory column copy of each tenant's rows (package mirror/columns),
// loaded on the tenant's first use and updated after each committed
// write; see that package for why not SQL.
//
// One process owns a database file: the in-memory columns see only this
// process's writes. Start over by deleting the file (and its -wal and
// -shm companions) while the server is stopped.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/columns"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DefaultBusyTimeout is how long a statement waits for a lock held by
// another connection before failing with "database is locked".
const DefaultBusyTimeout = 5 * time.Second

// walAutocheckpoint is the WAL's length, in pages, past which a commit
// copies it back into the database (SQLite's default is 1000). A page of
// 100 activities dirties about 130 pages, most of them leaves of the id
// index, where the ids land at random: a longer WAL lets one checkpoint
// write each such leaf once for many commits. The WAL file grows to about
// 40 MiB (4 KiB pages) before it is reused.
const walAutocheckpoint = 10_000

// Options tune a Store.
type Options struct {
	// BusyTimeout: zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
	// CacheKiB is SQLite's page cache per connection (up to 4); zero
	// means 2 MiB. Aggregates do not read pages, so a small cache costs
	// little.
	CacheKiB int
}

// Store is a mirror.Store in one SQLite file. It is safe for concurrent
// use.
type Store struct {
	db *sql.DB

	writeMu    sync.Mutex // serializes writes and column loads
	upsertFull *sql.Stmt  // the upsert of upsertChunk rows, prepared on first use; under writeMu

	mu      sync.Mutex // guards tenants and tables
	tenants map[string]int64
	tables  map[int64]*columns.Table
}

var _ mirror.Store = (*Store)(nil)

// Open opens (creating it if needed) the database at path and migrates it.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	cache := opts.CacheKiB
	if cache <= 0 {
		cache = 2 << 10
	}
	q := url.Values{}
	for _, p := range []string{
		"busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")",
		"journal_mode(WAL)",
		"synchronous(NORMAL)",
		"foreign_keys(ON)",
		"cache_size(-" + strconv.Itoa(cache) + ")",
		// An upsert's statement journal (the pages it changes, kept in
		// case it fails halfway) stays in memory rather than in a temporary
		// file: a third of a page's write syscalls.
		"temp_store(MEMORY)",
		"wal_autocheckpoint(" + strconv.Itoa(walAutocheckpoint) + ")",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	s := &Store{db: db, tenants: map[string]int64{}, tables: map[int64]*columns.Table{}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	return s, nil
}

// migrate applies the migrations newer than the database's version, each
// in its own transaction.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, qCreateMigrations); err != nil {
		return err
	}
	var have int
	if err := s.db.QueryRowContext(ctx, qMigrationVersion).Scan(&have); err != nil {
		return err
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "migrations/"), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: no version prefix", name)
		}
		if v <= have {
			continue
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, qRecordMigration, v, time.Now().UnixMilli()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Version returns the schema version: the newest migration applied.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, qMigrationVersion).Scan(&v)
	return v, err
}

// Close closes the database.
func (s *Store) Close() error {
	s.writeMu.Lock()
	if s.upsertFull != nil {
		s.upsertFull.Close()
		s.upsertFull = nil
	}
	s.writeMu.Unlock()
	return s.db.Close()
}

// tid returns the tenant's id; with create, it registers the tenant when
// it is new, else ok is false.
func (s *Store) tid(ctx context.Context, tenant string, create bool) (id int64, ok bool, err error) {
	s.mu.Lock()
	id, ok = s.tenants[tenant]
	s.mu.Unlock()
	if ok {
		return id, true, nil
	}
	if create {
		if _, err := s.db.ExecContext(ctx, qInsertTenant, tenant); err != nil {
			return 0, false, fmt.Errorf("register tenant: %w", err)
		}
	}
	err = s.db.QueryRowContext(ctx, qTenantID, tenant).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("look up tenant: %w", err)
	}
	s.mu.Lock()
	s.tenants[tenant] = id
	s.mu.Unlock()
	return id, true, nil
}

// table returns the tenant's in-memory columns, loading them on first use.
func (s *Store) table(ctx context.Context, tid int64) (*columns.Table, error) {
	s.mu.Lock()
	t := s.tables[tid]
	s.mu.Unlock()
	if t != nil {
		return t, nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.tableLocked(ctx, tid)
}

// tableLocked is table with writeMu held, so no write commits while the
// columns load.
func (s *Store) tableLocked(ctx context.Context, tid int64) (*columns.Table, error) {
	s.mu.Lock()
	t := s.tables[tid]
	s.mu.Unlock()
	if t != nil {
		return t, nil
	}
	t = columns.New()
	rows, err := s.db.QueryContext(ctx, qColumns, tid)
	if err != nil {
		return nil, fmt.Errorf("load columns: %w", err)
	}
	defer rows.Close()
	err = t.Update(func(w *columns.Writer) error {
		var rid, at int64
		var first bool
		// RawBytes: the table interns the strings it keeps, so a million
		// rows leave no garbage behind.
		var typ, ch, camp, lead, user sql.RawBytes
		for rows.Next() {
			if err := rows.Scan(&rid, &typ, &ch, &camp, &lead, &user, &at, &first); err != nil {
				return err
			}
			if err := w.Load(rid, typ, ch, camp, lead, user, at, first); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("load columns: %w", err)
	}
	s.mu.Lock()
	s.tables[tid] = t
	s.mu.Unlock()
	return t, nil
}

// dropTable forgets the tenant's columns; the next use reloads them.
func (s *Store) dropTable(tid int64) {
	s.mu.Lock()
	delete(s.tables, tid)
	s.mu.Unlock()
}

func ms(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromMs(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

// LoadState implements mirror.Store.
func (s *Store) LoadState(ctx context.Context, tenant string) (mirror.State, bool, error) {
	var st mirror.State
	tid, ok, err := s.tid(ctx, tenant, false)
	if err != nil || !ok {
		return st, false, err
	}
	var since, start, cursor, covered, rec, full, fullCur, fullTop sql.NullInt64
	err = s.db.QueryRowContext(ctx, qLoadState, tid).Scan(&since, &start, &cursor, &st.BackfillDone, &st.AllTime,
		&covered, &rec, &full, &fullCur, &fullTop)
	if errors.Is(err, sql.ErrNoRows) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("load sync state: %w", err)
	}
	st.Since, st.Start, st.Cursor, st.CoveredTo = fromMs(since), fromMs(start), fromMs(cursor), fromMs(covered)
	st.LastReconciled, st.FullReconciled = fromMs(rec), fromMs(full)
	st.FullCursor, st.FullTop = fromMs(fullCur), fromMs(fullTop)
	return st, true, nil
}

// Apply implements mirror.Store.
func (s *Store) Apply(ctx context.Context, tenant string, b mirror.Batch) (mirror.Applied, error) {
	var res mirror.Applied
	tid, _, err := s.tid(ctx, tenant, true)
	if err != nil {
		return res, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	t, err := s.tableLocked(ctx, tid)
	if err != nil {
		return res, err
	}
	// The last upsert of an id wins; it alone reports the insert.
	ups := b.Upserts
	idx := make([]int, 0, len(ups))
	seen := make(map[string]int, len(ups))
	for i := range ups {
		if j, dup := seen[ups[i].ID]; dup {
			idx[j] = i
			continue
		}
		seen[ups[i].ID] = len(idx)
		idx = append(idx, i)
	}
	rids := make([]int64, len(idx))
	var deleted []int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var seq int64
		if err := tx.QueryRowContext(ctx, qSequence).Scan(&seq); err != nil {
			return err
		}
		at := b.At.UnixMilli()
		for lo := 0; lo < len(idx); lo += upsertChunk {
			chunk := idx[lo:min(lo+upsertChunk, len(idx))]
			args := make([]any, 0, len(chunk)*upsertColumns)
			for _, i := range chunk {
				r := &ups[i]
				var step sql.NullInt64
				if r.SequenceStep != nil {
					step = sql.NullInt64{Int64: int64(*r.SequenceStep), Valid: true}
				}
				raw := []byte(r.Raw)
				if raw == nil {
					raw = []byte{}
				}
				args = append(args, tid, r.ID, r.Type, r.Channel, r.CampaignID, r.LeadID, r.ContactID, r.UserID,
					r.CreatedAt.UnixMilli(), r.IsFirst, step, at, raw)
			}
			rows, err := s.upsert(ctx, tx, len(chunk), args)
			if err != nil {
				return fmt.Errorf("upsert: %w", err)
			}
			pos := make(map[string]int, len(chunk))
			for k, i := range chunk {
				pos[ups[i].ID] = lo + k
			}
			var rid int64
			var id string
			for rows.Next() {
				if err := rows.Scan(&rid, &id); err != nil {
					rows.Close()
					return fmt.Errorf("upsert: %w", err)
				}
				rids[pos[id]] = rid
			}
			if err := rows.Close(); err != nil {
				return fmt.Errorf("upsert: %w", err)
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("upsert: %w", err)
			}
		}
		for k, i := range idx {
			if rids[k] == 0 {
				return fmt.Errorf("upsert %s: no rid returned", ups[i].ID)
			}
			if rids[k] > seq {
				res.Inserted = append(res.Inserted, i)
			}
		}
		if len(b.Deletes) > 0 {
			st, err := tx.PrepareContext(ctx, qDelete)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, id := range b.Deletes {
				var rid int64
				err := st.QueryRowContext(ctx, tid, id).Scan(&rid)
				if errors.Is(err, sql.ErrNoRows) {
					continue
				}
				if err != nil {
					return fmt.Errorf("delete %s: %w", id, err)
				}
				deleted = append(deleted, rid)
			}
		}
		if st := b.State; st != nil {
			_, err := tx.ExecContext(ctx, qSaveState, tid, ms(st.Since), ms(st.Start), ms(st.Cursor), st.BackfillDone, st.AllTime,
				ms(st.CoveredTo), ms(st.LastReconciled), ms(st.FullReconciled), ms(st.FullCursor), ms(st.FullTop))
			if err != nil {
				return fmt.Errorf("save sync state: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		res.Inserted = nil
		return res, err
	}
	res.Deleted = len(deleted)
	slices.Sort(res.Inserted)
	err = t.Update(func(w *columns.Writer) error {
		for k, i := range idx {
			if err := w.Upsert(rids[k], &ups[i]); err != nil {
				return err
			}
		}
		for _, rid := range deleted {
			w.Delete(rid)
		}
		return nil
	})
	if err != nil { // committed: the columns reload from the database
		s.dropTable(tid)
	}
	return res, nil
}

// upsertChunk rows go in one INSERT statement (13 values each, far below
// SQLite's 32766 variables): one statement per page rather than per row
// halves the CPU of an ingest.
const (
	upsertChunk   = 100
	upsertColumns = 13
)

// upsert runs the upsert of n rows in tx. The statement for a full chunk
// is prepared once (database/sql then prepares it once per connection):
// parsing it costs a fifth of a millisecond a page. A shorter batch, the
// last page of a window or a head poll, is parsed each time, so that at
// most one large statement stays prepared. The caller holds writeMu.
func (s *Store) upsert(ctx context.Context, tx *sql.Tx, n int, args []any) (*sql.Rows, error) {
	if n != upsertChunk {
		return tx.QueryContext(ctx, upsertSQL(n), args...)
	}
	if s.upsertFull == nil {
		st, err := s.db.PrepareContext(ctx, upsertSQL(n))
		if err != nil {
			return nil, err
		}
		s.upsertFull = st
	}
	return tx.StmtContext(ctx, s.upsertFull).QueryContext(ctx, args...)
}

// upsertSQL returns the statement that upserts n rows.
func upsertSQL(n int) string {
	var b strings.Builder
	b.WriteString(qUpsertHead)
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(qUpsertValues)
	}
	b.WriteString(qUpsertTail)
	return b.String()
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE).
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// IDsInRange implements mirror.Store.
func (s *Store) IDsInRange(ctx context.Context, tenant string, from, to time.Time) ([]mirror.Stored, error) {
	tid, ok, err := s.tid(ctx, tenant, false)
	if err != nil || !ok {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, qIDsInRange, tid, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("ids in range: %w", err)
	}
	defer rows.Close()
	var out []mirror.Stored
	for rows.Next() {
		var st mirror.Stored
		var at, wr int64
		if err := rows.Scan(&st.ID, &at, &wr); err != nil {
			return nil, fmt.Errorf("ids in range: %w", err)
		}
		st.CreatedAt, st.WrittenAt = time.UnixMilli(at).UTC(), time.UnixMilli(wr).UTC()
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ids in range: %w", err)
	}
	return out, nil
}

// Count implements mirror.Store.
func (s *Store) Count(ctx context.Context, tenant string) (int, error) {
	t, err := s.tenantTable(ctx, tenant)
	if err != nil || t == nil {
		return 0, err
	}
	return t.Len(), nil
}

// tenantTable returns the tenant's columns, nil for an unknown tenant.
func (s *Store) tenantTable(ctx context.Context, tenant string) (*columns.Table, error) {
	tid, ok, err := s.tid(ctx, tenant, false)
	if err != nil || !ok {
		return nil, err
	}
	return s.table(ctx, tid)
}

// Get implements mirror.Store.
func (s *Store) Get(ctx context.Context, tenant, id string) (mirror.Row, bool, error) {
	var r mirror.Row
	tid, ok, err := s.tid(ctx, tenant, false)
	if err != nil || !ok {
		return r, false, err
	}
	var at int64
	var step sql.NullInt64
	var raw []byte
	err = s.db.QueryRowContext(ctx, qGet, tid, id).Scan(&r.ID, &r.Type, &r.Channel, &r.CampaignID, &r.LeadID,
		&r.ContactID, &r.UserID, &at, &r.IsFirst, &step, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("get %s: %w", id, err)
	}
	if len(raw) > 0 {
		r.Raw = raw
	}
	r.CreatedAt = time.UnixMilli(at).UTC()
	if step.Valid {
		n := int(step.Int64)
		r.SequenceStep = &n
	}
	return r, true, nil
}

// Stats implements mirror.Store.
func (s *Store) Stats(ctx context.Context, tenant string, q mirror.StatsQuery) (*mirror.Stats, error) {
	t, err := s.tenantTable(ctx, tenant)
	if err != nil {
		return nil, err
	}
	if t == nil {
		t = columns.New()
	}
	return t.Stats(q)
}

// Series implements mirror.Store.
func (s *Store) Series(ctx context.Context, tenant string, q mirror.SeriesQuery) (*mirror.Series, error) {
	t, err := s.tenantTable(ctx, tenant)
	if err != nil {
		return nil, err
	}
	if t == nil {
		t = columns.New()
	}
	return t.Series(q)
}
