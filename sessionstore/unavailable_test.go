package sessionstore

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wapool/wapool/internal/pgtest"
)

func TestUnavailableClassifies(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{ErrNotFound, false},
		{fmt.Errorf("enqueue: %w", &pgconn.PgError{Code: "57P01"}), true},  // admin shutdown
		{fmt.Errorf("enqueue: %w", &pgconn.PgError{Code: "08006"}), true},  // connection failure
		{fmt.Errorf("enqueue: %w", &pgconn.PgError{Code: "23505"}), false}, // unique violation
		{fmt.Errorf("enqueue: %w", &pgconn.PgError{Code: "40001"}), false}, // serialization failure: a refusal, not an outage
		{errors.New("database not open"), false},
	} {
		if got := Unavailable(c.err); got != c.want {
			t.Errorf("Unavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// While PostgreSQL restarts, the store's calls fail with errors Unavailable
// recognises; once it is back, they succeed again.
func TestUnavailableWhilePostgreSQLRestarts(t *testing.T) {
	pgtest.Start(t)            // skips (fails in CI) where PostgreSQL is not installed
	pg, err := pgtest.Launch() // a server of this test's own: it restarts
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	url, err := pg.CreateDatabase("unavailable")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{DataDir: t.TempDir(), URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PutTenant(Tenant{ID: "t1", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	restarted := make(chan error, 1)
	go func() { restarted <- pg.Restart(3 * time.Second) }()
	var downErr error
	deadline := time.Now().Add(20 * time.Second)
	for downErr == nil && time.Now().Before(deadline) {
		_, downErr = s.GetTenant("t1")
		if downErr == nil {
			time.Sleep(20 * time.Millisecond) // polling the store until the outage shows
		}
	}
	if downErr == nil {
		t.Fatal("no call failed while PostgreSQL was down")
	}
	if !Unavailable(downErr) {
		t.Errorf("Unavailable(%v) = false during the restart", downErr)
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	var upErr error
	for range 100 {
		if _, upErr = s.GetTenant("t1"); upErr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond) // the pool reconnects on its own
	}
	if upErr != nil {
		t.Errorf("GetTenant after the restart: %v", upErr)
	}
}
