package media

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
)

// bucketDir makes a file:// bucket and returns its URL and dir.
func bucketDir(t *testing.T) (url, dir string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "bucket")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return "file://" + dir, dir
}

// object is the path of a file's object in a file:// bucket.
func object(dir, sha string) string { return filepath.Join(dir, "_media", sha) }

// Two nodes share a bucket: the one that took the Send uploads the file,
// sealed with the first key; the other fetches it into its own dir when it
// has none, and a node holding only an old key still opens it.
func TestSharedBucketSealed(t *testing.T) {
	url, bdir := bucketDir(t)
	k1, k2 := newKey(t), newKey(t)
	a := open(t, Config{Bucket: url, Keys: []*age.X25519Identity{k1}})
	b := open(t, Config{Bucket: url, Keys: []*age.X25519Identity{k2, k1}}) // rotated: k2 new, k1 still opens
	if !a.Shared() || !a.Encrypted() {
		t.Fatal("a store with a bucket and a key is neither shared nor encrypted")
	}
	data := bytes.Repeat([]byte("invoice 1042, line after line. "), 40_000) // 1.2 MB
	sha := put(t, a, data)

	raw, err := os.ReadFile(object(bdir, sha))
	if err != nil {
		t.Fatalf("the bucket has no object for the file: %v", err)
	}
	if !bytes.HasPrefix(raw, []byte("age-encryption.org/v1\n")) || bytes.Contains(raw, []byte("invoice 1042")) {
		t.Fatalf("the object (%d bytes) is not age-sealed, or shows the plaintext", len(raw))
	}
	if info, err := os.Stat(object(bdir, sha)); err != nil || info.Mode().Perm()&0o077 != 0 {
		t.Fatalf("the object's mode: %v, %v; want private", info.Mode(), err)
	}

	if _, err := os.Stat(filepath.Join(b.cfg.Dir, sha)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("node b has the file before it asked: %v", err)
	}
	p, err := b.Local(context.Background(), sha)
	if err != nil {
		t.Fatalf("Local on the other node: %v", err)
	}
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, data) || filepath.Dir(p) != b.cfg.Dir {
		t.Fatalf("fetched %d bytes into %s (%v), want the %d put, in b's dir", len(got), p, err, len(data))
	}
	if again, err := b.Local(context.Background(), sha); err != nil || again != p {
		t.Fatalf("Local again = %q, %v", again, err)
	}

	// A store whose keys do not open it is refused, and keeps nothing.
	c := open(t, Config{Bucket: url, Keys: []*age.X25519Identity{newKey(t)}})
	if _, err := c.Local(context.Background(), sha); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Local with another key: %v, want ErrCorrupt", err)
	}
	// So is a store without keys (the sealed bytes do not hash to the name).
	d := open(t, Config{Bucket: url, Unencrypted: true})
	if _, err := d.Local(context.Background(), sha); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Local of a sealed file without keys: %v, want ErrCorrupt", err)
	}
	for _, s := range []*Store{c, d} {
		if entries, _ := os.ReadDir(s.cfg.Dir); len(entries) != 0 {
			t.Fatalf("a refused fetch left %d entries in %s", len(entries), s.cfg.Dir)
		}
	}
	if _, err := b.Local(context.Background(), hashOf([]byte("never put"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Local of bytes nobody put: %v, want ErrNotFound", err)
	}
}

// Without keys the object is the plaintext; a tampered object is refused;
// the same bytes put again (an idempotent retry) are not uploaded again.
func TestSharedBucketPlain(t *testing.T) {
	url, bdir := bucketDir(t)
	a := open(t, Config{Bucket: url, Unencrypted: true})
	b := open(t, Config{Bucket: url, Unencrypted: true})
	if a.Encrypted() {
		t.Fatal("Encrypted without keys")
	}
	data := payload(3, 70_000)
	sha := put(t, a, data)
	obj := object(bdir, sha)
	if raw, err := os.ReadFile(obj); err != nil || !bytes.Equal(raw, data) {
		t.Fatalf("the object holds %d bytes (%v), want the plaintext", len(raw), err)
	}
	old := setOld(t, obj)
	if again := put(t, a, data); again != sha || !mtime(t, obj).Equal(old) {
		t.Fatal("the same bytes were uploaded again")
	}
	if again := put(t, b, data); again != sha || !mtime(t, obj).Equal(old) {
		t.Fatal("another node uploaded the same bytes again")
	}

	// Tampered with: refused, and nothing is put in place.
	other := put(t, a, payload(4, 10))
	if err := os.WriteFile(object(bdir, other), []byte("not the bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := open(t, Config{Bucket: url, Unencrypted: true})
	if _, err := c.Local(context.Background(), other); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Local of a tampered object: %v, want ErrCorrupt", err)
	}
	if _, err := os.Stat(filepath.Join(c.cfg.Dir, other)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the tampered bytes were put in place: %v", err)
	}
}

func TestOpenRefusesPlaintextBucketUnlessAsked(t *testing.T) {
	url, _ := bucketDir(t)
	if _, err := Open(context.Background(), Config{Dir: t.TempDir(), Bucket: url}); err == nil {
		t.Fatal("Open of a bucket without keys nor Unencrypted succeeded")
	}
}
