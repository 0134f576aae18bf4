// Package sqlite is the mirror's store in an embedded SQLite database
// (modernc.org/sqlite: pure Go, no cgo), in WAL mode, with versioned
// migrations in code (migrations/*.sql, applied in order at Open).
//
// Activities are stored a page at a time: each Apply writes its rows in
// pages of up to 128, one database row per page holding the rows' columns
// and JSON in two compressed blocks (pages.go). What a database index
// would do is kept in memory, per tenant, loaded on the tenant's first
// use and updated after each committed write: the columns that answer
// aggregates (package mirror/columns, which says why not SQL) and the id
// index that finds a row's page (ids.go). A row replaced or deleted is
// marked dead in its page; a page whose rows are all dead is deleted.
//
// One process owns a database file: the in-memory copies see only this
// process's writes. Start over by deleting the file (and its -wal and
// -shm companions) while the server is stopped.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/maphash"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
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
	db   *sql.DB
	seed maphash.Seed // the id indexes' hash

	writeMu sync.Mutex           // serializes writes and tenant loads
	stmts   map[string]*sql.Stmt // prepared on first use; under writeMu
	enc     pageEncoder          // under writeMu
	// applyReads counts the pages Apply read to find its rows' stored
	// versions: candidates from the id index that a new row should
	// rarely have.
	applyReads atomic.Int64

	mu      sync.Mutex // guards tenants and data
	tenants map[string]int64
	data    map[int64]*tenantData
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
		// A statement journal (the pages a statement changes, kept in
		// case it fails halfway) stays in memory, not in a temporary file.
		"temp_store(MEMORY)",
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
	s := &Store{db: db, seed: maphash.MakeSeed(), stmts: map[string]*sql.Stmt{},
		tenants: map[string]int64{}, data: map[int64]*tenantData{}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	return s, nil
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
	for q, st := range s.stmts {
		st.Close()
		delete(s.stmts, q)
	}
	s.writeMu.Unlock()
	return s.db.Close()
}

// stmt returns q prepared, for use in tx. The caller holds writeMu.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	st := s.stmts[q]
	if st == nil {
		var err error
		if st, err = s.db.PrepareContext(ctx, q); err != nil {
			return nil, err
		}
		s.stmts[q] = st
	}
	return tx.StmtContext(ctx, st), nil
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

// Count implements mirror.Store.
func (s *Store) Count(ctx context.Context, tenant string) (int, error) {
	td, err := s.tenantData(ctx, tenant)
	if err != nil || td == nil {
		return 0, err
	}
	return td.table.Len(), nil
}

// Stats implements mirror.Store.
func (s *Store) Stats(ctx context.Context, tenant string, q mirror.StatsQuery) (*mirror.Stats, error) {
	td, err := s.tenantData(ctx, tenant)
	if err != nil {
		return nil, err
	}
	if td == nil {
		return columns.New().Stats(q)
	}
	return td.table.Stats(q)
}

// Series implements mirror.Store.
func (s *Store) Series(ctx context.Context, tenant string, q mirror.SeriesQuery) (*mirror.Series, error) {
	td, err := s.tenantData(ctx, tenant)
	if err != nil {
		return nil, err
	}
	if td == nil {
		return columns.New().Series(q)
	}
	return td.table.Series(q)
}
