package sessionstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// LockFileName is the file inside each profile dir that LockProfile flocks.
const LockFileName = ".wapool.lock"

// ProfileLock is an exclusive flock(2) on a tenant's ProfileDir/.wapool.lock.
// The daemon holds it while it runs that tenant, so a second daemon sharing
// the profiles dir gets ErrLocked instead of a second Chrome on one profile.
// The kernel drops it when the process dies, so it is never stale.
type ProfileLock struct {
	s    *Store
	id   string
	path string

	once sync.Once
	f    *os.File
	err  error
}

// LockProfile takes the tenant's profile lock without waiting, creating the
// profile dir (0700) and the lock file (0600) when missing. It fails with an
// error wrapping ErrLocked when any other open file description holds it: a
// second LockProfile of the same tenant fails even inside this process.
func (s *Store) LockProfile(id string) (*ProfileLock, error) {
	dir, err := s.ProfileDir(id)
	if err != nil {
		return nil, err
	}
	if err := ensurePrivateDir(dir, false); err != nil {
		return nil, fmt.Errorf("tenant %q: profile dir: %w", id, err)
	}
	path := filepath.Join(dir, LockFileName)
	// A lock file unlinked (DeleteTenant) between our open and our flock
	// would give us a lock nobody else can see: retry on a fresh file.
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return nil, fmt.Errorf("tenant %q: open profile lock: %w", id, err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, fmt.Errorf("tenant %q: %s: %w", id, path, ErrLocked)
			}
			return nil, fmt.Errorf("tenant %q: flock %s: %w", id, path, err)
		}
		if same, err := sameFile(f, path); err != nil || !same {
			f.Close()
			if attempt < 3 {
				continue
			}
			return nil, fmt.Errorf("tenant %q: profile lock %s keeps changing: %w", id, path, ErrLocked)
		}
		// For an operator looking at the profile: who holds it.
		_ = f.Truncate(0)
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		l := &ProfileLock{s: s, id: id, path: path, f: f}
		s.mu.Lock()
		s.held[id] = l
		s.mu.Unlock()
		return l, nil
	}
}

// sameFile reports whether the open file f is still the file at path.
func sameFile(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Lstat(path)
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// TenantID returns the tenant whose profile this lock holds.
func (l *ProfileLock) TenantID() string { return l.id }

// Unlock releases the lock. The lock file stays (removing it would let two
// holders lock two different files). Calling Unlock again returns the first
// call's result.
func (l *ProfileLock) Unlock() error {
	l.once.Do(func() {
		l.s.mu.Lock()
		if l.s.held[l.id] == l {
			delete(l.s.held, l.id)
		}
		l.s.mu.Unlock()
		// Closing the only descriptor of this open file description releases the flock.
		l.err = l.f.Close()
	})
	return l.err
}

// holds reports whether this Store holds the profile lock of id.
func (s *Store) holds(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held[id] != nil
}
