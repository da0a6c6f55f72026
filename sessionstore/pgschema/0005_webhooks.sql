-- Webhooks made through the API (webhooks.go): their delivered positions
-- are in consumers and their dead-letter lists in dead_events, under
-- 'webhook/' || id.
CREATE TABLE webhooks (
	id         text PRIMARY KEY,
	url        text NOT NULL,
	secret     bytea NOT NULL,
	tenant_ids text[] NOT NULL,
	events     text[] NOT NULL,
	created_at timestamptz NOT NULL
);
