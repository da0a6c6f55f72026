package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestFileModes: profiles are credentials. The profiles dir, each profile
// and the database are private to the daemon's user, and so is everything
// Chrome writes in a profile (the daemon runs with umask 077).
func TestFileModes(t *testing.T) {
	f, d := startStack(t)
	link(t, d, f, "modes", accountA)
	if code := d.stop(t, syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	profile := filepath.Join(d.dataDir, "profiles", "modes")
	for path, want := range map[string]fs.FileMode{
		filepath.Join(d.dataDir, "profiles"):  0o700,
		profile:                               0o700,
		filepath.Join(d.dataDir, "cache"):     0o700,
		filepath.Join(d.dataDir, "wapool.db"): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", path, got, want)
		}
	}
	n := 0
	err := filepath.WalkDir(profile, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink == 0 && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %o is open to others", path, fi.Mode().Perm())
		}
		n++
		return nil
	})
	if err != nil || n < 10 {
		t.Fatalf("walked %d entries of the profile: %v", n, err)
	}
}
