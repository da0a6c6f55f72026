-- The current profile snapshot of each tenant (snapshots.go): its
-- generation, counted from 1 and never reused (the row stays when the
-- tenant is deleted), and the lease epoch of the node that took it, which
-- together name the object in the bucket. Recorded only by the lease's
-- holder (fenced), so which snapshot is newest is never judged by a clock.
CREATE TABLE snapshots (
	tenant_id   text PRIMARY KEY,
	gen         bigint NOT NULL,
	epoch       bigint NOT NULL,
	taken_at    timestamptz NOT NULL, -- by the clock of the node that took it
	node        text NOT NULL,
	recorded_at timestamptz NOT NULL  -- by the database's clock
);
