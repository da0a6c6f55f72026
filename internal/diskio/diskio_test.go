package diskio

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"gocloud.dev/blob"
)

func TestSyncPath(t *testing.T) {
	dir := t.TempDir()
	if err := SyncPath(dir); err != nil {
		t.Errorf("SyncPath(dir): %v", err)
	}
	if err := SyncPath(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("SyncPath(missing) = %v, want not exist", err)
	}
}

func TestPrivateTemp(t *testing.T) {
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "tmp"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	asFile := func(v any) bool {
		p, ok := v.(**os.File)
		if ok {
			*p = f
		}
		return ok
	}
	if err := PrivateTemp(asFile); err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if err := PrivateTemp(func(any) bool { return false }); err != nil {
		t.Errorf("a driver with no file: %v", err)
	}
}

func TestOpenBucket(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, root, err := OpenBucket(ctx, "file://"+filepath.ToSlash(dir)+"?prefix=p/")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if want := filepath.Join(dir, "p"); root != want {
		t.Errorf("root %q, want %q", root, want)
	}
	if err := b.WriteAll(ctx, "t/obj", []byte("x"), &blob.WriterOptions{BeforeWrite: PrivateTemp}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "p", "t"), filepath.Join(dir, "p", "t", "obj")} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if st.IsDir() {
			want = 0o700
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}
	m, root, err := OpenBucket(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if root != "" {
		t.Errorf("mem:// root %q, want none", root)
	}
	if _, _, err := OpenBucket(ctx, "nosuch://x"); err == nil {
		t.Error("an unknown scheme opened")
	}
}
