package sessionstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wapool/wapool/sessionstore"
)

func TestLockProfileTwiceSameProcess(t *testing.T) {
	s := openStore(t, nil, sessionstore.Options{})
	l, err := s.LockProfile("5")
	if err != nil {
		t.Fatal(err)
	}
	// A second flock from another open file description fails, even here.
	if l2, err := s.LockProfile("5"); !errors.Is(err, sessionstore.ErrLocked) {
		if l2 != nil {
			l2.Unlock()
		}
		t.Fatalf("second LockProfile: %v, want ErrLocked", err)
	}
	other, err := s.LockProfile("6")
	if err != nil {
		t.Fatalf("locking another tenant: %v", err)
	}
	defer other.Unlock()

	dir, _ := s.ProfileDir("5")
	lockFile := filepath.Join(dir, sessionstore.LockFileName)
	if got := perm(t, lockFile); got != 0o600 {
		t.Errorf("lock file mode %v, want 0600", got)
	}
	if got := perm(t, dir); got != 0o700 {
		t.Errorf("profile dir mode %v, want 0700", got)
	}
	if b, _ := os.ReadFile(lockFile); strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file says %q, want our pid", b)
	}

	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatalf("second Unlock: %v", err)
	}
	l3, err := s.LockProfile("5")
	if err != nil {
		t.Fatalf("LockProfile after Unlock: %v", err)
	}
	l3.Unlock()
	if _, err := s.LockProfile("../5"); !errors.Is(err, sessionstore.ErrInvalidTenantID) {
		t.Fatalf("LockProfile(../5): %v", err)
	}
}

// Two daemons with their own data dirs sharing one profiles dir (e.g. an old
// chrome_data/): the second cannot run a tenant the first holds.
func TestLockProfileAcrossStoresAndProcesses(t *testing.T) {
	root := t.TempDir()
	profiles := filepath.Join(root, "chrome_data")
	a := openStore(t, nil, sessionstore.Options{DataDir: filepath.Join(root, "a"), ProfilesDir: profiles})
	b := openStore(t, nil, sessionstore.Options{DataDir: filepath.Join(root, "b"), ProfilesDir: profiles})
	l, err := a.LockProfile("5")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.LockProfile("5"); !errors.Is(err, sessionstore.ErrLocked) {
		t.Fatalf("other store's LockProfile: %v, want ErrLocked", err)
	}
	if out := helper(t, "lock", filepath.Join(root, "c"), profiles, "5"); out != "locked" {
		t.Fatalf("other process's LockProfile: %q, want locked", out)
	}
	// Deleting a tenant another daemon runs is refused and deletes nothing.
	if err := b.DeleteTenant("5"); !errors.Is(err, sessionstore.ErrLocked) {
		t.Fatalf("DeleteTenant of a tenant locked elsewhere: %v, want ErrLocked", err)
	}
	if _, err := os.Stat(filepath.Join(profiles, "5", sessionstore.LockFileName)); err != nil {
		t.Fatalf("refused DeleteTenant removed the profile: %v", err)
	}
	// The holder itself may delete while holding the lock.
	if err := a.DeleteTenant("5"); err != nil {
		t.Fatalf("DeleteTenant by the lock holder: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatalf("Unlock after DeleteTenant: %v", err)
	}
	if _, err := os.Stat(filepath.Join(profiles, "5")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("profile survives DeleteTenant: %v", err)
	}
	if out := helper(t, "lock", filepath.Join(root, "c"), profiles, "5"); out != "ok" {
		t.Fatalf("after Unlock, other process's LockProfile: %q, want ok", out)
	}
}
