// Package postgres is the mirror's store in a PostgreSQL database that
// several server replicas share (github.com/jackc/pgx/v5, through a
// pgxpool that reconnects by itself after the server restarts).
//
// # Schema and writes
//
// Migrations are versioned in code (migrations/NNNN_*.sql, embedded) and
// applied at Open in one transaction under a transaction-level advisory
// lock, so replicas that start together apply each once; schema_migrations
// records them.
//
// Rows live in one table keyed by (tenant, id). Each Apply is one
// transaction: it first increments the tenant's version in the tenants
// table, which row-locks the tenant until commit, then upserts the batch
// (one INSERT ... SELECT FROM unnest(arrays) ... ON CONFLICT DO UPDATE,
// the faster for pages of 100 to 1000 rows; from CopyThreshold rows, COPY
// into a temporary table and one INSERT ... SELECT ... ON CONFLICT from
// it, the faster for 5000), deletes, and writes the sync state. A crash
// leaves all of it or none of it.
//
// # Aggregates and the change log
//
// Aggregates are answered, as in mirror/sqlite, from an in-memory column
// copy of each tenant's rows (mirror/columns: SQL group-bys over a million
// rows are far slower). Several replicas write one database, so each
// replica's columns must also learn what the others wrote. The change log
// is the data itself: every row carries the tenant version of its last
// write, and a deleted row leaves a tombstone (its rid, at the deleting
// version). Because a tenant's writes are serialized by its row lock and
// numbered in commit order, "everything above version v" is exactly what
// a replica at v lacks, with no gaps from transactions that commit out of
// order; and new rows get rids (the columns' keys) above every rid a
// replica at an older version holds.
//
// Before answering Count, Stats or Series, a replica reads the tenant's
// version (one primary-key lookup) and, when it is ahead of its columns,
// reads the rows and tombstones above its own version in one
// repeatable-read snapshot and applies them. The writing replica applies
// its own batch to its columns right after commit when no other write came
// between. Tombstones are pruned after Options.TombstoneRetention; a
// replica whose columns are older than the pruned versions reloads them.
//
// # Consistency
//
// Every read sees every write committed before the read began, on any
// replica: read-your-writes on the writing replica, and other replicas'
// writes as soon as they commit (no polling delay). Within one call, a
// read sees a Batch wholly or not at all. While the database is down,
// calls fail with errors rather than answer from columns that may be
// stale.
//
// The version check costs one primary-key lookup per read (about 0.1 ms
// on loopback, against milliseconds for the aggregate itself), so there
// is no LISTEN/NOTIFY: a notification would only let a replica skip that
// lookup, at the price of a window in which it answers stale, and of a
// listening connection to keep alive across reconnects.
//
// # Leases
//
// AcquireLease and ReleaseLease implement mirror.Leaser with a lease row
// per tenant (holder, expires_at), taken when free or expired and renewed
// by its holder, by the database's clock. A row rather than a
// session-level advisory lock because an advisory lock lives and dies
// with one connection: a pool that replaces a broken connection silently
// drops it, and while the connection lives a hung replica keeps it
// forever. A row survives reconnects and gives an explicit TTL: a
// replica killed with kill -9 loses its tenants within the TTL. A write
// with a mirror.Batch.Holder first locks its lease row FOR SHARE and
// fails with mirror.ErrLeaseLost unless the row is the holder's and
// unexpired: a syncer that overran its lease writes nothing after a
// takeover, and a takeover waits for a fenced write in flight.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lemlist-graphql/server/mirror"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Defaults of Options.
const (
	DefaultConnectTimeout     = 5 * time.Second
	DefaultTombstoneRetention = 24 * time.Hour
	DefaultCopyThreshold      = 2000
)

// Options tune a Store.
type Options struct {
	// MaxConns bounds the connection pool; zero leaves the URL's
	// pool_max_conns or pgxpool's default (the larger of 4 and the number
	// of CPUs).
	MaxConns int32
	// ConnectTimeout bounds each connection attempt (dial, TLS and
	// authentication) when the URL sets no connect_timeout; zero means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// TombstoneRetention is how long deletions stay in the change log;
	// zero means DefaultTombstoneRetention.
	TombstoneRetention time.Duration
	// CopyThreshold is the smallest batch of upserts written by COPY into
	// a temporary table and a merge rather than by one INSERT of arrays;
	// zero means DefaultCopyThreshold, negative never copies.
	CopyThreshold int
}

// Store is a mirror.Store and a mirror.Leaser in a PostgreSQL database.
// It is safe for concurrent use, and several Stores (in several
// processes) may share one database.
type Store struct {
	pool      *pgxpool.Pool
	retention time.Duration
	copyMin   int

	mu      sync.Mutex // guards tenants
	tenants map[string]*tenantCols
}

var (
	_ mirror.Store  = (*Store)(nil)
	_ mirror.Leaser = (*Store)(nil)
)

// Open connects to the database at url (postgres://user:password@host/db
// or a key=value connection string), checks that it answers and migrates
// it. Its errors name the problem (an unparsable URL, an unreachable
// server, refused credentials, missing permissions) and never contain the
// password. Connection attempts are bounded by Options.ConnectTimeout and
// ctx.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, parseError(url, err)
	}
	secret := cfg.ConnConfig.Password
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
		if cfg.ConnConfig.ConnectTimeout <= 0 {
			cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
		}
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	s := &Store{
		retention: opts.TombstoneRetention,
		copyMin:   opts.CopyThreshold,
		tenants:   map[string]*tenantCols{},
	}
	if s.retention <= 0 {
		s.retention = DefaultTombstoneRetention
	}
	if s.copyMin == 0 {
		s.copyMin = DefaultCopyThreshold
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, openError("configure", secret, err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, openError("connect", secret, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, openError("migrate", secret, err)
	}
	return s, nil
}

// migrations returns the embedded migrations by version.
func migrations() (versions []int, bodies []string, err error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(names)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "migrations/"), "_", 2)[0])
		if err != nil {
			return nil, nil, fmt.Errorf("migration %s: no version prefix", name)
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, nil, err
		}
		versions, bodies = append(versions, v), append(bodies, string(body))
	}
	return versions, bodies, nil
}

// migrate applies the migrations newer than the database's version, all
// in one transaction under the migration lock.
func (s *Store) migrate(ctx context.Context) error {
	versions, bodies, err := migrations()
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qMigrationLock, int64(migrationLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qCreateMigrations); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRow(ctx, qMigrationVersion).Scan(&have); err != nil {
			return err
		}
		for i, v := range versions {
			if v <= have {
				continue
			}
			if _, err := tx.Exec(ctx, bodies[i]); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, qRecordMigration, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Version returns the schema version: the newest migration applied.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, qMigrationVersion).Scan(&v)
	return v, err
}

// Close closes the pool's connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

func ts(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

func fromTS(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// LoadState implements mirror.Store.
func (s *Store) LoadState(ctx context.Context, tenant string) (mirror.State, bool, error) {
	var st mirror.State
	var since, start, cursor, covered, rec, full, fullCur, fullTop pgtype.Timestamptz
	err := s.pool.QueryRow(ctx, qLoadState, tenant).Scan(&since, &start, &cursor, &st.BackfillDone, &st.AllTime,
		&covered, &rec, &full, &fullCur, &fullTop)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("load sync state: %w", err)
	}
	st.Since, st.Start, st.Cursor, st.CoveredTo = fromTS(since), fromTS(start), fromTS(cursor), fromTS(covered)
	st.LastReconciled, st.FullReconciled = fromTS(rec), fromTS(full)
	st.FullCursor, st.FullTop = fromTS(fullCur), fromTS(fullTop)
	return st, true, nil
}

// Apply implements mirror.Store.
func (s *Store) Apply(ctx context.Context, tenant string, b mirror.Batch) (mirror.Applied, error) {
	var res mirror.Applied
	// The last upsert of an id wins; it alone reports the insert.
	ups := make([]*mirror.Row, 0, len(b.Upserts))
	idx := make([]int, 0, len(b.Upserts))
	seen := make(map[string]int, len(b.Upserts))
	for i := range b.Upserts {
		if j, dup := seen[b.Upserts[i].ID]; dup {
			ups[j], idx[j] = &b.Upserts[i], i
			continue
		}
		seen[b.Upserts[i].ID] = len(ups)
		ups, idx = append(ups, &b.Upserts[i]), append(idx, i)
	}
	rids := make([]int64, len(ups))
	var tid, version, mark int64
	var deleted []int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if b.Holder != "" {
			var one int
			if err := tx.QueryRow(ctx, qFence, tenant, b.Holder).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
				return mirror.ErrLeaseLost
			} else if err != nil {
				return fmt.Errorf("check the lease: %w", err)
			}
		}
		if err := tx.QueryRow(ctx, qBumpTenant, tenant).Scan(&tid, &version, &mark); err != nil {
			return fmt.Errorf("lock tenant: %w", err)
		}
		if len(ups) > 0 {
			if err := s.upsert(ctx, tx, tid, version, b.At, ups, seen, rids); err != nil {
				return err
			}
		}
		if len(b.Deletes) > 0 {
			rows, _ := tx.Query(ctx, qDelete, tid, b.Deletes, version)
			var err error
			if deleted, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
				return fmt.Errorf("delete: %w", err)
			}
			if len(deleted) > 0 {
				if _, err := tx.Exec(ctx, qPruneTombstones, tid, s.retention.Microseconds()); err != nil {
					return fmt.Errorf("prune tombstones: %w", err)
				}
			}
		}
		if st := b.State; st != nil {
			_, err := tx.Exec(ctx, qSaveState, tid, ts(st.Since), ts(st.Start), ts(st.Cursor), st.BackfillDone, st.AllTime,
				ts(st.CoveredTo), ts(st.LastReconciled), ts(st.FullReconciled), ts(st.FullCursor), ts(st.FullTop))
			if err != nil {
				return fmt.Errorf("save sync state: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("postgres: apply: %w", err)
	}
	for k, rid := range rids {
		if rid > mark {
			res.Inserted = append(res.Inserted, idx[k])
		}
	}
	slices.Sort(res.Inserted)
	res.Deleted = len(deleted)
	s.applied(tenant, version, ups, rids, deleted)
	return res, nil
}

// upsert writes ups (distinct ids; seen maps an id to its index) and sets
// rids to their rids.
func (s *Store) upsert(ctx context.Context, tx pgx.Tx, tid, version int64, at time.Time, ups []*mirror.Row, seen map[string]int, rids []int64) error {
	var rows pgx.Rows
	if s.copyMin > 0 && len(ups) >= s.copyMin {
		if _, err := tx.Exec(ctx, qCreateStaging); err != nil {
			return fmt.Errorf("staging table: %w", err)
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"staging"}, stagingColumns, pgx.CopyFromSlice(len(ups), func(i int) ([]any, error) {
			r := ups[i]
			return []any{int64(i), r.ID, r.Type, r.Channel, r.CampaignID, r.LeadID, r.ContactID, r.UserID,
				r.CreatedAt, r.IsFirst, step(r), raw(r)}, nil
		}))
		if err != nil {
			return fmt.Errorf("copy upserts: %w", err)
		}
		rows, _ = tx.Query(ctx, qMergeStaging, tid, at, version)
	} else {
		n := len(ups)
		ids, types, chans, camps, leads, contacts, users := make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		created, first, steps, raws := make([]time.Time, n), make([]bool, n), make([]*int32, n), make([][]byte, n)
		for i, r := range ups {
			ids[i], types[i], chans[i], camps[i], leads[i], contacts[i], users[i] = r.ID, r.Type, r.Channel,
				r.CampaignID, r.LeadID, r.ContactID, r.UserID
			created[i], first[i], steps[i], raws[i] = r.CreatedAt, r.IsFirst, step(r), raw(r)
		}
		rows, _ = tx.Query(ctx, qUpsert, tid, at, version, ids, types, chans, camps, leads, contacts, users,
			created, first, steps, raws)
	}
	var id string
	var rid int64
	_, err := pgx.ForEachRow(rows, []any{&id, &rid}, func() error {
		k, ok := seen[id]
		if !ok {
			return fmt.Errorf("upsert returned unknown id %q", id)
		}
		rids[k] = rid
		return nil
	})
	if err != nil {
		return fmt.Errorf("upsert: %w", err)
	}
	return nil
}

// stagingColumns are the columns COPY fills in the staging table.
var stagingColumns = []string{"ord", "id", "type", "channel", "campaign_id", "lead_id", "contact_id", "user_id",
	"created_at", "is_first", "sequence_step", "raw"}

func step(r *mirror.Row) *int32 {
	if r.SequenceStep == nil {
		return nil
	}
	n := int32(*r.SequenceStep)
	return &n
}

func raw(r *mirror.Row) []byte {
	if r.Raw == nil {
		return []byte{}
	}
	return r.Raw
}

// IDsInRange implements mirror.Store.
func (s *Store) IDsInRange(ctx context.Context, tenant string, from, to time.Time) ([]mirror.Stored, error) {
	rows, _ := s.pool.Query(ctx, qIDsInRange, tenant, from, to)
	var out []mirror.Stored
	var st mirror.Stored
	_, err := pgx.ForEachRow(rows, []any{&st.ID, &st.CreatedAt, &st.WrittenAt}, func() error {
		st.CreatedAt, st.WrittenAt = st.CreatedAt.UTC(), st.WrittenAt.UTC()
		out = append(out, st)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: ids in range: %w", err)
	}
	return out, nil
}

// Get implements mirror.Store.
func (s *Store) Get(ctx context.Context, tenant, id string) (mirror.Row, bool, error) {
	var r mirror.Row
	var st *int32
	var body []byte
	err := s.pool.QueryRow(ctx, qGet, tenant, id).Scan(&r.ID, &r.Type, &r.Channel, &r.CampaignID, &r.LeadID,
		&r.ContactID, &r.UserID, &r.CreatedAt, &r.IsFirst, &st, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return mirror.Row{}, false, nil
	}
	if err != nil {
		return mirror.Row{}, false, fmt.Errorf("postgres: get %s: %w", id, err)
	}
	r.CreatedAt, r.Raw = r.CreatedAt.UTC(), body
	if st != nil {
		n := int(*st)
		r.SequenceStep = &n
	}
	return r, true, nil
}

// Count implements mirror.Store.
func (s *Store) Count(ctx context.Context, tenant string) (int, error) {
	t, err := s.fresh(ctx, tenant)
	if err != nil {
		return 0, err
	}
	return t.Len(), nil
}

// Stats implements mirror.Store.
func (s *Store) Stats(ctx context.Context, tenant string, q mirror.StatsQuery) (*mirror.Stats, error) {
	t, err := s.fresh(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return t.Stats(q)
}

// Series implements mirror.Store.
func (s *Store) Series(ctx context.Context, tenant string, q mirror.SeriesQuery) (*mirror.Series, error) {
	t, err := s.fresh(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return t.Series(q)
}

// AcquireLease implements mirror.Leaser: it takes the tenant's lease when
// it is free or expired, or renews holder's, until ttl from now by the
// database's clock.
func (s *Store) AcquireLease(ctx context.Context, tenant, holder string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("postgres: lease ttl %v is not positive", ttl)
	}
	var got string
	err := s.pool.QueryRow(ctx, qAcquireLease, tenant, holder, ttl.Microseconds()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("postgres: acquire lease: %w", err)
	}
	return true, nil
}

// ReleaseLease implements mirror.Leaser.
func (s *Store) ReleaseLease(ctx context.Context, tenant, holder string) error {
	if _, err := s.pool.Exec(ctx, qReleaseLease, tenant, holder); err != nil {
		return fmt.Errorf("postgres: release lease: %w", err)
	}
	return nil
}
