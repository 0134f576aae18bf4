package sqlite

// The store's SQL. Every value goes through a placeholder.
const (
	qCreateMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_ms INTEGER NOT NULL
)`
	qMigrationVersion = `SELECT coalesce(max(version), 0) FROM schema_migrations`
	qRecordMigration  = `INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)`

	qTenantID     = `SELECT tid FROM tenants WHERE name = ?`
	qInsertTenant = `INSERT INTO tenants (name) VALUES (?) ON CONFLICT (name) DO NOTHING`

	qLoadState = `SELECT since_ms, start_ms, cursor_ms, backfill_done, all_time, covered_to_ms,
	last_reconciled_ms, full_reconciled_ms, full_cursor_ms, full_top_ms
FROM sync_state WHERE tid = ?`
	qSaveState = `INSERT INTO sync_state (tid, since_ms, start_ms, cursor_ms, backfill_done, all_time,
	covered_to_ms, last_reconciled_ms, full_reconciled_ms, full_cursor_ms, full_top_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tid) DO UPDATE SET
	since_ms = excluded.since_ms, start_ms = excluded.start_ms, cursor_ms = excluded.cursor_ms,
	backfill_done = excluded.backfill_done, all_time = excluded.all_time,
	covered_to_ms = excluded.covered_to_ms, last_reconciled_ms = excluded.last_reconciled_ms,
	full_reconciled_ms = excluded.full_reconciled_ms, full_cursor_ms = excluded.full_cursor_ms,
	full_top_ms = excluded.full_top_ms`

	qInsertPage = `INSERT INTO pages (tid, n, written_at, meta, raw) VALUES (?, ?, ?, ?, ?) RETURNING pid`
	qPage       = `SELECT n, written_at, meta, raw FROM pages WHERE pid = ? AND tid = ?`
	qPageMeta   = `SELECT n, written_at, meta FROM pages WHERE pid = ? AND tid = ?`
	qDeletePage = `DELETE FROM pages WHERE pid = ? AND tid = ?`

	qMarkDead   = `INSERT INTO dead (tid, row_key) VALUES (?, ?) ON CONFLICT DO NOTHING`
	qDeadIn     = `SELECT count(*) FROM dead WHERE tid = ? AND row_key BETWEEN ? AND ?`
	qForgetDead = `DELETE FROM dead WHERE tid = ? AND row_key BETWEEN ? AND ?`
	qTouch      = `INSERT INTO touched (tid, row_key, written_at) VALUES (?, ?, ?)
ON CONFLICT (tid, row_key) DO UPDATE SET written_at = excluded.written_at`
	qForgetTouched = `DELETE FROM touched WHERE tid = ? AND row_key BETWEEN ? AND ?`
	qTouchedIn     = `SELECT row_key, written_at FROM touched WHERE tid = ? AND row_key BETWEEN ? AND ?`

	// qRows and qDead load a tenant's columns and id index.
	qRows = `SELECT coalesce(sum(n), 0) FROM pages WHERE tid = ?`
	qMeta = `SELECT pid, n, meta FROM pages WHERE tid = ? ORDER BY pid`
	qDead = `SELECT row_key FROM dead WHERE tid = ?`

	// The version 2 schema's rows, copied into pages by migration 3.
	qV2Rows = `SELECT rid, tid, id, type, channel, campaign_id, lead_id, contact_id, user_id, created_at, is_first,
	sequence_step, written_at, raw
FROM activities WHERE rid > ? ORDER BY rid LIMIT ?`
	qDropV2 = `DROP TABLE activities`
)
