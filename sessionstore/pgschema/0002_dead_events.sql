-- Dead-letter lists (deadevents.go): per consumer of the event log (the
-- webhook), the events it gave up delivering, with the body it delivers.
CREATE TABLE dead_events (
	consumer   text NOT NULL,
	seq        bigint NOT NULL,
	body       bytea NOT NULL,
	attempts   int NOT NULL,
	last_error text NOT NULL,
	parked_at  timestamptz NOT NULL,
	redeliver  boolean NOT NULL DEFAULT false,
	PRIMARY KEY (consumer, seq)
);
