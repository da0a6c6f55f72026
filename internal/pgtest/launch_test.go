package pgtest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/wapool/wapool/internal/pgtest"
)

// TestLaunch: a program's server (no testing.TB) serves the databases it
// creates, each its own, and Close stops it and leaves nothing behind.
func TestLaunch(t *testing.T) {
	srv, err := pgtest.Launch()
	if errors.Is(err, pgtest.ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			srv.Close()
		}
	}()
	a, err := srv.CreateDatabase("soak_a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := srv.CreateDatabase("soak_b")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(a, "/soak_a?sslmode=disable") || !strings.HasPrefix(a, "postgres://postgres@127.0.0.1:") {
		t.Fatalf("CreateDatabase = %q", a)
	}
	if _, err := srv.CreateDatabase("soak_a"); err == nil {
		t.Error("a second database soak_a was created")
	}
	for _, bad := range []string{"", "Soak", "soak-a", "1soak", "x; DROP DATABASE soak_a", strings.Repeat("a", 64)} {
		if _, err := srv.CreateDatabase(bad); err == nil {
			t.Errorf("CreateDatabase(%q) succeeded", bad)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	connA, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connA.Exec(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	connA.Close(ctx)
	connB, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := connB.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("database soak_b sees soak_a's table: %d, %v", n, err)
	}
	connB.Close(ctx)

	dir := pgtest.Dir(srv)
	closed = true
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelShort()
	if conn, err := pgx.Connect(short, a); err == nil {
		conn.Close(short)
		t.Fatal("the server still accepts connections after Close")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the server's directory %s survives Close: %v", dir, err)
	}
}

// TestCloseRefusesStartsServer: a test's server is stopped by the test, not
// by Close, which would pull it from under the test binary's other tests.
func TestCloseRefusesStartsServer(t *testing.T) {
	srv := pgtest.Start(t)
	if err := srv.Close(); err == nil {
		t.Fatal("Close stopped the server of Start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, srv.URL())
	if err != nil {
		t.Fatalf("the shared server is gone after a refused Close: %v", err)
	}
	conn.Close(ctx)
}

// TestFindBinDir: the finder takes the first directory with both binaries
// executable, and without one says how to install PostgreSQL.
func TestFindBinDir(t *testing.T) {
	empty := t.TempDir()
	notExec := t.TempDir()
	good := t.TempDir()
	for _, f := range []struct {
		dir  string
		mode os.FileMode
	}{{notExec, 0o644}, {good, 0o755}} {
		for _, name := range []string{"initdb", "postgres"} {
			if err := os.WriteFile(filepath.Join(f.dir, name), []byte("#!/bin/sh\n"), f.mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	onlyInitdb := t.TempDir()
	if err := os.WriteFile(filepath.Join(onlyInitdb, "initdb"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := pgtest.FindBinDir([]string{empty, notExec, onlyInitdb, good}); err != nil || got != good {
		t.Fatalf("FindBinDir = %q, %v; want %q", got, err, good)
	}
	_, err := pgtest.FindBinDir([]string{empty, notExec, onlyInitdb})
	if !errors.Is(err, pgtest.ErrNotInstalled) {
		t.Fatalf("FindBinDir with no PostgreSQL: %v, want ErrNotInstalled", err)
	}
	for _, want := range []string{"apt-get install -y postgresql", "make postgresql", empty} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestRestart: a restart cuts every session, and the server comes back on
// the same address with the same data.
func TestRestart(t *testing.T) {
	srv, err := pgtest.Launch()
	if errors.Is(err, pgtest.ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url, err := srv.CreateDatabase("restarted")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)`); err != nil {
		t.Fatal(err)
	}
	if err := srv.Restart(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SELECT 1`); err == nil {
		t.Error("a session survived the restart")
	}
	again, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(ctx)
	var v int
	if err := again.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v); err != nil || v != 7 {
		t.Errorf("after the restart: %d, %v; want the row kept", v, err)
	}
}
