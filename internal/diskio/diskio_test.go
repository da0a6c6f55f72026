package diskio

import (
	"os"
	"path/filepath"
	"testing"
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
