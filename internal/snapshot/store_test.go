package snapshot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestRoundTrip(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		src := filepath.Join(t.TempDir(), "src")
		buildProfile(t, src)
		saved, err := s.Save(t.Context(), "t1", src, r1)
		if err != nil {
			t.Fatal(err)
		}
		if saved.Tenant != "t1" || saved.Files != len(keptFiles) || saved.Bytes <= 0 || time.Since(saved.TakenAt) > time.Minute {
			t.Errorf("Save = %+v, want tenant t1, %d files, some bytes, taken now", saved, len(keptFiles))
		}
		newest, err := s.Newest(t.Context(), "t1")
		if err != nil {
			t.Fatal(err)
		}
		if !newest.TakenAt.Equal(saved.TakenAt) || newest.Bytes != saved.Bytes || newest.Files != saved.Files || newest.Tenant != "t1" {
			t.Errorf("Newest = %+v, Save returned %+v", newest, saved)
		}

		dst := filepath.Join(t.TempDir(), "dst") // does not exist yet
		restored, err := s.Restore(t.Context(), "t1", dst, r1)
		if err != nil {
			t.Fatal(err)
		}
		if !restored.TakenAt.Equal(saved.TakenAt) || restored.Bytes != saved.Bytes || restored.Files != saved.Files {
			t.Errorf("Restore = %+v, Save returned %+v", restored, saved)
		}
		got := readTree(t, dst)
		for name, data := range keptFiles {
			n, ok := got[name]
			switch {
			case !ok:
				t.Errorf("%s: missing after restore", name)
			case n.data != data:
				t.Errorf("%s = %q, want %q", name, n.data, data)
			case n.mode != 0o600:
				t.Errorf("%s: mode %v, want 0600", name, n.mode)
			case !n.mtime.Equal(mtime):
				t.Errorf("%s: mtime %v, want %v", name, n.mtime, mtime)
			}
		}
		for name, n := range got {
			if n.mode.IsDir() {
				if n.mode.Perm() != 0o700 {
					t.Errorf("%s/: mode %v, want 0700", name, n.mode)
				}
				continue
			}
			if _, ok := keptFiles[name]; !ok {
				t.Errorf("%s (%v): restored, but should have been left out", name, n.mode)
			}
		}
		if info, err := os.Stat(dst); err != nil || info.Mode().Perm() != 0o700 {
			t.Errorf("dst: %v, %v; want a 0700 dir", info, err)
		}
		if left := siblings(t, dst); len(left) != 0 {
			t.Errorf("left next to dst: %q", left)
		}
	})
}

func TestRestoreReplacesDir(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		src := filepath.Join(t.TempDir(), "src")
		writeFiles(t, src, map[string]string{"Local State": "new", "Default/Cookies": "new cookies"})
		if _, err := s.Save(t.Context(), "t1", src, r1); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(t.TempDir(), "dst")
		writeFiles(t, dst, map[string]string{
			"Local State":          "old",
			"Default/Cookies":      "old cookies",
			"Default/Old/file":     "old",
			"Default/GPUCache/old": "old cache",
		})
		if _, err := s.Restore(t.Context(), "t1", dst, r1); err != nil {
			t.Fatal(err)
		}
		got := readTree(t, dst)
		want := map[string]string{"Local State": "new", "Default/Cookies": "new cookies"}
		for name, n := range got {
			if n.mode.IsDir() {
				continue
			}
			if w, ok := want[name]; !ok || w != n.data {
				t.Errorf("%s = %q after restore, want %q (present: %v)", name, n.data, w, ok)
			}
		}
		if len(got) != 3 { // Default/, and the two files
			t.Errorf("restored tree: %v", got)
		}
		if left := siblings(t, dst); len(left) != 0 {
			t.Errorf("left next to dst: %q", left)
		}
	})
}

func TestFailedRestoreKeepsDir(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		src := filepath.Join(t.TempDir(), "src")
		buildProfile(t, src)
		if _, err := s.Save(t.Context(), "good", src, r1); err != nil {
			t.Fatal(err)
		}
		whole, err := s.bucket.ReadAll(t.Context(), key("good", r1))
		if err != nil {
			t.Fatal(err)
		}
		flipped := bytes.Clone(whole)
		flipped[len(flipped)/2] ^= 0x55
		cases := map[string][]byte{
			"garbage":       []byte("this is not a zstd stream"),
			"truncated":     whole[:len(whole)*2/3],
			"flipped byte":  flipped,
			"no manifest":   makeArchive(t, manifest{}, rawEntry{hdr: tarReg("Local State"), data: "x"}),
			"other tenant":  makeArchive(t, manifest{Format: formatVersion, Tenant: "good", Gen: 1, Epoch: 1, Files: 0}),
			"file count":    makeArchive(t, manifest{Format: formatVersion, Tenant: "t1", Gen: 1, Epoch: 1, Files: 5}, rawEntry{hdr: tarReg("Local State"), data: "x"}),
			"future format": makeArchive(t, manifest{Format: 99, Tenant: "t1", Gen: 1, Epoch: 1}),
			"old format":    makeArchive(t, manifest{Format: 1, Tenant: "t1"}),
			"other gen":     makeArchive(t, manifest{Format: formatVersion, Tenant: "t1", Gen: 2, Epoch: 1}),
			"other epoch":   makeArchive(t, manifest{Format: formatVersion, Tenant: "t1", Gen: 1, Epoch: 7}),
		}
		for name, data := range cases {
			t.Run(name, func(t *testing.T) {
				dst := filepath.Join(t.TempDir(), "dst")
				old := map[string]string{"Local State": "old", "Default/Cookies": "old cookies"}
				writeFiles(t, dst, old)
				before := readTree(t, dst)
				upload(t, s, "t1", data)
				_, err := s.Restore(t.Context(), "t1", dst, r1)
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Restore = %v, want ErrCorrupt", err)
				}
				if !strings.Contains(err.Error(), `"t1"`) {
					t.Errorf("error %q does not quote the tenant", err)
				}
				if after := readTree(t, dst); !sameTree(before, after) {
					t.Errorf("dst changed by a failed restore: %v, was %v", after, before)
				}
				if left := siblings(t, dst); len(left) != 0 {
					t.Errorf("left next to dst: %q", left)
				}
			})
		}
	})
}

func sameTree(a, b map[string]node) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestRestoreCancelled(t *testing.T) {
	s := openStore(t, "mem://")
	src := filepath.Join(t.TempDir(), "src")
	buildProfile(t, src)
	if _, err := s.Save(t.Context(), "t1", src, r1); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	writeFiles(t, dst, map[string]string{"Local State": "old"})
	before := readTree(t, dst)
	n := 5 // a few entries in
	ctx := countdownCtx{Context: t.Context(), n: &n}
	if _, err := s.Restore(ctx, "t1", dst, r1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Restore = %v, want context.Canceled", err)
	}
	if after := readTree(t, dst); !sameTree(before, after) {
		t.Errorf("dst changed by a cancelled restore: %v", after)
	}
	if left := siblings(t, dst); len(left) != 0 {
		t.Errorf("left next to dst: %q", left)
	}
}

func TestNewestSaveDelete(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		if _, err := s.Newest(ctx, "t1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Newest of nothing = %v, want ErrNotFound", err)
		}
		if _, err := s.Restore(ctx, "t1", filepath.Join(t.TempDir(), "dst"), r1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Restore of nothing = %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "t1"); err != nil {
			t.Fatalf("Delete of nothing = %v", err)
		}

		src := filepath.Join(t.TempDir(), "src")
		writeFiles(t, src, map[string]string{"Local State": "first"})
		first, err := s.Save(ctx, "t1", src, r1)
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, src, map[string]string{"Local State": "second", "Default/Cookies": "c"})
		second, err := s.Save(ctx, "t1", src, r2)
		if err != nil {
			t.Fatal(err)
		}
		if !second.TakenAt.After(first.TakenAt) || second.Files != 2 {
			t.Fatalf("second Save = %+v after %+v", second, first)
		}
		newest, err := s.Newest(ctx, "t1")
		if err != nil {
			t.Fatal(err)
		}
		if newest != second {
			t.Errorf("Newest = %+v, want the second Save's %+v", newest, second)
		}
		dst := filepath.Join(t.TempDir(), "dst")
		if _, err := s.Restore(ctx, "t1", dst, r2); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(dst, "Local State")); string(b) != "second" {
			t.Errorf("restored Local State = %q, want the second's", b)
		}

		// A tenant whose id extends another's keeps its snapshot.
		if _, err := s.Save(ctx, "t10", src, r1); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "t1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Newest(ctx, "t1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Newest after Delete = %v, want ErrNotFound", err)
		}
		if _, err := s.Newest(ctx, "t10"); err != nil {
			t.Errorf("Newest of t10 after Delete of t1 = %v", err)
		}
		if err := s.Delete(ctx, "t1"); err != nil {
			t.Errorf("second Delete = %v", err)
		}
	})
}

func TestSaveAbortKeepsPrevious(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		src := filepath.Join(t.TempDir(), "src")
		buildProfile(t, src)
		prev, err := s.Save(t.Context(), "t1", src, r1)
		if err != nil {
			t.Fatal(err)
		}
		// How often a whole Save asks its ctx; then cancel two asks before
		// the end: after scan, half-way through the upload.
		n := 1 << 30
		if _, err := s.Save(countdownCtx{Context: t.Context(), n: &n}, "t0", src, r1); err != nil {
			t.Fatal(err)
		}
		asks := 1<<30 - n
		writeFiles(t, src, map[string]string{"Local State": "changed"})
		n = asks - 2
		ctx := countdownCtx{Context: t.Context(), n: &n}
		if _, err := s.Save(ctx, "t1", src, r2); !errors.Is(err, context.Canceled) {
			t.Fatalf("Save = %v, want context.Canceled", err)
		}
		if got, err := s.Newest(t.Context(), "t1"); err != nil || got != prev {
			t.Errorf("Newest after an aborted Save = %+v, %v; want the previous %+v", got, err, prev)
		}
		dst := filepath.Join(t.TempDir(), "dst")
		if _, err := s.Restore(t.Context(), "t1", dst, r1); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(dst, "Local State")); string(b) != keptFiles["Local State"] {
			t.Errorf("restored Local State = %q, want the previous snapshot's", b)
		}
	})
}

func TestInvalidTenant(t *testing.T) {
	s := openStore(t, "mem://")
	dir := t.TempDir()
	for _, id := range []string{"", "../x", "a/b", "-a", ".", strings.Repeat("a", 65)} {
		if _, err := s.Save(t.Context(), id, dir, r1); err == nil {
			t.Errorf("Save(%q) succeeded", id)
		}
		if _, err := s.Newest(t.Context(), id); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Newest(%q) = %v, want an invalid-id error", id, err)
		}
		if _, err := s.Restore(t.Context(), id, filepath.Join(dir, "x"), r1); err == nil {
			t.Errorf("Restore(%q) succeeded", id)
		}
		if err := s.Delete(t.Context(), id); err == nil {
			t.Errorf("Delete(%q) succeeded", id)
		}
	}
}

func TestSaveMissingDir(t *testing.T) {
	s := openStore(t, "mem://")
	if _, err := s.Save(t.Context(), "t1", filepath.Join(t.TempDir(), "nope"), r1); err == nil {
		t.Fatal("Save of a missing dir succeeded")
	}
	if _, err := s.Newest(t.Context(), "t1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Newest = %v, want ErrNotFound", err)
	}
}

// TestRestoreKeepsProfileLock: the runner holds the flock on the profile's
// .wapool.lock while it restores; after the swap the lock file in the new
// tree is the same file, still locked.
func TestRestoreKeepsProfileLock(t *testing.T) {
	s := openStore(t, "mem://")
	src := filepath.Join(t.TempDir(), "src")
	writeFiles(t, src, map[string]string{"Local State": "new", lockFileName: "someone else's"})
	if _, err := s.Save(t.Context(), "t1", src, r1); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	writeFiles(t, dst, map[string]string{"Local State": "old"})
	lock, err := os.OpenFile(filepath.Join(dst, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Restore(t.Context(), "t1", dst, r1); err != nil {
		t.Fatal(err)
	}
	held, _ := lock.Stat()
	now, err := os.Stat(filepath.Join(dst, lockFileName))
	if err != nil || !os.SameFile(held, now) {
		t.Fatalf("lock file after restore: %v, %v; want the held one", now, err)
	}
	other, err := os.Open(filepath.Join(dst, lockFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := unix.Flock(int(other.Fd()), unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Errorf("second flock after restore = %v, want EWOULDBLOCK", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "Local State")); string(b) != "new" {
		t.Errorf("Local State = %q", b)
	}
}

// TestRestoreRemovesStale: a Restore that died half-way left its temp dir;
// the next one removes it.
func TestRestoreRemovesStale(t *testing.T) {
	s := openStore(t, "mem://")
	src := filepath.Join(t.TempDir(), "src")
	writeFiles(t, src, map[string]string{"Local State": "x"})
	if _, err := s.Save(t.Context(), "t1", src, r1); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	writeFiles(t, filepath.Dir(dst), map[string]string{".dst.restore-123/Default/Cookies": "half", "other/keep": "k"})
	if _, err := s.Restore(t.Context(), "t1", dst, r1); err != nil {
		t.Fatal(err)
	}
	if left := siblings(t, dst); len(left) != 1 || left[0] != "other" {
		t.Errorf("next to dst: %q, want only other", left)
	}
}
