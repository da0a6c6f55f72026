package sessionstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgMaxEnqueueAttempts bounds Enqueue's retries after a unique violation:
// another node bound the same idempotency key in between, so the next
// attempt finds its message.
const pgMaxEnqueueAttempts = 3

// enqueue is Enqueue with PostgreSQL. The row of outbox_seqs locks the
// tenant's outbox for the transaction, so that the idempotency check and
// the pending count see every Enqueue before it, from any node.
func (p *pgStore) enqueue(m Message) (stored Message, existed bool, err error) {
	for attempt := 1; ; attempt++ {
		stored, existed, err = p.enqueueOnce(m)
		if err == nil || !uniqueViolation(err, "") || attempt == pgMaxEnqueueAttempts {
			return stored, existed, err
		}
	}
}

func (p *pgStore) enqueueOnce(m Message) (stored Message, existed bool, err error) {
	_, err = p.updateLogged(func(ctx context.Context, tx pgx.Tx, log *pgLog) error {
		stored, existed = Message{}, false
		var last uint64
		if err := tx.QueryRow(ctx, `INSERT INTO outbox_seqs (tenant_id, last_seq) VALUES ($1, 0)
			ON CONFLICT (tenant_id) DO UPDATE SET last_seq = outbox_seqs.last_seq
			RETURNING last_seq`, m.TenantID).Scan(&last); err != nil {
			return err
		}
		// Read the clock under the tenant's lock: CreatedAt and ID follow Seq.
		now := p.st.clock()
		if m.IdempotencyKey != "" {
			old, err := pgScanMessage(tx.QueryRow(ctx, `SELECT doc FROM messages
				WHERE tenant_id = $1 AND idempotency_key = $2 AND idempotency_key <> ''`,
				m.TenantID, []byte(m.IdempotencyKey)))
			switch {
			case errors.Is(err, pgx.ErrNoRows):
			case err != nil:
				return fmt.Errorf("tenant %q: idempotency key %q: %w", m.TenantID, m.IdempotencyKey, err)
			case p.st.expired(old, now):
				if _, err := tx.Exec(ctx, `DELETE FROM messages WHERE tenant_id = $1 AND seq = $2`, m.TenantID, old.Seq); err != nil {
					return err
				}
			case sameContent(old, m):
				stored, existed = old, true
				return nil
			default:
				return fmt.Errorf("tenant %q: idempotency key %q names message %s: %w", m.TenantID, m.IdempotencyKey, old.ID, ErrIdempotencyKeyReused)
			}
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM messages
			WHERE tenant_id = $1 AND state IN (1, 2) LIMIT $2) AS pending`, m.TenantID, p.st.queueLimit).Scan(&n); err != nil {
			return err
		}
		if n >= p.st.queueLimit {
			return fmt.Errorf("tenant %q: %d messages pending: %w", m.TenantID, n, ErrQueueFull)
		}
		var err error
		if stored, err = newQueued(m, now, last+1); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE outbox_seqs SET last_seq = $2 WHERE tenant_id = $1`, m.TenantID, stored.Seq); err != nil {
			return err
		}
		doc, err := json.Marshal(stored)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO messages
			(tenant_id, seq, id, idempotency_key, wa_id, state, created_at, epoch, doc)
			VALUES ($1, $2, $3, $4, '', $5, $6, 0, $7)`,
			stored.TenantID, stored.Seq, stored.ID, []byte(stored.IdempotencyKey), int(stored.State), stored.CreatedAt, doc); err != nil {
			return err
		}
		log.message(stored) // QUEUED, in the same transaction
		return nil
	})
	if err != nil {
		return Message{}, false, err
	}
	return stored, existed, nil
}

func (p *pgStore) getMessage(tenantID, id string) (Message, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	m, err := pgScanMessage(p.pool.QueryRow(ctx, `SELECT doc FROM messages WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return m, messageErr(tenantID, id, err)
}

// messageErr words a failed read of one message.
func messageErr(tenantID, id string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("tenant %q: message %q: %w", tenantID, id, ErrNotFound)
	}
	return fmt.Errorf("tenant %q: message %q: %w", tenantID, id, err)
}

// updateMessage is UpdateMessage with PostgreSQL: the fence, the row locked
// FOR UPDATE, fn, the update and its event in one transaction.
func (p *pgStore) updateMessage(f fence, id string, fn func(*Message)) (Message, error) {
	tenantID := f.tenantID
	var m Message
	_, err := p.updateLogged(func(ctx context.Context, tx pgx.Tx, log *pgLog) error {
		if err := p.checkFence(ctx, tx, f); err != nil {
			return err
		}
		old, err := pgScanMessage(tx.QueryRow(ctx, `SELECT doc FROM messages
			WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id))
		if err != nil {
			return messageErr(tenantID, id, err)
		}
		if m, err = p.st.applyUpdate(old, fn); err != nil {
			return err
		}
		if m.WAMessageID != old.WAMessageID && m.WAMessageID != "" {
			var holder string
			err := tx.QueryRow(ctx, `SELECT id FROM messages WHERE tenant_id = $1 AND wa_id = $2 AND seq <> $3`,
				tenantID, []byte(WAKey(m.WAMessageID)), m.Seq).Scan(&holder)
			if err == nil {
				return waidClaimed(m, holder)
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		if err := pgPutMessage(ctx, tx, m, f.epoch); err != nil {
			if uniqueViolation(err, "messages_wa_id") { // claimed by a concurrent transaction
				return waidClaimed(m, "(another)")
			}
			return err
		}
		if m.State != old.State { // a state change is logged in the same transaction
			log.message(m)
		}
		return nil
	})
	if err != nil {
		return Message{}, err
	}
	return m, nil
}

func waidClaimed(m Message, holder string) error {
	return fmt.Errorf("tenant %q: message %s: WhatsApp message %q is message %s: %w",
		m.TenantID, m.ID, m.WAMessageID, holder, ErrWAIDClaimed)
}

// pgPutMessage stores the changed message m, written under epoch.
func pgPutMessage(ctx context.Context, tx pgx.Tx, m Message, epoch uint64) error {
	doc, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE messages SET wa_id = $3, state = $4, epoch = $5, doc = $6
		WHERE tenant_id = $1 AND seq = $2`,
		m.TenantID, m.Seq, []byte(WAKey(m.WAMessageID)), int(m.State), int64(epoch), doc)
	return err
}

func (p *pgStore) messageByWAID(tenantID, waID string) (Message, error) {
	notFound := fmt.Errorf("tenant %q: WhatsApp message %q: %w", tenantID, waID, ErrNotFound)
	if waID == "" {
		return Message{}, notFound
	}
	ctx, cancel := p.ctx()
	defer cancel()
	m, err := pgScanMessage(p.pool.QueryRow(ctx, `SELECT doc FROM messages WHERE tenant_id = $1 AND wa_id = $2`, tenantID, []byte(WAKey(waID))))
	if errors.Is(err, pgx.ErrNoRows) {
		return Message{}, notFound
	}
	if err != nil {
		return Message{}, fmt.Errorf("tenant %q: %w", tenantID, err)
	}
	return m, nil
}

func (p *pgStore) failPending(f fence, reason, errText string) ([]Message, error) {
	var out []Message
	_, err := p.updateLogged(func(ctx context.Context, tx pgx.Tx, log *pgLog) error {
		out = nil
		if err := p.checkFence(ctx, tx, f); err != nil {
			return err
		}
		pending, err := pgQueryMessages(ctx, tx, `SELECT doc FROM messages
			WHERE tenant_id = $1 AND state IN (1, 2) ORDER BY seq FOR UPDATE`, f.tenantID)
		if err != nil {
			return err
		}
		now := p.st.clock()
		for _, m := range pending {
			m.State, m.ErrorReason, m.Error, m.UpdatedAt = StateFailed, reason, errText, now
			if err := pgPutMessage(ctx, tx, m, f.epoch); err != nil {
				return err
			}
			log.message(m)
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

func (p *pgStore) pending(tenantID string) ([]Message, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	return pgQueryMessages(ctx, p.pool, `SELECT doc FROM messages
		WHERE tenant_id = $1 AND state IN (1, 2) ORDER BY seq`, tenantID)
}

func (p *pgStore) queueDepth(tenantID string) (int, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	var n int
	err := p.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE tenant_id = $1 AND state IN (1, 2)`, tenantID).Scan(&n)
	return n, err
}

func (p *pgStore) outboxSize() (int, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	var n int
	err := p.pool.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&n)
	return n, err
}

// purgeExpired removes the finished messages created at cutoff or before.
// Their keys and WhatsApp ids go with their rows.
func (p *pgStore) purgeExpired(cutoff time.Time) (int, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	tag, err := p.pool.Exec(ctx, `DELETE FROM messages WHERE state IN (3, 4) AND created_at <= $1`, cutoff)
	return int(tag.RowsAffected()), err
}

func (p *pgStore) recentMessages(tenantID string, limit int) ([]Message, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	out, err := pgQueryMessages(ctx, p.pool, `SELECT doc FROM messages
		WHERE tenant_id = $1 ORDER BY seq DESC LIMIT $2`, tenantID, limit)
	for i := range out {
		out[i].Text, out[i].Noted = "", nil
	}
	return out, err
}

// pgScanMessage decodes the doc of one row; pgx.ErrNoRows when none.
func pgScanMessage(row pgx.Row) (Message, error) {
	var doc []byte
	if err := row.Scan(&doc); err != nil {
		return Message{}, err
	}
	var m Message
	if err := json.Unmarshal(doc, &m); err != nil {
		return Message{}, fmt.Errorf("decode message: %w", err)
	}
	return m, nil
}

// pgQueryMessages decodes the docs a query returns.
func pgQueryMessages(ctx context.Context, q pgQuerier, sql string, args ...any) ([]Message, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	var out []Message
	var doc []byte
	_, err = pgx.ForEachRow(rows, []any{&doc}, func() error {
		var m Message
		if err := json.Unmarshal(doc, &m); err != nil {
			return fmt.Errorf("decode message: %w", err)
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
