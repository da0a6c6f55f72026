package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wapool/wapool/internal/diskio"
)

// restorePrefix starts the name of the sibling temp dir that Restore extracts
// into, next to the profile dir it replaces: ".<base>.restore-<random>".
func restorePrefix(dir string) string {
	return "." + filepath.Base(dir) + ".restore-"
}

// removeStale removes the temp dirs that a Restore of dir which did not
// finish (the process died) left next to it.
func removeStale(dir string) error {
	parent, prefix := filepath.Dir(dir), restorePrefix(dir)
	des, err := os.ReadDir(parent)
	if err != nil {
		return err
	}
	for _, de := range des {
		if de.IsDir() && strings.HasPrefix(de.Name(), prefix) {
			if err := os.RemoveAll(filepath.Join(parent, de.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// keepLock hard-links dir's profile lock file into tmp, so that the lock
// file in the restored dir is the same file: a flock held on it (by the
// runner that restores) stays held, and a second daemon still sees it. No
// lock file in dir: nothing to keep.
func keepLock(dir, tmp string) error {
	src := filepath.Join(dir, lockFileName)
	info, err := os.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	return os.Link(src, filepath.Join(tmp, lockFileName))
}

// replaceDir puts the tree at tmp in dir's place and removes the old tree.
// Where the file system can (Linux's renameat2 RENAME_EXCHANGE), the two
// swap in one step, so dir is never missing; elsewhere dir is first renamed
// aside (".<base>.old-<random>", which removeStale leaves alone: if the
// process dies right then, that is the only whole copy) and then tmp over
// it. The parent is fsynced after. An error before the swap leaves dir as
// it was; after it, only a failed fsync of the parent is reported (dir then
// holds the new tree); the old tree is removed on a best-effort basis (a
// leftover at the restore- name goes with the next Restore's removeStale).
func replaceDir(tmp, dir string) error {
	switch err := exchange(tmp, dir); {
	case err == nil:
		// tmp now holds the old tree.
	case errors.Is(err, fs.ErrNotExist):
		// No dir yet: a plain rename.
		if err := os.Rename(tmp, dir); err != nil {
			return err
		}
	case errors.Is(err, errors.ErrUnsupported):
		aside := filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".old-"+strings.TrimPrefix(filepath.Base(tmp), restorePrefix(dir)))
		if err := os.Rename(dir, aside); err != nil {
			return err
		}
		if err := os.Rename(tmp, dir); err != nil {
			if e := os.Rename(aside, dir); e != nil {
				return fmt.Errorf("%w (and putting the old dir back from %s: %w)", err, aside, e)
			}
			return err
		}
		tmp = aside
	default:
		return err
	}
	if err := diskio.SyncPath(filepath.Dir(dir)); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	// The new tree is in place; what is left at tmp is the old one.
	_ = os.RemoveAll(tmp)
	return nil
}
