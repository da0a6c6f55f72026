package sessionstore_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wapool/wapool/internal/pgtest"
	"github.com/wapool/wapool/internal/testclock"
	"github.com/wapool/wapool/sessionstore"
	"go.uber.org/goleak"
)

// TestMain doubles as a helper process: with WAPOOL_STORE_HELPER set, the
// test binary plays a second daemon (see runHelper) and exits. The tests
// share one PostgreSQL server (pgtest.Main stops it after them), and no
// goroutine may outlive them: a bbolt Store owns none, a PostgreSQL one its
// listener until Close.
func TestMain(m *testing.M) {
	if mode := os.Getenv("WAPOOL_STORE_HELPER"); mode != "" {
		os.Exit(runHelper(mode))
	}
	goleak.VerifyTestMain(runFunc(func() int { return pgtest.Main(m) }))
}

// runFunc is a goleak.TestingM.
type runFunc func() int

func (f runFunc) Run() int { return f() }

// runHelper: "open" opens WAPOOL_STORE_DATA; "lock" opens its own store in
// WAPOOL_STORE_DATA with WAPOOL_STORE_PROFILES and locks WAPOOL_STORE_TENANT.
// It prints the outcome: "ok", "locked" or "error: …".
func runHelper(mode string) int {
	s, err := sessionstore.Open(sessionstore.Options{
		DataDir:     os.Getenv("WAPOOL_STORE_DATA"),
		ProfilesDir: os.Getenv("WAPOOL_STORE_PROFILES"),
		LockTimeout: 200 * time.Millisecond,
	})
	if err == nil && mode == "lock" {
		var l *sessionstore.ProfileLock
		if l, err = s.LockProfile(os.Getenv("WAPOOL_STORE_TENANT")); err == nil {
			l.Unlock()
		}
	}
	if s != nil {
		s.Close()
	}
	switch {
	case err == nil:
		fmt.Print("ok")
	case errors.Is(err, sessionstore.ErrLocked):
		fmt.Print("locked")
	default:
		fmt.Printf("error: %v", err)
	}
	return 0
}

// clock is the stores' injected time source.
type clock = testclock.Clock

// newClock is a clock that moves 1ms at each reading: strictly
// increasing, like a real clock.
func newClock() *clock {
	return testclock.NewTicking(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), time.Millisecond)
}

// openStore opens a store in a fresh data dir with the injected clock and
// closes it at the end of the test.
func openStore(t *testing.T, c *clock, opts sessionstore.Options) *sessionstore.Store {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = filepath.Join(t.TempDir(), "data")
	}
	if c != nil {
		opts.Now = c.Now
	}
	s, err := sessionstore.Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}
