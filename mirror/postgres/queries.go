package postgres

// The store's SQL. Every value goes through a placeholder.
const (
	// migrationLock is the key of the transaction-level advisory lock
	// under which migrations run, so that replicas starting together
	// apply each migration once ('mirror/postgres' as a big-endian
	// int64, truncated).
	migrationLock = 0x6d6972726f722f70

	qCreateMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`
	qMigrationLock    = `SELECT pg_advisory_xact_lock($1)`
	qMigrationVersion = `SELECT coalesce(max(version), 0) FROM schema_migrations`
	qRecordMigration  = `INSERT INTO schema_migrations (version) VALUES ($1)`

	// qTenantVersion is the check every read makes before answering from
	// the columns.
	qTenantVersion = `SELECT tid, version, tomb_floor FROM tenants WHERE name = $1`
	qTenantByID    = `SELECT version, tomb_floor FROM tenants WHERE tid = $1`
	// qBumpTenant registers the tenant if needed and increments its
	// version, which row-locks it until commit. mark is a rid drawn under
	// that lock: the batch's new rows get greater rids, the rows it
	// updates kept smaller ones.
	qBumpTenant = `INSERT INTO tenants AS t (name, version) VALUES ($1, 1)
ON CONFLICT (name) DO UPDATE SET version = t.version + 1
RETURNING tid, version, nextval('activities_rid') AS mark`

	qLoadState = `SELECT since, start, cursor, backfill_done, all_time, covered_to,
	last_reconciled, full_reconciled, full_cursor, full_top
FROM sync_state JOIN tenants USING (tid) WHERE name = $1`
	qSaveState = `INSERT INTO sync_state (tid, since, start, cursor, backfill_done, all_time,
	covered_to, last_reconciled, full_reconciled, full_cursor, full_top)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (tid) DO UPDATE SET
	since = excluded.since, start = excluded.start, cursor = excluded.cursor,
	backfill_done = excluded.backfill_done, all_time = excluded.all_time,
	covered_to = excluded.covered_to, last_reconciled = excluded.last_reconciled,
	full_reconciled = excluded.full_reconciled, full_cursor = excluded.full_cursor,
	full_top = excluded.full_top`

	// upsertSet is the update of a stored row by a new write.
	upsertSet = `ON CONFLICT (tid, id) DO UPDATE SET
	type = excluded.type, channel = excluded.channel, campaign_id = excluded.campaign_id,
	lead_id = excluded.lead_id, contact_id = excluded.contact_id, user_id = excluded.user_id,
	created_at = excluded.created_at, is_first = excluded.is_first,
	sequence_step = excluded.sequence_step, written_at = excluded.written_at,
	version = excluded.version, raw = excluded.raw
RETURNING id, rid`

	// qUpsert writes a batch from one array per column.
	qUpsert = `INSERT INTO activities (tid, written_at, version, id, type, channel, campaign_id,
	lead_id, contact_id, user_id, created_at, is_first, sequence_step, raw)
SELECT $1, $2, $3, id, type, channel, campaign_id, lead_id, contact_id, user_id, created_at,
	is_first, sequence_step, raw
FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
	$11::timestamptz[], $12::boolean[], $13::integer[], $14::bytea[]) WITH ORDINALITY
	AS u (id, type, channel, campaign_id, lead_id, contact_id, user_id, created_at, is_first,
	sequence_step, raw, ord)
ORDER BY ord
` + upsertSet

	// qCreateStaging makes the connection's staging table for COPY.
	qCreateStaging = `CREATE TEMP TABLE IF NOT EXISTS staging (
	ord bigint, id text, type text, channel text, campaign_id text, lead_id text,
	contact_id text, user_id text, created_at timestamptz, is_first boolean,
	sequence_step integer, raw bytea
) ON COMMIT DELETE ROWS`
	// qMergeStaging writes the rows copied into staging.
	qMergeStaging = `INSERT INTO activities (tid, written_at, version, id, type, channel, campaign_id,
	lead_id, contact_id, user_id, created_at, is_first, sequence_step, raw)
SELECT $1, $2, $3, id, type, channel, campaign_id, lead_id, contact_id, user_id, created_at,
	is_first, sequence_step, raw
FROM staging ORDER BY ord
` + upsertSet

	// qDelete removes rows and leaves a tombstone per removed rid.
	qDelete = `WITH d AS (DELETE FROM activities WHERE tid = $1 AND id = ANY($2::text[]) RETURNING rid)
INSERT INTO tombstones (tid, version, rid) SELECT $1, $3, rid FROM d RETURNING rid`
	// qPruneTombstones drops the tenant's tombstones older than $2 µs and
	// raises its floor to the newest version dropped.
	qPruneTombstones = `WITH p AS (DELETE FROM tombstones
	WHERE tid = $1 AND at < now() - $2::bigint * interval '1 microsecond' RETURNING version)
UPDATE tenants SET tomb_floor = greatest(tomb_floor, (SELECT max(version) FROM p))
WHERE tid = $1 AND EXISTS (SELECT FROM p)`

	qIDsInRange = `SELECT a.id, a.created_at, a.written_at FROM activities a JOIN tenants t USING (tid)
WHERE t.name = $1 AND a.created_at BETWEEN $2 AND $3 ORDER BY a.created_at DESC, a.id DESC`
	qGet = `SELECT a.id, a.type, a.channel, a.campaign_id, a.lead_id, a.contact_id, a.user_id,
	a.created_at, a.is_first, a.sequence_step, a.raw
FROM activities a JOIN tenants t USING (tid) WHERE t.name = $1 AND a.id = $2`

	// qColumns loads a tenant's columns; qChanged and qTombstones read
	// what changed after a version.
	qColumns = `SELECT rid, type, channel, campaign_id, lead_id, user_id, created_at, is_first
FROM activities WHERE tid = $1 ORDER BY rid`
	qChanged = `SELECT rid, type, channel, campaign_id, lead_id, user_id, created_at, is_first
FROM activities WHERE tid = $1 AND version > $2 ORDER BY rid`
	qTombstones = `SELECT rid FROM tombstones WHERE tid = $1 AND version > $2`

	// qAcquireLease takes a free or expired lease, or renews holder's.
	// Expiry is by the database's clock, so replicas' clocks need not
	// agree.
	qAcquireLease = `INSERT INTO leases AS l (tenant, holder, expires_at)
VALUES ($1, $2, clock_timestamp() + $3::bigint * interval '1 microsecond')
ON CONFLICT (tenant) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE l.holder = excluded.holder OR l.expires_at <= clock_timestamp()
RETURNING holder`
	qReleaseLease = `DELETE FROM leases WHERE tenant = $1 AND holder = $2`
	// qFence checks, first in a write, that holder still holds the
	// tenant's lease, and keeps another holder from taking it (its
	// qAcquireLease waits on the row) until the write commits.
	qFence = `SELECT 1 FROM leases WHERE tenant = $1 AND holder = $2 AND expires_at > clock_timestamp() FOR SHARE`
)
