package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/columns"
)

// tenantData is what the store keeps in memory of one tenant: the columns
// and the id index, both keyed by row key.
type tenantData struct {
	tid int64
	// mu is held for writing from a write's commit until table and ids
	// show it, and for reading by Get and IDsInRange, so that a key found
	// in ids names a live row.
	mu    sync.RWMutex
	table *columns.Table
	ids   *idIndex // changed under the store's writeMu and mu
}

// tenantData returns the tenant's data, loading it on first use; nil for
// an unknown tenant.
func (s *Store) tenantData(ctx context.Context, tenant string) (*tenantData, error) {
	tid, ok, err := s.tid(ctx, tenant, false)
	if err != nil || !ok {
		return nil, err
	}
	s.mu.Lock()
	td := s.data[tid]
	s.mu.Unlock()
	if td != nil {
		return td, nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.tenantLocked(ctx, tid)
}

// tenantLocked is tenantData with writeMu held, so that no write commits
// while the tenant loads.
func (s *Store) tenantLocked(ctx context.Context, tid int64) (*tenantData, error) {
	s.mu.Lock()
	td := s.data[tid]
	s.mu.Unlock()
	if td != nil {
		return td, nil
	}
	td, err := s.load(ctx, tid)
	if err != nil {
		return nil, fmt.Errorf("load tenant: %w", err)
	}
	s.mu.Lock()
	s.data[tid] = td
	s.mu.Unlock()
	return td, nil
}

// load reads a tenant's pages' meta blocks (not their JSON) into new
// columns and a new id index.
func (s *Store) load(ctx context.Context, tid int64) (*tenantData, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, qRows, tid).Scan(&n); err != nil {
		return nil, err
	}
	dead := map[int64]bool{}
	rows, err := s.db.QueryContext(ctx, qDead, tid)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var key int64
		if err := rows.Scan(&key); err != nil {
			rows.Close()
			return nil, err
		}
		dead[key] = true
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	td := &tenantData{tid: tid, table: columns.New(), ids: newIDIndex(s.seed, n-len(dead))}
	rows, err = s.db.QueryContext(ctx, qMeta, tid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	err = td.table.Update(func(w *columns.Writer) error {
		var pid int64
		var size int
		var meta sql.RawBytes
		var buf []byte
		var prs []pageRow
		for rows.Next() {
			if err := rows.Scan(&pid, &size, &meta); err != nil {
				return err
			}
			var err error
			if prs, err = decodePage(size, meta, nil, prs, &buf, nil); err != nil {
				return fmt.Errorf("page %d: %w", pid, err)
			}
			for k := range prs {
				key, r := keyOf(pid, k), &prs[k]
				if dead[key] {
					continue
				}
				// The table copies the strings it keeps only when they are
				// new to its dictionaries: a million rows leave little
				// garbage behind.
				if err := w.Load(key, r.typ, r.channel, r.campaign, r.lead, r.user, r.at, r.first); err != nil {
					return err
				}
				td.ids.add(td.ids.fingerprintBytes(r.id), key)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return td, nil
}

// dropTenant forgets the tenant's data; the next use reloads it.
func (s *Store) dropTenant(tid int64) {
	s.mu.Lock()
	delete(s.data, tid)
	s.mu.Unlock()
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// page is a decoded page.
type page struct {
	n         int
	writtenAt int64
	rows      []pageRow
}

// pages reads and decodes a tenant's pages, each once.
type pages struct {
	q     querier
	tid   int64
	raw   bool // decode the rows' JSON too
	cache map[int64]*page
	reads int // pages read from the database
}

// get returns page pid, nil when there is none.
func (p *pages) get(ctx context.Context, pid int64) (*page, error) {
	if pg, ok := p.cache[pid]; ok {
		return pg, nil
	}
	if p.cache == nil {
		p.cache = map[int64]*page{}
	}
	p.reads++
	pg := &page{}
	var meta, raw []byte
	var err error
	if p.raw {
		err = p.q.QueryRowContext(ctx, qPage, pid, p.tid).Scan(&pg.n, &pg.writtenAt, &meta, &raw)
	} else {
		err = p.q.QueryRowContext(ctx, qPageMeta, pid, p.tid).Scan(&pg.n, &pg.writtenAt, &meta)
	}
	if errors.Is(err, sql.ErrNoRows) {
		p.cache[pid] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var metaBuf, rawBuf []byte
	if !p.raw {
		raw = nil
	} else if raw == nil {
		raw = []byte{}
	}
	if pg.rows, err = decodePage(pg.n, meta, raw, nil, &metaBuf, &rawBuf); err != nil {
		return nil, fmt.Errorf("page %d: %w", pid, err)
	}
	p.cache[pid] = pg
	return pg, nil
}

// row returns the stored row with key, nil when there is none.
func (p *pages) row(ctx context.Context, key int64) (*pageRow, error) {
	pid, k := pageOf(key)
	pg, err := p.get(ctx, pid)
	if err != nil || pg == nil || k >= len(pg.rows) {
		return nil, err
	}
	return &pg.rows[k], nil
}

// find returns the key and stored row of id, whose fingerprint is fp;
// row is nil when id is not stored.
func (p *pages) find(ctx context.Context, ids *idIndex, fp uint32, id string) (key int64, row *pageRow, err error) {
	ids.candidates(fp, func(k int64) bool {
		var r *pageRow
		if r, err = p.row(ctx, k); err != nil {
			return false
		}
		if r != nil && string(r.id) == id {
			key, row = k, r
			return false
		}
		return true
	})
	return key, row, err
}

// Get implements mirror.Store.
func (s *Store) Get(ctx context.Context, tenant, id string) (mirror.Row, bool, error) {
	td, err := s.tenantData(ctx, tenant)
	if err != nil || td == nil {
		return mirror.Row{}, false, err
	}
	td.mu.RLock()
	defer td.mu.RUnlock()
	p := pages{q: s.db, tid: td.tid, raw: true}
	_, r, err := p.find(ctx, td.ids, td.ids.fingerprint(id), id)
	if err != nil {
		return mirror.Row{}, false, fmt.Errorf("get %s: %w", id, err)
	}
	if r == nil {
		return mirror.Row{}, false, nil
	}
	return r.row(), true, nil
}

// IDsInRange implements mirror.Store: the columns give the keys of the
// rows in range, and their pages give the ids and write times.
func (s *Store) IDsInRange(ctx context.Context, tenant string, from, to time.Time) ([]mirror.Stored, error) {
	td, err := s.tenantData(ctx, tenant)
	if err != nil || td == nil {
		return nil, err
	}
	td.mu.RLock()
	defer td.mu.RUnlock()
	keys := td.table.Keys(from.UnixMilli(), to.UnixMilli())
	if len(keys) == 0 {
		return nil, nil
	}
	touched, err := s.touched(ctx, td.tid, keys[0], keys[len(keys)-1])
	if err != nil {
		return nil, fmt.Errorf("ids in range: %w", err)
	}
	out := make([]mirror.Stored, 0, len(keys))
	p := pages{q: s.db, tid: td.tid}
	for lo := 0; lo < len(keys); {
		pid, _ := pageOf(keys[lo])
		hi := lo
		for hi < len(keys) && keys[hi]/pageRows == pid {
			hi++
		}
		pg, err := p.get(ctx, pid)
		if err != nil {
			return nil, fmt.Errorf("ids in range: %w", err)
		}
		if pg == nil {
			return nil, fmt.Errorf("ids in range: page %d is missing", pid)
		}
		for _, key := range keys[lo:hi] {
			_, k := pageOf(key)
			if k >= len(pg.rows) {
				return nil, fmt.Errorf("ids in range: page %d: %w", pid, errCorrupt)
			}
			r := &pg.rows[k]
			wr := max(pg.writtenAt, touched[key])
			out = append(out, mirror.Stored{ID: string(r.id), CreatedAt: time.UnixMilli(r.at).UTC(), WrittenAt: time.UnixMilli(wr).UTC()})
		}
		delete(p.cache, pid)
		lo = hi
	}
	slices.SortFunc(out, func(a, b mirror.Stored) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

// touched returns the write times of the rows in keys [lo, hi] written
// again unchanged.
func (s *Store) touched(ctx context.Context, tid, lo, hi int64) (map[int64]int64, error) {
	rows, err := s.db.QueryContext(ctx, qTouchedIn, tid, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out map[int64]int64
	for rows.Next() {
		var key, at int64
		if err := rows.Scan(&key, &at); err != nil {
			return nil, err
		}
		if out == nil {
			out = map[int64]int64{}
		}
		out[key] = at
	}
	return out, rows.Err()
}
