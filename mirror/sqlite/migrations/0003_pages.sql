-- Rows move into pages (pages.go): one row for up to 128 activities of
-- one write, their columns and their JSON in two s2 blocks. The id index
-- is kept in memory (ids.go). The Go step of this migration (convertV2 in
-- migrate.go) copies the rows of the activities table into pages and drops
-- it.
CREATE TABLE pages (
	pid        INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: row keys only grow
	tid        INTEGER NOT NULL REFERENCES tenants (tid),
	n          INTEGER NOT NULL,                  -- rows in the page, dead ones included
	written_at INTEGER NOT NULL,                  -- unix ms, the Batch.At of the write
	meta       BLOB    NOT NULL,
	raw        BLOB    NOT NULL
);
CREATE INDEX pages_tenant ON pages (tid, pid);

-- The rows of live pages that a later write replaced or deleted, by key
-- (pid * 128 + index). A page whose rows are all dead is deleted with its
-- entries here.
CREATE TABLE dead (
	tid     INTEGER NOT NULL,
	row_key INTEGER NOT NULL,
	PRIMARY KEY (tid, row_key)
) WITHOUT ROWID;

-- A row written again unchanged keeps its place; the time of that write
-- (Stored.WrittenAt) is kept here.
CREATE TABLE touched (
	tid        INTEGER NOT NULL,
	row_key    INTEGER NOT NULL,
	written_at INTEGER NOT NULL,
	PRIMARY KEY (tid, row_key)
) WITHOUT ROWID;
