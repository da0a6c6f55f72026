package sessionstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

func (p *pgStore) getTenant(id string) (Tenant, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	return pgGetTenant(ctx, p.pool, id, "")
}

// pgGetTenant reads the tenant's row, with lock appended to the query
// ("FOR UPDATE" or "").
func pgGetTenant(ctx context.Context, q pgQuerier, id, lock string) (Tenant, error) {
	var doc []byte
	err := q.QueryRow(ctx, `SELECT doc FROM tenants WHERE id = $1 `+lock, id).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, fmt.Errorf("tenant %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("tenant %q: %w", id, err)
	}
	var t Tenant
	if err := json.Unmarshal(doc, &t); err != nil {
		return Tenant{}, fmt.Errorf("tenant %q: decode: %w", id, err)
	}
	return t, nil
}

func pgPutTenant(ctx context.Context, q pgQuerier, t Tenant) error {
	doc, err := json.Marshal(t)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO tenants (id, doc) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc`, t.ID, doc)
	if err != nil {
		return fmt.Errorf("tenant %q: %w", t.ID, err)
	}
	return nil
}

func (p *pgStore) putTenant(t Tenant) error {
	ctx, cancel := p.ctx()
	defer cancel()
	return pgPutTenant(ctx, p.pool, t)
}

func (p *pgStore) updateTenant(id string, fn func(*Tenant)) (Tenant, error) {
	var t Tenant
	err := p.inTx(func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if t, err = pgGetTenant(ctx, tx, id, "FOR UPDATE"); err != nil {
			return err
		}
		fn(&t)
		t.ID = id
		return pgPutTenant(ctx, tx, t)
	})
	if err != nil {
		return Tenant{}, err
	}
	return t, nil
}

func (p *pgStore) listTenants() ([]Tenant, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	rows, err := p.pool.Query(ctx, `SELECT id, doc FROM tenants`)
	if err != nil {
		return nil, err
	}
	var ts []Tenant
	var id string
	var doc []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &doc}, func() error {
		var t Tenant
		if err := json.Unmarshal(doc, &t); err != nil {
			return fmt.Errorf("tenant %q: decode: %w", id, err)
		}
		ts = append(ts, t)
		return nil
	})
	return ts, err
}

// withoutRecord returns the ids, in their order, that name no tenant.
func (p *pgStore) withoutRecord(ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ctx, cancel := p.ctx()
	defer cancel()
	rows, err := p.pool.Query(ctx, `SELECT id FROM tenants WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	known, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		if !slices.Contains(known, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// updateTenantLogged is UpdateTenantLogged with PostgreSQL.
func (p *pgStore) updateTenantLogged(f fence, fn func(*Tenant), ch SessionEvent) (Tenant, Event, error) {
	var t Tenant
	evs, err := p.updateLogged(func(ctx context.Context, tx pgx.Tx, log *pgLog) error {
		if err := p.checkFence(ctx, tx, f); err != nil {
			return err
		}
		var err error
		if t, err = pgGetTenant(ctx, tx, f.tenantID, "FOR UPDATE"); err != nil {
			return err
		}
		fn(&t)
		t.ID = f.tenantID
		if err := pgPutTenant(ctx, tx, t); err != nil {
			return err
		}
		log.evs = append(log.evs, Event{TenantID: f.tenantID, Session: &ch})
		return nil
	})
	if err != nil {
		return Tenant{}, Event{}, err
	}
	return t, evs[0], nil
}

// deleteTenant removes the tenant's record, messages and sequence, and logs
// the deletion when there was a record or a profile, in one transaction.
func (p *pgStore) deleteTenant(f fence, profileExisted bool) (hadRecord bool, err error) {
	id := f.tenantID
	_, err = p.updateLogged(func(ctx context.Context, tx pgx.Tx, log *pgLog) error {
		if err := p.checkFence(ctx, tx, f); err != nil {
			return err
		}
		// The sequence row first, as Enqueue locks it: no deadlock.
		if _, err := tx.Exec(ctx, `DELETE FROM outbox_seqs WHERE tenant_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM messages WHERE tenant_id = $1`, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, id)
		if err != nil {
			return err
		}
		hadRecord = tag.RowsAffected() > 0
		if hadRecord || profileExisted {
			log.evs = append(log.evs, deletedEvent(id))
		}
		return nil
	})
	return hadRecord, err
}
