-- One row per tenant (a lemlist API key, named by the server). version is
-- the tenant's change counter: every write (Store.Apply) increments it
-- first, which row-locks the tenant until commit, so a tenant's writes
-- commit one at a time and in version order. Replicas compare it with the
-- version their in-memory columns hold.
CREATE TABLE tenants (
	tid        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name       text   NOT NULL UNIQUE,
	version    bigint NOT NULL DEFAULT 0,
	-- Tombstones of versions up to tomb_floor were pruned: a replica
	-- whose columns are older reloads them.
	tomb_floor bigint NOT NULL DEFAULT 0
);

-- The sync checkpoint (mirror.State), written in the same transaction as
-- the rows it describes. NULL is an unset time.
CREATE TABLE sync_state (
	tid             bigint PRIMARY KEY REFERENCES tenants (tid),
	since           timestamptz,
	start           timestamptz,
	cursor          timestamptz,
	backfill_done   boolean NOT NULL DEFAULT false,
	all_time        boolean NOT NULL DEFAULT false,
	covered_to      timestamptz,
	last_reconciled timestamptz,
	full_reconciled timestamptz,
	full_cursor     timestamptz,
	full_top        timestamptz
);

-- rid keys the in-memory columns: a tenant's new rows are numbered under
-- its lock, so they come in rid order.
CREATE SEQUENCE activities_rid AS bigint;

-- One row per activity. version is the tenants.version of the row's last
-- write: the rows a replica lacks are those above its version.
CREATE TABLE activities (
	tid           bigint      NOT NULL,
	id            text        NOT NULL,
	rid           bigint      NOT NULL DEFAULT nextval('activities_rid'),
	type          text        NOT NULL,
	channel       text        NOT NULL,
	campaign_id   text        NOT NULL,
	lead_id       text        NOT NULL,
	contact_id    text        NOT NULL,
	user_id       text        NOT NULL,
	created_at    timestamptz NOT NULL,
	is_first      boolean     NOT NULL,
	sequence_step integer,
	written_at    timestamptz NOT NULL,
	version       bigint      NOT NULL,
	raw           bytea       NOT NULL,
	PRIMARY KEY (tid, id)
);
ALTER SEQUENCE activities_rid OWNED BY activities.rid;
CREATE INDEX activities_created ON activities (tid, created_at);
CREATE INDEX activities_version ON activities (tid, version);
-- The columns' load reads this index alone, in rid order, instead of
-- sorting the table with its raw JSON (an index-only scan: see the
-- benchmarks).
CREATE INDEX activities_columns ON activities (tid, rid)
	INCLUDE (type, channel, campaign_id, lead_id, user_id, created_at, is_first);

-- A deleted row's rid, for the replicas whose columns still hold it.
-- Pruned after a retention period (see tenants.tomb_floor).
CREATE TABLE tombstones (
	tid     bigint      NOT NULL,
	version bigint      NOT NULL,
	rid     bigint      NOT NULL,
	at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tid, version, rid)
);

-- Who syncs each tenant: a lease row renewed within a TTL, by the
-- database's clock.
CREATE TABLE leases (
	tenant     text        PRIMARY KEY,
	holder     text        NOT NULL,
	expires_at timestamptz NOT NULL
);
