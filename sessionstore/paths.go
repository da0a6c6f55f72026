package sessionstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// MaxTmpDirLen is the longest TMPDIR TmpDir returns below DataDir. Unix
// socket paths are limited to 107 bytes (108 with the NUL) and Chrome puts
// "<TMPDIR>/.org.chromium.Chromium.XXXXXX/SingletonSocket" (46 bytes after
// TMPDIR) there; 56 leaves a margin for other socket names.
const MaxTmpDirLen = 56

// ProfileDir returns ProfilesDir/<id>, the tenant's Chrome --user-data-dir.
// The id is validated first (ErrInvalidTenantID).
func (s *Store) ProfileDir(id string) (string, error) {
	if err := ValidateTenantID(id); err != nil {
		return "", err
	}
	return filepath.Join(s.profilesDir, id), nil
}

// CacheDir returns DataDir/cache/<id>, the tenant's Chrome --disk-cache-dir.
func (s *Store) CacheDir(id string) (string, error) {
	if err := ValidateTenantID(id); err != nil {
		return "", err
	}
	return filepath.Join(s.dataDir, "cache", id), nil
}

// TmpDir returns a short per-tenant directory for the TMPDIR of the tenant's
// Chrome: DataDir/tmp/<id> when that is at most MaxTmpDirLen bytes, else
// os.TempDir()/wapool-<hash8>, hash8 being 8 hex digits of SHA-256 over
// DataDir and id (so two daemons with different data dirs do not share it).
func (s *Store) TmpDir(id string) (string, error) {
	if err := ValidateTenantID(id); err != nil {
		return "", err
	}
	if p := filepath.Join(s.dataDir, "tmp", id); len(p) <= MaxTmpDirLen {
		return p, nil
	}
	sum := sha256.Sum256([]byte(s.dataDir + "\x00" + id))
	return filepath.Join(os.TempDir(), "wapool-"+hex.EncodeToString(sum[:4])), nil
}

// EnsureDirs creates the tenant's profile, cache and tmp directories with mode
// 0700. An existing profile or cache dir (e.g. an adopted Selenium-era
// profile) with group or other bits is tightened to 0700: profiles are
// credentials. The tmp dir, which may live in the shared os.TempDir(), must be
// a real directory (no symlink) owned by this user, else ErrInsecureDir.
func (s *Store) EnsureDirs(id string) error {
	profile, err := s.ProfileDir(id)
	if err != nil {
		return err
	}
	cache, _ := s.CacheDir(id)
	tmp, _ := s.TmpDir(id)
	if err := ensurePrivateDir(profile, false); err != nil {
		return fmt.Errorf("tenant %q: profile dir: %w", id, err)
	}
	if err := ensurePrivateDir(cache, false); err != nil {
		return fmt.Errorf("tenant %q: cache dir: %w", id, err)
	}
	if err := ensurePrivateDir(tmp, true); err != nil {
		return fmt.Errorf("tenant %q: tmp dir: %w", id, err)
	}
	return nil
}

// ensurePrivateDir creates dir 0700 (parents too) or checks an existing one:
// it must be a directory and loses its group and other bits. With strict, it
// must also not be a symlink and be owned by this user.
func ensurePrivateDir(dir string, strict bool) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	err := os.Mkdir(dir, 0o700)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	stat := os.Stat
	if strict {
		stat = os.Lstat
	}
	fi, err := stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory: %w", dir, ErrInsecureDir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && strict && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is owned by uid %d, not %d: %w", dir, st.Uid, os.Geteuid(), ErrInsecureDir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}

// ProfileBytes returns the disk use of the tenant's profile dir (allocated
// blocks, like du), 0 when it does not exist. Files that vanish during the
// walk (Chrome may be running) are skipped; symlinks are not followed.
func (s *Store) ProfileBytes(id string) (int64, error) {
	dir, err := s.ProfileDir(id)
	if err != nil {
		return 0, err
	}
	total, err := diskUsage(dir)
	if err != nil {
		return 0, fmt.Errorf("tenant %q: profile size: %w", id, err)
	}
	return total, nil
}

// diskUsage is the disk use of a tree, like du: allocated blocks. A missing
// tree uses 0.
func diskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		} else {
			total += fi.Size()
		}
		return nil
	})
	return total, err
}
