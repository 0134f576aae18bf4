package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/columns"
)

// version is a stored row a write replaces or deletes.
type version struct {
	fp  uint32
	key int64
}

// Apply implements mirror.Store. Each upsert is found in the id index:
// a new row is written in a new page, a changed one too (its old version
// dies), and an unchanged one only has its write time recorded.
func (s *Store) Apply(ctx context.Context, tenant string, b mirror.Batch) (mirror.Applied, error) {
	var res mirror.Applied
	tid, _, err := s.tid(ctx, tenant, true)
	if err != nil {
		return res, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	td, err := s.tenantLocked(ctx, tid)
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
	deletes := make(map[string]bool, len(b.Deletes))
	for _, id := range b.Deletes {
		deletes[id] = true
	}
	at := b.At.UnixMilli()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	var (
		writes  []int     // indexes in ups of the rows to write
		fps     []uint32  // their fingerprints
		dead    []version // the versions that die
		touched []int64   // the keys of rows written again unchanged
	)
	p := pages{q: tx, tid: tid, raw: true}
	for _, i := range idx {
		r := &ups[i]
		fp := td.ids.fingerprint(r.ID)
		key, old, err := p.find(ctx, td.ids, fp, r.ID)
		if err != nil {
			return mirror.Applied{}, fmt.Errorf("upsert %s: %w", r.ID, err)
		}
		if old == nil {
			res.Inserted = append(res.Inserted, i)
		}
		switch {
		case deletes[r.ID]: // upserted, then deleted
			delete(deletes, r.ID)
			res.Deleted++
			if old != nil {
				dead = append(dead, version{fp, key})
			}
		case old == nil:
			writes, fps = append(writes, i), append(fps, fp)
		case old.same(r):
			touched = append(touched, key)
		default:
			writes, fps = append(writes, i), append(fps, fp)
			dead = append(dead, version{fp, key})
		}
	}
	for _, id := range b.Deletes {
		if !deletes[id] {
			continue
		}
		delete(deletes, id)
		fp := td.ids.fingerprint(id)
		key, old, err := p.find(ctx, td.ids, fp, id)
		if err != nil {
			return mirror.Applied{}, fmt.Errorf("delete %s: %w", id, err)
		}
		if old != nil {
			dead = append(dead, version{fp, key})
			res.Deleted++
		}
	}
	s.applyReads.Add(int64(p.reads))
	keys, err := s.write(ctx, tx, &p, ups, writes, dead, touched, at)
	if err != nil {
		return mirror.Applied{}, err
	}
	if st := b.State; st != nil {
		if err := s.exec(ctx, tx, qSaveState, tid, ms(st.Since), ms(st.Start), ms(st.Cursor), st.BackfillDone, st.AllTime,
			ms(st.CoveredTo), ms(st.LastReconciled), ms(st.FullReconciled), ms(st.FullCursor), ms(st.FullTop)); err != nil {
			return mirror.Applied{}, fmt.Errorf("save sync state: %w", err)
		}
	}
	// Readers see the write in the database and in memory together.
	td.mu.Lock()
	defer td.mu.Unlock()
	if err := tx.Commit(); err != nil {
		return mirror.Applied{}, fmt.Errorf("commit: %w", err)
	}
	for _, v := range dead {
		td.ids.remove(v.fp, v.key)
	}
	for k := range writes {
		td.ids.add(fps[k], keys[k])
	}
	err = td.table.Update(func(w *columns.Writer) error {
		for _, v := range dead {
			w.Delete(v.key)
		}
		for k, i := range writes {
			if err := w.Upsert(keys[k], &ups[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil { // committed: the tenant reloads from the database
		s.dropTenant(tid)
	}
	slices.Sort(res.Inserted)
	return res, nil
}

// write stores the rows ups[writes] in new pages and returns their keys;
// records the write time of the touched rows; and marks the dead versions
// so, deleting the pages left with no live row.
func (s *Store) write(ctx context.Context, tx *sql.Tx, p *pages, ups []mirror.Row, writes []int, dead []version, touched []int64, at int64) ([]int64, error) {
	keys := make([]int64, len(writes))
	rows := make([]*mirror.Row, 0, min(len(writes), pageRows))
	for lo := 0; lo < len(writes); lo += pageRows {
		chunk := writes[lo:min(lo+pageRows, len(writes))]
		rows = rows[:0]
		for _, i := range chunk {
			rows = append(rows, &ups[i])
		}
		meta, raw := s.enc.encode(rows)
		st, err := s.stmt(ctx, tx, qInsertPage)
		if err != nil {
			return nil, err
		}
		var pid int64
		if err := st.QueryRowContext(ctx, p.tid, len(chunk), at, meta, raw).Scan(&pid); err != nil {
			return nil, fmt.Errorf("write page: %w", err)
		}
		for k := range chunk {
			keys[lo+k] = keyOf(pid, k)
		}
	}
	for _, key := range touched {
		if err := s.exec(ctx, tx, qTouch, p.tid, key, at); err != nil {
			return nil, fmt.Errorf("touch: %w", err)
		}
	}
	hit := map[int64]bool{}
	for _, v := range dead {
		if err := s.exec(ctx, tx, qMarkDead, p.tid, v.key); err != nil {
			return nil, fmt.Errorf("mark dead: %w", err)
		}
		if err := s.exec(ctx, tx, qForgetTouched, p.tid, v.key, v.key); err != nil {
			return nil, fmt.Errorf("mark dead: %w", err)
		}
		pid, _ := pageOf(v.key)
		hit[pid] = true
	}
	for pid := range hit {
		pg, err := p.get(ctx, pid)
		if err != nil {
			return nil, err
		}
		lo, hi := keyOf(pid, 0), keyOf(pid, pageRows-1)
		var n int
		if err := tx.QueryRowContext(ctx, qDeadIn, p.tid, lo, hi).Scan(&n); err != nil {
			return nil, fmt.Errorf("count dead: %w", err)
		}
		if n < pg.n {
			continue
		}
		err = s.exec(ctx, tx, qDeletePage, pid, p.tid)
		if err == nil {
			err = s.exec(ctx, tx, qForgetDead, p.tid, lo, hi)
		}
		if err == nil {
			err = s.exec(ctx, tx, qForgetTouched, p.tid, lo, hi)
		}
		if err != nil {
			return nil, fmt.Errorf("drop page %d: %w", pid, err)
		}
	}
	return keys, nil
}

// exec runs q, prepared once, in tx.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, q string, args ...any) error {
	st, err := s.stmt(ctx, tx, q)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}
