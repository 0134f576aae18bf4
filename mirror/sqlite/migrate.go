package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lemlist-graphql/server/mirror"
)

// migrate applies the migrations newer than the database's version, each
// in its own transaction with its Go step, if it has one (goSteps). A
// migration that moved rows leaves free pages behind; the file is then
// vacuumed once.
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
	moved := 0
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
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			if step := goSteps[v]; step != nil {
				n, err := step(ctx, s, tx)
				if err != nil {
					return err
				}
				moved += n
			}
			_, err := tx.ExecContext(ctx, qRecordMigration, v, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	if moved > 0 {
		if err := s.vacuum(ctx); err != nil {
			return fmt.Errorf("vacuum after migrating: %w", err)
		}
	}
	return nil
}

// vacuum rebuilds the file without its free pages. Its copy of the
// database goes to a temporary file, not to memory as the store's other
// temporary data does: it is as large as the database.
func (s *Store) vacuum(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, q := range []string{"PRAGMA temp_store = FILE", "VACUUM", "PRAGMA temp_store = MEMORY"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// goSteps are the migrations' steps in Go, by version, run after the
// migration's SQL in its transaction; they return the rows they moved.
var goSteps = map[int]func(ctx context.Context, s *Store, tx *sql.Tx) (int, error){
	3: convertV2,
}

// convertV2 copies the version 2 schema's activities table, a row per
// activity, into pages, in the order the rows were written, a page per
// run of rows of one tenant and one write time; then it drops the table.
func convertV2(ctx context.Context, s *Store, tx *sql.Tx) (int, error) {
	var page []mirror.Row
	var tid, at int64
	moved := 0
	flush := func() error {
		if len(page) == 0 {
			return nil
		}
		ptrs := make([]*mirror.Row, len(page))
		for i := range page {
			ptrs[i] = &page[i]
		}
		meta, raw := s.enc.encode(ptrs)
		if _, err := tx.ExecContext(ctx, qInsertPage, tid, len(page), at, meta, raw); err != nil {
			return err
		}
		moved += len(page)
		page = page[:0]
		return nil
	}
	const chunk = 1024
	for lastRid := int64(0); ; {
		rows, err := tx.QueryContext(ctx, qV2Rows, lastRid, chunk)
		if err != nil {
			return 0, err
		}
		type v2 struct {
			tid, at int64
			r       mirror.Row
		}
		var got []v2
		for rows.Next() {
			var x v2
			var created int64
			var step sql.NullInt64
			var raw []byte
			if err := rows.Scan(&lastRid, &x.tid, &x.r.ID, &x.r.Type, &x.r.Channel, &x.r.CampaignID, &x.r.LeadID,
				&x.r.ContactID, &x.r.UserID, &created, &x.r.IsFirst, &step, &x.at, &raw); err != nil {
				rows.Close()
				return 0, err
			}
			x.r.CreatedAt = time.UnixMilli(created).UTC()
			if step.Valid {
				n := int(step.Int64)
				x.r.SequenceStep = &n
			}
			x.r.Raw = raw
			got = append(got, x)
		}
		if err := rows.Close(); err != nil {
			return 0, err
		}
		if err := rows.Err(); err != nil {
			return 0, err
		}
		for _, x := range got {
			if len(page) == pageRows || (len(page) > 0 && (x.tid != tid || x.at != at)) {
				if err := flush(); err != nil {
					return 0, err
				}
			}
			tid, at = x.tid, x.at
			page = append(page, x.r)
		}
		if len(got) < chunk {
			break
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	_, err := tx.ExecContext(ctx, qDropV2)
	return moved, err
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits.
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
