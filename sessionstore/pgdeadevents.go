package sessionstore

// The dead-letter lists in PostgreSQL (table dead_events; see deadevents.go).

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

func (p *pgStore) parkDeadEvent(consumer string, d DeadEvent) error {
	ctx, cancel := p.ctx()
	defer cancel()
	_, err := p.pool.Exec(ctx, `INSERT INTO dead_events (consumer, seq, body, attempts, last_error, parked_at, redeliver)
		VALUES ($1, $2, $3, $4, $5, $6, false)
		ON CONFLICT (consumer, seq) DO UPDATE SET body = EXCLUDED.body, attempts = EXCLUDED.attempts,
			last_error = EXCLUDED.last_error, parked_at = EXCLUDED.parked_at, redeliver = false`,
		consumer, int64(d.Seq), d.Body, d.Attempts, d.LastError, d.ParkedAt)
	if err != nil {
		return fmt.Errorf("dead event %d of %q: %w", d.Seq, consumer, err)
	}
	return nil
}

func (p *pgStore) deadEvents(consumer string, q DeadEventQuery) ([]DeadEvent, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	rows, err := p.pool.Query(ctx, `SELECT seq, body, attempts, last_error, parked_at, redeliver FROM dead_events
		WHERE consumer = $1 AND seq > $2 AND (redeliver OR NOT $3)
		ORDER BY seq LIMIT $4`, consumer, int64(q.After), q.RedeliverOnly, q.limit())
	if err != nil {
		return nil, err
	}
	var out []DeadEvent
	var d DeadEvent
	var seq int64
	_, err = pgx.ForEachRow(rows, []any{&seq, &d.Body, &d.Attempts, &d.LastError, &d.ParkedAt, &d.Redeliver}, func() error {
		d.Seq, d.ParkedAt = uint64(seq), d.ParkedAt.UTC()
		out = append(out, d)
		d = DeadEvent{}
		return nil
	})
	return out, err
}

// redeliverDeadEvents marks seqs (sorted, no repeats; none: all) in one
// transaction: all of them, or none when one is missing.
func (p *pgStore) redeliverDeadEvents(consumer string, seqs []uint64) (int, error) {
	n := 0
	err := p.inTx(func(ctx context.Context, tx pgx.Tx) error {
		if len(seqs) == 0 {
			tag, err := tx.Exec(ctx, `UPDATE dead_events SET redeliver = true WHERE consumer = $1`, consumer)
			n = int(tag.RowsAffected())
			return err
		}
		want := make([]int64, len(seqs))
		for i, s := range seqs {
			want[i] = int64(s)
		}
		rows, err := tx.Query(ctx, `UPDATE dead_events SET redeliver = true
			WHERE consumer = $1 AND seq = ANY($2) RETURNING seq`, consumer, want)
		if err != nil {
			return err
		}
		found, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if len(found) < len(want) {
			for _, s := range want {
				if !slices.Contains(found, s) {
					return fmt.Errorf("dead event %d of %q: %w", s, consumer, ErrNotFound) // rolls back
				}
			}
		}
		n = len(found)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (p *pgStore) deleteDeadEvent(consumer string, seq uint64) error {
	ctx, cancel := p.ctx()
	defer cancel()
	_, err := p.pool.Exec(ctx, `DELETE FROM dead_events WHERE consumer = $1 AND seq = $2`, consumer, int64(seq))
	return err
}
