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

	// qSequence is the last rid handed out: a rid above it is an insert.
	qSequence = `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'activities'), 0)`
	// qUpsertHead, n times qUpsertValues (comma-separated) and qUpsertTail
	// upsert n rows in one statement.
	qUpsertHead = `INSERT INTO activities (tid, id, type, channel, campaign_id, lead_id, contact_id, user_id,
	created_at, is_first, sequence_step, written_at, raw)
VALUES `
	qUpsertValues = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qUpsertTail   = `
ON CONFLICT (tid, id) DO UPDATE SET
	type = excluded.type, channel = excluded.channel, campaign_id = excluded.campaign_id,
	lead_id = excluded.lead_id, contact_id = excluded.contact_id, user_id = excluded.user_id,
	created_at = excluded.created_at, is_first = excluded.is_first,
	sequence_step = excluded.sequence_step, written_at = excluded.written_at, raw = excluded.raw
RETURNING rid, id`
	qDelete = `DELETE FROM activities WHERE tid = ? AND id = ? RETURNING rid`

	qIDsInRange = `SELECT id, created_at, written_at FROM activities
WHERE tid = ? AND created_at BETWEEN ? AND ? ORDER BY created_at DESC, id DESC`
	qGet = `SELECT id, type, channel, campaign_id, lead_id, contact_id, user_id, created_at, is_first,
	sequence_step, raw
FROM activities WHERE tid = ? AND id = ?`
	// qColumns loads a tenant's in-memory columns, in rid order.
	qColumns = `SELECT rid, type, channel, campaign_id, lead_id, user_id, created_at, is_first
FROM activities NOT INDEXED WHERE tid = ? ORDER BY rid`
)
