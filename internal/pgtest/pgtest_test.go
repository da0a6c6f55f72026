package pgtest_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/wapool/wapool/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestDatabasesAreFreshAndSeparate(t *testing.T) {
	srv := pgtest.Start(t)
	if again := pgtest.Start(t); again != srv {
		t.Fatal("Start under Main started a second server")
	}
	a, b := srv.NewDatabase(t), srv.NewDatabase(t)
	if a == b || !strings.HasPrefix(a, "postgres://postgres@127.0.0.1:") || !strings.HasSuffix(a, "?sslmode=disable") {
		t.Fatalf("NewDatabase = %q, %q", a, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	connA, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer connA.Close(ctx)
	if _, err := connA.Exec(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	connB, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer connB.Close(ctx)
	var n int
	if err := connB.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("database b sees a's table: %d, %v", n, err)
	}
	var version string
	if err := connA.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	var fsync string
	if err := connA.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil || fsync != "off" {
		t.Fatalf("fsync = %q, %v", fsync, err)
	}
	t.Logf("PostgreSQL %s at %s", version, srv.URL())
}

// Without Main, Start starts a server of its own and stops it at the end of
// the test; nothing of it is left.
func TestStartOwnServer(t *testing.T) {
	if pgtest.Start(t) == nil {
		t.Fatal("no server")
	}
	var url string
	var dir []string
	t.Run("own", func(t *testing.T) {
		srv := pgtest.StartOwn(t)
		url = srv.URL()
		dir = append(dir, pgtest.Dir(srv))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, url); err == nil {
		conn.Close(ctx)
		t.Fatal("the test's own server still accepts connections after the test")
	}
	if _, err := os.Stat(dir[0]); !os.IsNotExist(err) {
		t.Fatalf("the server's directory %s survives: %v", dir[0], err)
	}
}
