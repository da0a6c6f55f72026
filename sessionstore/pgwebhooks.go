package sessionstore

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// The webhooks of webhooks.go, on PostgreSQL.

func (p *pgStore) createWebhook(w Webhook) error {
	ctx, cancel := p.ctx()
	defer cancel()
	_, err := p.pool.Exec(ctx, `INSERT INTO webhooks (id, url, secret, tenant_ids, events, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		w.ID, w.URL, w.Secret, nonNil(w.TenantIDs), nonNil(w.Events), w.CreatedAt)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return fmt.Errorf("webhook %q: %w", w.ID, ErrWebhookExists)
	}
	return err
}

func (p *pgStore) webhooks() ([]Webhook, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	rows, err := p.pool.Query(ctx, `SELECT id, url, secret, tenant_ids, events, created_at FROM webhooks ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Webhook
	for rows.Next() {
		var w Webhook
		if err := rows.Scan(&w.ID, &w.URL, &w.Secret, &w.TenantIDs, &w.Events, &w.CreatedAt); err != nil {
			return nil, err
		}
		w.CreatedAt = w.CreatedAt.UTC()
		if len(w.TenantIDs) == 0 {
			w.TenantIDs = nil
		}
		if len(w.Events) == 0 {
			w.Events = nil
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

func (p *pgStore) deleteWebhook(id string) error {
	ctx, cancel := p.ctx()
	defer cancel()
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	tag, err := tx.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("webhook %q: %w", id, ErrNotFound)
	}
	consumer := WebhookConsumer(id)
	if _, err := tx.Exec(ctx, `DELETE FROM consumers WHERE name = $1`, consumer); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM dead_events WHERE consumer = $1`, consumer); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
