package sessionstore

// Leases, fences and nodes with PostgreSQL. Every expiry and heartbeat is
// judged by the database's statement_timestamp(): one clock for all nodes,
// and constant within a statement, so a statement's checks agree.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// checkFence refuses the transaction's write unless the lease row names
// f.node at f.epoch and has not expired. The row is locked FOR SHARE until
// the commit: a takeover (an UPDATE of the row) waits for this write to
// commit, and the write never commits after a takeover.
func (p *pgStore) checkFence(ctx context.Context, tx pgx.Tx, f fence) error {
	if f.node == "" {
		return nil
	}
	var l Lease
	var expired bool
	err := tx.QueryRow(ctx, `SELECT holder, epoch, expires_at, expires_at <= statement_timestamp()
		FROM leases WHERE tenant_id = $1 FOR SHARE`, f.tenantID).Scan(&l.Holder, &l.Epoch, &l.Expires, &expired)
	if errors.Is(err, pgx.ErrNoRows) {
		return f.refused(nil, false)
	}
	if err != nil {
		return err
	}
	l.TenantID, l.Expires = f.tenantID, l.Expires.UTC()
	return f.refused(&l, expired)
}

// acquireLease takes or renews the lease in one statement; when another
// node holds it, it reads who, to say so. A lease freed between the two
// statements is tried again.
func (p *pgStore) acquireLease(tenantID, node string, ttl time.Duration) (Lease, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	for {
		l, err := pgScanLease(p.ctl.QueryRow(ctx, `INSERT INTO leases AS l (tenant_id, holder, epoch, expires_at)
			VALUES ($1, $2, 1, statement_timestamp() + $3::float8 * interval '1 microsecond')
			ON CONFLICT (tenant_id) DO UPDATE SET
				epoch = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at > statement_timestamp()
					THEN l.epoch ELSE l.epoch + 1 END,
				holder = EXCLUDED.holder,
				expires_at = EXCLUDED.expires_at
			WHERE l.holder = EXCLUDED.holder OR l.holder = '' OR l.expires_at <= statement_timestamp()
			RETURNING tenant_id, holder, epoch, expires_at`, tenantID, node, ttl.Microseconds()))
		if err == nil || !errors.Is(err, pgx.ErrNoRows) {
			return l, err
		}
		var holder string
		var expires time.Time
		var live bool
		err = p.ctl.QueryRow(ctx, `SELECT holder, expires_at, holder <> '' AND expires_at > statement_timestamp()
			FROM leases WHERE tenant_id = $1`, tenantID).Scan(&holder, &expires, &live)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return Lease{}, err
		}
		if err == nil && live {
			return Lease{}, fmt.Errorf("tenant %q: held by node %q until %s: %w",
				tenantID, holder, expires.UTC().Format(time.RFC3339Nano), ErrLeaseHeld)
		}
		if ctx.Err() != nil {
			return Lease{}, ctx.Err()
		}
	}
}

// renewLeases extends, in one statement, the leases of fences still held
// by node at their epoch and unexpired.
func (p *pgStore) renewLeases(node string, fences map[string]uint64, ttl time.Duration) ([]Lease, error) {
	ids := make([]string, 0, len(fences))
	epochs := make([]int64, 0, len(fences))
	for id, epoch := range fences {
		ids, epochs = append(ids, id), append(epochs, int64(epoch))
	}
	ctx, cancel := p.ctx()
	defer cancel()
	rows, err := p.ctl.Query(ctx, `UPDATE leases AS l
		SET expires_at = statement_timestamp() + $4::float8 * interval '1 microsecond'
		FROM unnest($2::text[], $3::bigint[]) AS f (tenant_id, epoch)
		WHERE l.tenant_id = f.tenant_id AND l.epoch = f.epoch AND l.holder = $1
			AND l.expires_at > statement_timestamp()
		RETURNING l.tenant_id, l.holder, l.epoch, l.expires_at`, node, ids, epochs, ttl.Microseconds())
	if err != nil {
		return nil, err
	}
	return pgCollectLeases(rows)
}

func (p *pgStore) releaseLease(f fence) error {
	ctx, cancel := p.ctx()
	defer cancel()
	_, err := p.ctl.Exec(ctx, `UPDATE leases SET holder = '', expires_at = least(expires_at, statement_timestamp())
		WHERE tenant_id = $1 AND holder = $2 AND epoch = $3`, f.tenantID, f.node, int64(f.epoch))
	return err
}

// lease returns the tenant's lease, nil when none is stored.
func (p *pgStore) lease(tenantID string) (*Lease, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	l, err := pgScanLease(p.ctl.QueryRow(ctx, `SELECT tenant_id, holder, epoch, expires_at
		FROM leases WHERE tenant_id = $1`, tenantID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &l, nil
}

func (p *pgStore) leases() ([]Lease, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	rows, err := p.ctl.Query(ctx, `SELECT tenant_id, holder, epoch, expires_at FROM leases ORDER BY tenant_id COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return pgCollectLeases(rows)
}

func pgScanLease(row pgx.Row) (Lease, error) {
	var l Lease
	if err := row.Scan(&l.TenantID, &l.Holder, &l.Epoch, &l.Expires); err != nil {
		return Lease{}, err
	}
	l.Expires = l.Expires.UTC()
	return l, nil
}

func pgCollectLeases(rows pgx.Rows) ([]Lease, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Lease, error) { return pgScanLease(row) })
}

const pgNodeColumns = `id, addr, started_at, heartbeat_at, draining`

func (p *pgStore) registerNode(node, addr string) error {
	ctx, cancel := p.ctx()
	defer cancel()
	_, err := p.ctl.Exec(ctx, `INSERT INTO nodes (id, addr, started_at, heartbeat_at, draining)
		VALUES ($1, $2, statement_timestamp(), statement_timestamp(), false)
		ON CONFLICT (id) DO UPDATE SET addr = EXCLUDED.addr, started_at = EXCLUDED.started_at,
			heartbeat_at = EXCLUDED.heartbeat_at, draining = false`, node, addr)
	if err != nil {
		return fmt.Errorf("node %q: register: %w", node, err)
	}
	return nil
}

func (p *pgStore) heartbeat(node string) (Node, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	n, err := pgScanNode(p.ctl.QueryRow(ctx, `UPDATE nodes SET heartbeat_at = statement_timestamp()
		WHERE id = $1 RETURNING `+pgNodeColumns, node))
	if errors.Is(err, pgx.ErrNoRows) {
		return Node{}, fmt.Errorf("node %q: %w", node, ErrNotFound)
	}
	return n, err
}

func (p *pgStore) setDraining(node string, draining bool) error {
	ctx, cancel := p.ctx()
	defer cancel()
	tag, err := p.ctl.Exec(ctx, `UPDATE nodes SET draining = $2 WHERE id = $1`, node, draining)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("node %q: %w", node, ErrNotFound)
	}
	return nil
}

func (p *pgStore) nodes(maxAge time.Duration) ([]Node, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	rows, err := p.ctl.Query(ctx, `SELECT `+pgNodeColumns+` FROM nodes
		WHERE $1::float8 <= 0 OR heartbeat_at > statement_timestamp() - $1::float8 * interval '1 microsecond'
		ORDER BY id COLLATE "C"`, maxAge.Microseconds())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Node, error) { return pgScanNode(row) })
}

func (p *pgStore) removeNode(node string) error {
	ctx, cancel := p.ctx()
	defer cancel()
	_, err := p.ctl.Exec(ctx, `DELETE FROM nodes WHERE id = $1`, node)
	return err
}

func pgScanNode(row pgx.Row) (Node, error) {
	var n Node
	if err := row.Scan(&n.ID, &n.Addr, &n.Started, &n.Heartbeat, &n.Draining); err != nil {
		return Node{}, err
	}
	n.Started, n.Heartbeat = n.Started.UTC(), n.Heartbeat.UTC()
	return n, nil
}
