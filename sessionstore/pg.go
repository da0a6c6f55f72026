package sessionstore

// The PostgreSQL backend (Options.URL postgres://…): the metadata of every
// node of a cluster in one database, through a pgx connection pool.
//
//	openPG ──► connect ──► migrate (advisory lock, schema_migrations) ──► log id
//	       ──► listener goroutine (pgevents.go) … close: stop it, close the pool
//
// Each Store method is one transaction (a single statement where that is
// enough) with a timeout of pgOpTimeout. Semantics match the bbolt backend
// method for method; the differences are the clocks of leases and nodes
// (the database's) and that writes from other nodes appear too.

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgOpTimeout bounds one Store method's database work.
const pgOpTimeout = 30 * time.Second

// Keys of the advisory locks: the schema migration (session lock) and the
// event log's order (transaction lock taken by every appending transaction).
const (
	pgLockMigrate int64 = 0x7761706f6f6c0001 // "wapool" 0001
	pgLockEvents  int64 = 0x7761706f6f6c0002
)

// pgStore is the PostgreSQL backend of a Store.
type pgStore struct {
	st   *Store        // the clock, retention, queue limit and the event hub
	pool *pgxpool.Pool // the outbox, events, tenants: sends, polls, lists
	// ctl is the pool of the leases and the node table (pgleases.go), of
	// its own: a renewal or a heartbeat never waits for a connection
	// behind sends and event polls, however many there are.
	ctl   *pgxpool.Pool
	logID string

	// The listener goroutine (pgevents.go): stop ends it, done closes when
	// it returned.
	stop   context.CancelFunc
	done   chan struct{}
	closed sync.Once

	// noNotify: appends send no NOTIFY, so other Stores see them only by
	// polling (tests of the fallback). Set before use, then read-only.
	noNotify bool

	// pubMu serializes publication to st.hub and guards lastPub, the seq of
	// the newest event handed to the hub. Lock order: pubMu, then hub.mu.
	pubMu   sync.Mutex
	lastPub uint64
}

//go:embed pgschema/*.sql
var pgSchema embed.FS

// pgMigration is one step of the schema, applied once in its own
// transaction and recorded in schema_migrations.
type pgMigration struct {
	version int
	sql     string
}

// pgMigrations lists pgschema/NNNN_name.sql in version order.
func pgMigrations() ([]pgMigration, error) {
	names, err := fs.Glob(pgSchema, "pgschema/*.sql")
	if err != nil {
		return nil, err
	}
	var out []pgMigration
	for _, name := range names {
		base := strings.TrimPrefix(name, "pgschema/")
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its version", name)
		}
		b, err := pgSchema.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, pgMigration{version: v, sql: string(b)})
	}
	slices.SortFunc(out, func(a, b pgMigration) int { return a.version - b.version })
	return out, nil
}

// openPG connects, brings the schema up to date and starts the listener.
func openPG(url string, st *Store) (*pgStore, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors quote the connection string, password included.
		return nil, errors.New("sessionstore: Options.URL: not a valid PostgreSQL connection string")
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		// Names the node's sessions in pg_stat_activity.
		cfg.ConnConfig.RuntimeParams["application_name"] = strings.TrimSpace("wapoold " + st.nodeID)
	}
	ctlCfg := sizePools(cfg, url)
	ctx, cancel := context.WithTimeout(context.Background(), pgOpTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("sessionstore: postgres: %w", err)
	}
	ctl, err := pgxpool.NewWithConfig(ctx, ctlCfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("sessionstore: postgres: %w", err)
	}
	p := &pgStore{st: st, pool: pool, ctl: ctl}
	if err := p.migrate(ctx); err != nil {
		ctl.Close()
		pool.Close()
		return nil, fmt.Errorf("sessionstore: postgres %s@%s/%s: schema: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	if err := pool.QueryRow(ctx, `SELECT log_id, head FROM event_meta`).Scan(&p.logID, &p.lastPub); err != nil {
		ctl.Close()
		pool.Close()
		return nil, fmt.Errorf("sessionstore: postgres: event log: %w", err)
	}
	p.startListener()
	return p, nil
}

// migrate applies the missing steps of pgMigrations, each in a transaction
// of its own, under a session advisory lock so that nodes starting together
// take turns; then makes sure the event log has its id.
func (p *pgStore) migrate(ctx context.Context) error {
	steps, err := pgMigrations()
	if err != nil {
		return err
	}
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, pgLockMigrate); err != nil {
		return err
	}
	defer func() {
		// A failed unlock leaves the lock on a pooled connection: drop it.
		if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, pgLockMigrate); err != nil {
			conn.Conn().Close(context.Background())
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    int PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return err
	}
	var current int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	if last := steps[len(steps)-1].version; current > last {
		return fmt.Errorf("database schema version %d is newer than this wapool's (%d): upgrade wapool", current, last)
	}
	for _, m := range steps {
		if m.version <= current {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %04d: %w", m.version, err)
		}
	}
	var id [4]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `INSERT INTO event_meta (log_id) VALUES ($1) ON CONFLICT DO NOTHING`, hex.EncodeToString(id[:]))
	return err
}

// close stops the listener and closes the pool. Safe to call twice.
func (p *pgStore) close() error {
	p.closed.Do(func() {
		p.stop()
		<-p.done
		p.pool.Close()
		p.ctl.Close()
	})
	return nil
}

// Pool sizes (PGPoolMax and PGControlConns are what a node opens at most:
// docs/cluster.md counts them for max_connections).
const (
	// PGPoolMax is the main pool's size unless the URL sets
	// pool_max_conns: the supervisor's runners (one send or poll each at
	// a time), the relay, the API's reads and the webhook share it.
	PGPoolMax = 16
	// PGControlConns is the size of the pool of the leases and the node
	// table: the renewals, the heartbeats, the claims and the
	// placement loop's reads; a few statements a second.
	PGControlConns = 2
)

// sizePools sets the main pool's size (PGPoolMax unless url sets
// pool_max_conns) and returns the control pool's config: a copy of cfg
// with PGControlConns connections, one kept open.
func sizePools(cfg *pgxpool.Config, url string) *pgxpool.Config {
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = PGPoolMax
	}
	ctl := cfg.Copy()
	ctl.MaxConns, ctl.MinConns = PGControlConns, 1
	return ctl
}

// ctx is the context of one Store method's database work.
func (p *pgStore) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), pgOpTimeout)
}

// inTx runs fn in a transaction, committed when fn returns nil.
func (p *pgStore) inTx(fn func(ctx context.Context, tx pgx.Tx) error) error {
	ctx, cancel := p.ctx()
	defer cancel()
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error { return fn(ctx, tx) })
}

// updateLogged runs fn in a transaction that appends the events fn logs
// (pgevents.go) before it commits, then publishes them to this Store's
// subscribers. It returns the events with their seqs.
func (p *pgStore) updateLogged(fn func(ctx context.Context, tx pgx.Tx, log *pgLog) error) ([]Event, error) {
	var log pgLog
	err := p.inTx(func(ctx context.Context, tx pgx.Tx) error {
		log = pgLog{}
		if err := fn(ctx, tx, &log); err != nil {
			return err
		}
		return p.appendEvents(ctx, tx, log.evs)
	})
	if err != nil {
		return nil, err
	}
	p.publishOwn(log.evs)
	return log.evs, nil
}

// uniqueViolation reports whether err is a unique violation of the index
// or constraint named index ("" for any).
func uniqueViolation(err error, index string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && (index == "" || pgErr.ConstraintName == index)
}

// pgQuerier is what both the pool and a transaction offer.
type pgQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
