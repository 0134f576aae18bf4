-- One row per tenant (a lemlist API key, named by the server); tid keeps
-- the other tables' keys short.
CREATE TABLE tenants (
	tid  INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE
);

-- The sync checkpoint, written in the same transaction as the rows it
-- describes (mirror.State). Times are unix milliseconds, NULL when unset.
CREATE TABLE sync_state (
	tid                INTEGER PRIMARY KEY REFERENCES tenants (tid),
	since_ms           INTEGER,
	start_ms           INTEGER,
	cursor_ms          INTEGER,
	backfill_done      INTEGER NOT NULL DEFAULT 0,
	all_time           INTEGER NOT NULL DEFAULT 0,
	covered_to_ms      INTEGER,
	last_reconciled_ms INTEGER,
	full_reconciled_ms INTEGER,
	full_cursor_ms     INTEGER,
	full_top_ms        INTEGER
);

-- One row per activity. rid only grows (AUTOINCREMENT): it orders the
-- in-memory columns and tells an insert from an update.
CREATE TABLE activities (
	rid           INTEGER PRIMARY KEY AUTOINCREMENT,
	tid           INTEGER NOT NULL REFERENCES tenants (tid),
	id            TEXT    NOT NULL,
	type          TEXT    NOT NULL,
	channel       TEXT    NOT NULL,
	campaign_id   TEXT    NOT NULL,
	lead_id       TEXT    NOT NULL,
	contact_id    TEXT    NOT NULL,
	user_id       TEXT    NOT NULL,
	created_at    INTEGER NOT NULL,
	is_first      INTEGER NOT NULL,
	sequence_step INTEGER,
	written_at    INTEGER NOT NULL,
	raw           BLOB    NOT NULL
);
CREATE UNIQUE INDEX activities_id ON activities (tid, id);
CREATE INDEX activities_created ON activities (tid, created_at);
