-- The first schema of wapool's PostgreSQL store. Documents hold the Go
-- structs as JSON with the tags bbolt uses (type json, not jsonb: the bytes
-- are kept as written, \u0000 included); the other columns are copies for
-- indexes and queries. Idempotency keys and WhatsApp ids are bytea: any
-- bytes the API accepts.

CREATE TABLE tenants (
	id  text PRIMARY KEY,
	doc json NOT NULL
);

-- The newest message seq of each tenant; its row lock serializes the
-- tenant's Enqueues (idempotency check and queue limit).
CREATE TABLE outbox_seqs (
	tenant_id text PRIMARY KEY,
	last_seq  bigint NOT NULL
);

CREATE TABLE messages (
	tenant_id       text NOT NULL,
	seq             bigint NOT NULL,       -- Message.Seq: FIFO order within the tenant
	id              text NOT NULL,
	idempotency_key bytea NOT NULL DEFAULT '',
	wa_id           bytea NOT NULL DEFAULT '',
	state           smallint NOT NULL,     -- MessageState: 1 QUEUED, 2 SENDING, 3 SENT, 4 FAILED
	created_at      timestamptz NOT NULL,
	epoch           bigint NOT NULL DEFAULT 0, -- lease epoch of the last fenced writer (0: unfenced)
	doc             json NOT NULL,
	PRIMARY KEY (tenant_id, seq)
);
CREATE UNIQUE INDEX messages_id ON messages (tenant_id, id);
CREATE UNIQUE INDEX messages_idempotency_key ON messages (tenant_id, idempotency_key) WHERE idempotency_key <> '';
CREATE UNIQUE INDEX messages_wa_id ON messages (tenant_id, wa_id) WHERE wa_id <> '';
CREATE INDEX messages_pending ON messages (tenant_id, seq) WHERE state IN (1, 2);
CREATE INDEX messages_finished ON messages (created_at) WHERE state IN (3, 4);

CREATE TABLE events (
	seq       bigint PRIMARY KEY,
	at        timestamptz NOT NULL,
	tenant_id text NOT NULL,
	doc       json NOT NULL
);

-- One row: the log id in cursors, the newest seq ever appended (head) and
-- the newest purged one.
CREATE TABLE event_meta (
	one            boolean PRIMARY KEY DEFAULT true CHECK (one),
	log_id         text NOT NULL,
	head           bigint NOT NULL DEFAULT 0,
	purged_through bigint NOT NULL DEFAULT 0
);

CREATE TABLE consumers (
	name text PRIMARY KEY,
	seq  bigint NOT NULL
);

CREATE TABLE leases (
	tenant_id  text PRIMARY KEY,
	holder     text NOT NULL,  -- a NodeID; '' once released
	epoch      bigint NOT NULL,
	expires_at timestamptz NOT NULL
);

CREATE TABLE nodes (
	id           text PRIMARY KEY,
	addr         text NOT NULL,
	started_at   timestamptz NOT NULL,
	heartbeat_at timestamptz NOT NULL,
	draining     boolean NOT NULL DEFAULT false
);
