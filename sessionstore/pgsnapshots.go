package sessionstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

func (p *pgStore) currentSnapshot(tenantID string) (Snapshot, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	return pgGetSnapshot(ctx, p.pool, tenantID, "")
}

func pgGetSnapshot(ctx context.Context, q pgQuerier, tenantID, lock string) (Snapshot, error) {
	sn := Snapshot{TenantID: tenantID}
	err := q.QueryRow(ctx, `SELECT gen, epoch, taken_at, node FROM snapshots WHERE tenant_id = $1 `+lock, tenantID).
		Scan(&sn.Gen, &sn.Epoch, &sn.TakenAt, &sn.Node)
	if errors.Is(err, pgx.ErrNoRows) {
		return Snapshot{TenantID: tenantID}, nil
	}
	sn.TakenAt = sn.TakenAt.UTC()
	return sn, err
}

func (p *pgStore) recordSnapshot(f fence, rec Snapshot) error {
	return p.inTx(func(ctx context.Context, tx pgx.Tx) error {
		if err := p.checkFence(ctx, tx, f); err != nil {
			return err
		}
		cur, err := pgGetSnapshot(ctx, tx, rec.TenantID, "FOR UPDATE")
		if err != nil {
			return err
		}
		if err := cur.follows(rec); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO snapshots AS s (tenant_id, gen, epoch, taken_at, node, recorded_at)
			VALUES ($1, $2, $3, $4, $5, statement_timestamp())
			ON CONFLICT (tenant_id) DO UPDATE SET gen = EXCLUDED.gen, epoch = EXCLUDED.epoch,
				taken_at = EXCLUDED.taken_at, node = EXCLUDED.node, recorded_at = EXCLUDED.recorded_at`,
			rec.TenantID, int64(rec.Gen), int64(rec.Epoch), rec.TakenAt, rec.Node); err != nil {
			return err
		}
		t, err := pgGetTenant(ctx, tx, rec.TenantID, "FOR UPDATE")
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		t.SnapshotAt = rec.TakenAt
		return pgPutTenant(ctx, tx, t)
	})
}
