package sessionstore

// The event log in PostgreSQL.
//
// Appending: a transaction collects its events in a pgLog; just before it
// commits, appendEvents takes the transaction advisory lock pgLockEvents,
// allocates the seqs from event_meta.head, inserts the events and sends a
// NOTIFY on pgEventsChannel. The lock is held until the commit, so
// transactions commit in seq order: a reader never sees seq n+1 without n.
//
// Publishing to this Store's subscribers (the hub, events.go), in seq order
// after lastPub:
//
//	own commit ──► publishOwn: its events when they follow lastPub, else the log from lastPub on
//	other node ──► NOTIFY ──┐
//	every 500 ms ───────────┴──► listener goroutine ──► catchUp: the log from lastPub on
//
// pubMu serializes both paths. The listener goroutine is started by openPG
// and stopped by close, which waits for it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// pgEventsChannel is the NOTIFY channel of appended events.
	pgEventsChannel = "wapool_events"
	// pgPollInterval is how often the listener reads the log without a
	// notification (a lost NOTIFY, a listener reconnecting).
	pgPollInterval = 500 * time.Millisecond
	// pgCatchUpBatch bounds the events one catch-up query reads.
	pgCatchUpBatch = 1000
)

// pgLog collects the events of one transaction for appendEvents.
type pgLog struct{ evs []Event }

// message logs the state change of m (as stored after the change).
func (l *pgLog) message(m Message) { l.evs = append(l.evs, messageEvent(m)) }

// appendEvents gives evs their seqs and time and stores them, in the
// caller's transaction, in log order (see the file comment).
func (p *pgStore) appendEvents(ctx context.Context, tx pgx.Tx, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgLockEvents); err != nil {
		return err
	}
	// The time is the database's, read under the lock, so times follow
	// seqs and every node's events are on one clock (a node's own clock
	// may be off; now(), the transaction's start, would not follow seqs).
	var head uint64
	var at time.Time
	if err := tx.QueryRow(ctx, `UPDATE event_meta SET head = head + $1 RETURNING head, statement_timestamp()`, len(evs)).Scan(&head, &at); err != nil {
		return err
	}
	at = at.UTC()
	var batch pgx.Batch
	for i := range evs {
		evs[i].Seq, evs[i].At = head-uint64(len(evs)-1-i), at
		doc, err := json.Marshal(evs[i])
		if err != nil {
			return err
		}
		batch.Queue(`INSERT INTO events (seq, at, tenant_id, doc) VALUES ($1, $2, $3, $4)`,
			int64(evs[i].Seq), at, evs[i].TenantID, doc)
	}
	if !p.noNotify {
		batch.Queue(`SELECT pg_notify($1, '')`, pgEventsChannel)
	}
	return tx.SendBatch(ctx, &batch).Close()
}

// publishOwn hands the events this Store just committed to its
// subscribers: directly when they follow the last published event, else by
// reading the log from there (other nodes' events came in between). When
// that read fails the listener publishes them on its next round.
func (p *pgStore) publishOwn(evs []Event) {
	if len(evs) == 0 {
		return
	}
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	switch {
	case evs[len(evs)-1].Seq <= p.lastPub: // the listener was faster
	case evs[0].Seq == p.lastPub+1:
		p.st.hub.publish(evs)
		p.lastPub = evs[len(evs)-1].Seq
	default:
		ctx, cancel := p.ctx()
		defer cancel()
		_ = p.catchUpLocked(ctx)
	}
}

// catchUpLocked publishes, in order, the events of the log after lastPub.
// Events purged before they were published are skipped.
func (p *pgStore) catchUpLocked(ctx context.Context) error {
	for {
		rows, err := p.pool.Query(ctx, `SELECT doc FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`,
			int64(p.lastPub), pgCatchUpBatch)
		if err != nil {
			return err
		}
		evs, err := pgCollectEvents(rows)
		if err != nil || len(evs) == 0 {
			return err
		}
		p.st.hub.publish(evs)
		p.lastPub = evs[len(evs)-1].Seq
		if len(evs) < pgCatchUpBatch {
			return nil
		}
	}
}

// startListener starts the goroutine that publishes the events other
// processes commit; close stops it.
func (p *pgStore) startListener() {
	ctx, cancel := context.WithCancel(context.Background())
	p.stop, p.done = cancel, make(chan struct{})
	go p.listen(ctx)
}

// listen waits for a NOTIFY on its own connection, or pgPollInterval, then
// catches up; until ctx ends. A broken connection is replaced on the next
// round; meanwhile it polls.
func (p *pgStore) listen(ctx context.Context) {
	defer close(p.done)
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for {
		if conn == nil {
			conn = p.listenConn(ctx)
		}
		if conn != nil {
			wait, cancel := context.WithTimeout(ctx, pgPollInterval)
			_, _ = conn.WaitForNotification(wait) // a timeout leaves the connection usable
			cancel()
			if conn.IsClosed() {
				conn = nil
			}
		} else {
			select {
			case <-ctx.Done():
			case <-time.After(pgPollInterval):
			}
		}
		if ctx.Err() != nil {
			return
		}
		p.pubMu.Lock()
		read, cancel := context.WithTimeout(ctx, pgOpTimeout)
		_ = p.catchUpLocked(read) // failed: the next round tries again
		cancel()
		p.pubMu.Unlock()
	}
}

// listenConn opens the listener's connection (outside the pool: it waits
// for notifications all the time), nil when that fails.
func (p *pgStore) listenConn(ctx context.Context) *pgx.Conn {
	ctx, cancel := context.WithTimeout(ctx, pgOpTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, p.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil
	}
	if _, err := conn.Exec(ctx, `LISTEN `+pgEventsChannel); err != nil {
		conn.Close(context.Background())
		return nil
	}
	return conn
}

func (p *pgStore) appendSessionEvent(f fence, ch SessionEvent) (Event, error) {
	evs, err := p.updateLogged(func(ctx context.Context, tx pgx.Tx, log *pgLog) error {
		if err := p.checkFence(ctx, tx, f); err != nil {
			return err
		}
		log.evs = append(log.evs, Event{TenantID: f.tenantID, Session: &ch})
		return nil
	})
	if err != nil {
		return Event{}, err
	}
	return evs[0], nil
}

func (p *pgStore) eventHead() (uint64, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	var head uint64
	err := p.pool.QueryRow(ctx, `SELECT head FROM event_meta`).Scan(&head)
	return head, err
}

// eventsAfter is EventsAfter with PostgreSQL: one read-only snapshot, so
// the bounds checked and the events read agree.
func (p *pgStore) eventsAfter(after uint64, limit int, match func(*Event) bool) (evs []Event, next uint64, err error) {
	ctx, cancel := p.ctx()
	defer cancel()
	next = after
	err = pgx.BeginTxFunc(ctx, p.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var head, purged uint64
		if err := tx.QueryRow(ctx, `SELECT head, purged_through FROM event_meta`).Scan(&head, &purged); err != nil {
			return err
		}
		if after > head || after < purged {
			return p.rangeErrorQ(ctx, tx, p.st.Cursor(after))
		}
		rows, err := tx.Query(ctx, `SELECT doc FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`,
			int64(after), max(limit, maxEventScan))
		if err != nil {
			return err
		}
		defer rows.Close()
		for len(evs) < limit && rows.Next() {
			ev, err := pgScanEvent(rows)
			if err != nil {
				return err
			}
			next = ev.Seq
			if match == nil || match(&ev) {
				evs = append(evs, ev)
			}
		}
		rows.Close()
		return rows.Err()
	})
	if err != nil {
		return nil, after, err
	}
	return evs, next, nil
}

// rangeError is the error for cursor c, from the log's bounds: a
// *CursorRangeError, or the error reading them.
func (p *pgStore) rangeError(c string) error {
	ctx, cancel := p.ctx()
	defer cancel()
	return p.rangeErrorQ(ctx, p.pool, c)
}

func (p *pgStore) rangeErrorQ(ctx context.Context, q pgQuerier, c string) error {
	var purged uint64
	var oldest *int64
	if err := q.QueryRow(ctx, `SELECT purged_through, (SELECT min(seq) FROM events) FROM event_meta`).Scan(&purged, &oldest); err != nil {
		return fmt.Errorf("event cursor %q: %w", c, err)
	}
	e := &CursorRangeError{Cursor: c, Start: p.st.Cursor(purged)}
	if oldest != nil {
		e.Oldest = p.st.Cursor(uint64(*oldest))
	}
	return e
}

// purgeEvents is PurgeEvents with PostgreSQL: the bounds from one
// snapshot, by the database's clock, which stamped the events; then
// batches of at most purgeBatch events, each its own transaction (a DELETE
// of the oldest seqs up to the bound, LIMIT by a subselect), so no purge
// holds a long transaction or locks the whole backlog at once.
func (p *pgStore) purgeEvents(ep EventPurge) (PurgeReport, error) {
	var upto uint64
	var r PurgeReport
	err := p.inTx(func(ctx context.Context, tx pgx.Tx) error {
		var purged, retEnd, capEnd int64
		// The first event at the cutoff or later, minus one; the head when
		// none is.
		if err := tx.QueryRow(ctx, `SELECT purged_through,
				coalesce((SELECT seq FROM events WHERE at >= statement_timestamp() - $1::float8 * interval '1 microsecond' ORDER BY seq LIMIT 1) - 1, head),
				coalesce((SELECT seq FROM events WHERE at >= statement_timestamp() - $2::float8 * interval '1 microsecond' ORDER BY seq LIMIT 1) - 1, head)
			FROM event_meta`, ep.Retention.Microseconds(), ep.UndeliveredMax.Microseconds()).Scan(&purged, &retEnd, &capEnd); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT name, seq FROM consumers`)
		if err != nil {
			return err
		}
		var consumers []ConsumerLag
		var name string
		var seq int64
		if _, err := pgx.ForEachRow(rows, []any{&name, &seq}, func() error {
			consumers = append(consumers, ConsumerLag{Name: name, Seq: uint64(seq)})
			return nil
		}); err != nil {
			return err
		}
		upto, r = purgePlan(uint64(purged), uint64(max(retEnd, 0)), uint64(max(capEnd, 0)), consumers)
		return nil
	})
	if err != nil {
		return PurgeReport{}, fmt.Errorf("purging events: %w", err)
	}
	for {
		var n int
		err := p.inTx(func(ctx context.Context, tx pgx.Tx) error {
			var last int64
			if err := tx.QueryRow(ctx, `WITH gone AS (
					DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= $1 ORDER BY seq LIMIT $2)
					RETURNING seq
				)
				SELECT count(*), coalesce(max(seq), 0) FROM gone`, int64(upto), purgeBatch).Scan(&n, &last); err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
			_, err := tx.Exec(ctx, `UPDATE event_meta SET purged_through = greatest(purged_through, $1)`, last)
			return err
		})
		if err != nil {
			return r, fmt.Errorf("purging events: %w", err)
		}
		r.Purged += n
		if n < purgeBatch {
			return r, nil
		}
	}
}

func (p *pgStore) consumerPosition(name string) (seq uint64, ok bool, err error) {
	ctx, cancel := p.ctx()
	defer cancel()
	var v int64
	err = p.pool.QueryRow(ctx, `SELECT seq FROM consumers WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return uint64(v), true, nil
}

func (p *pgStore) setConsumerPosition(name string, seq uint64) error {
	ctx, cancel := p.ctx()
	defer cancel()
	_, err := p.pool.Exec(ctx, `INSERT INTO consumers (name, seq) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET seq = EXCLUDED.seq`, name, int64(seq))
	return err
}

func pgScanEvent(row pgx.Row) (Event, error) {
	var doc []byte
	if err := row.Scan(&doc); err != nil {
		return Event{}, err
	}
	return decodeEvent(doc)
}

func pgCollectEvents(rows pgx.Rows) ([]Event, error) {
	var out []Event
	var doc []byte
	_, err := pgx.ForEachRow(rows, []any{&doc}, func() error {
		ev, err := decodeEvent(doc)
		if err != nil {
			return err
		}
		out = append(out, ev)
		return nil
	})
	return out, err
}
