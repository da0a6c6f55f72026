package snapshot

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// sealedPair saves a profile as t1's first snapshot in a sealed store on a
// file:// bucket and returns the bucket's URL and the object's bytes.
func sealedSave(t *testing.T, keys ...*age.X25519Identity) (string, *Store) {
	t.Helper()
	u := (&url.URL{Scheme: "file", Path: t.TempDir()}).String()
	s := openStoreWith(t, u, Options{Keys: keys})
	src := filepath.Join(t.TempDir(), "src")
	buildProfile(t, src)
	if _, err := s.Save(t.Context(), "t1", src, r1); err != nil {
		t.Fatal(err)
	}
	return u, s
}

// refused checks that a Restore into a dir with a profile failed with
// ErrCorrupt and left the dir as it was.
func refused(t *testing.T, s *Store, tenant string, ref Ref) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "dst")
	writeFiles(t, dst, map[string]string{"Local State": "old"})
	before := readTree(t, dst)
	_, err := s.Restore(t.Context(), tenant, dst, ref)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Restore(%s, %s) = %v, want ErrCorrupt", tenant, ref, err)
	}
	if after := readTree(t, dst); !sameTree(before, after) {
		t.Errorf("dst changed by a refused restore: %v", after)
	}
	if left := siblings(t, dst); len(left) != 0 {
		t.Errorf("left next to dst: %q", left)
	}
}

// A sealed snapshot opens only with its key: not with another key, not in
// a plaintext store; a store holding the new key first and the old one
// after opens it, and seals new snapshots with the new key only.
func TestSealedSnapshotNeedsItsKey(t *testing.T) {
	u, _ := sealedSave(t, testKey)
	refused(t, openStoreWith(t, u, Options{Keys: []*age.X25519Identity{otherKey}}), "t1", r1)
	refused(t, openStore(t, u), "t1", r1)

	rotated := openStoreWith(t, u, Options{Keys: []*age.X25519Identity{otherKey, testKey}})
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := rotated.Restore(t.Context(), "t1", dst, r1); err != nil {
		t.Fatalf("Restore with the old key second: %v", err)
	}
	if _, err := rotated.Save(t.Context(), "t1", dst, r2); err != nil {
		t.Fatal(err)
	}
	refused(t, openStoreWith(t, u, Options{Keys: []*age.X25519Identity{testKey}}), "t1", r2)
	if _, err := openStoreWith(t, u, Options{Keys: []*age.X25519Identity{otherKey}}).Restore(t.Context(), "t1", filepath.Join(t.TempDir(), "d"), r2); err != nil {
		t.Errorf("Restore of the new snapshot with the new key alone: %v", err)
	}
	// The bytes on disk are not the archive: no file name of the profile
	// shows.
	b, err := os.ReadFile(filepath.Join(strings.TrimPrefix(u, "file://"), "t1", "1-1.snap"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "Local State") || strings.Contains(string(b), manifestName) {
		t.Error("the sealed object shows the profile's file names")
	}
}

// A snapshot copied under another tenant's key, or put where a newer
// generation of its own tenant is expected (a rollback), is refused: the
// tenant, generation and epoch are bound into its tag and its manifest.
func TestSealedSnapshotIsBoundToTenantAndGeneration(t *testing.T) {
	for _, sealed := range []bool{true, false} {
		name := map[bool]string{true: "age", false: "plain"}[sealed]
		t.Run(name, func(t *testing.T) {
			var s *Store
			if sealed {
				_, s = sealedSave(t, testKey)
			} else {
				s = openStore(t, "mem://")
				src := filepath.Join(t.TempDir(), "src")
				buildProfile(t, src)
				if _, err := s.Save(t.Context(), "t1", src, r1); err != nil {
					t.Fatal(err)
				}
			}
			data, err := s.bucket.ReadAll(t.Context(), key("t1", r1))
			if err != nil {
				t.Fatal(err)
			}
			for _, to := range []struct {
				tenant string
				ref    Ref
			}{{"t2", r1}, {"t1", r2}, {"t1", Ref{Gen: 1, Epoch: 2}}} {
				if err := s.bucket.WriteAll(t.Context(), key(to.tenant, to.ref), data, nil); err != nil {
					t.Fatal(err)
				}
				refused(t, s, to.tenant, to.ref)
			}
		})
	}
}

// A store without keys must say so.
func TestOpenWithoutKey(t *testing.T) {
	if _, err := Open(t.Context(), "mem://", Options{}); !errors.Is(err, ErrNoKey) {
		t.Errorf("Open with no key and no Unencrypted = %v, want ErrNoKey", err)
	}
}

// On file://, what a Save writes is private: objects and their attribute
// files 0600, the dirs it creates 0700.
func TestFileBucketIsPrivate(t *testing.T) {
	root := t.TempDir()
	s := openStoreWith(t, (&url.URL{Scheme: "file", Path: root}).String(), Options{Keys: []*age.X25519Identity{testKey}})
	src := filepath.Join(t.TempDir(), "src")
	buildProfile(t, src)
	if _, err := s.Save(t.Context(), "t1", src, r1); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Prune removes the older snapshots and those of the same generation from
// another epoch (never recorded), and keeps newer ones: a node that prunes
// late never removes what the next holder stored.
func TestPruneKeepsNewer(t *testing.T) {
	s := openStore(t, "mem://")
	src := filepath.Join(t.TempDir(), "src")
	writeFiles(t, src, map[string]string{"Local State": "x"})
	refs := []Ref{{1, 1}, {2, 1}, {2, 3}, {3, 3}}
	for _, r := range refs {
		if _, err := s.Save(t.Context(), "t1", src, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Prune(t.Context(), "t1", Ref{2, 1}); err != nil {
		t.Fatal(err)
	}
	got, err := s.refs(t.Context(), "t1")
	if err != nil {
		t.Fatal(err)
	}
	left := map[Ref]bool{}
	for _, r := range got {
		left[r] = true
	}
	if len(left) != 2 || !left[Ref{2, 1}] || !left[Ref{3, 3}] {
		t.Errorf("after Prune keeping gen 2 epoch 1: %v, want gen 2 epoch 1 and gen 3", got)
	}
	if n, err := s.Newest(t.Context(), "t1"); err != nil || n.Ref != (Ref{3, 3}) {
		t.Errorf("Newest = %+v, %v; want gen 3", n, err)
	}
}

func TestParseKeys(t *testing.T) {
	keys, err := ParseKeys(strings.NewReader("# new\n" + otherKey.String() + "\n\n# old\n" + testKey.String() + "\n"))
	if err != nil || len(keys) != 2 || keys[0].String() != otherKey.String() {
		t.Fatalf("ParseKeys = %d keys, %v", len(keys), err)
	}
	for _, bad := range []string{"", "# only a comment\n", "AGE-SECRET-KEY-1NOTAKEY\n", otherKey.Recipient().String()} {
		if _, err := ParseKeys(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseKeys(%q) succeeded", bad)
		} else if strings.Contains(err.Error(), "NOTAKEY") {
			t.Errorf("the error quotes the secret line: %v", err)
		}
	}
	p := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(p, []byte(testKey.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeys(p); err == nil {
		t.Error("LoadKeys of a file readable by others succeeded")
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeys(p); err != nil {
		t.Error(err)
	}
}
