package sessionstore_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
)

func TestOpenCreatesPrivateDirsAndDB(t *testing.T) {
	data := filepath.Join(t.TempDir(), "var", "wapool")
	s := openStore(t, nil, sessionstore.Options{DataDir: data})
	if got := perm(t, data); got != 0o700 {
		t.Errorf("data dir mode %v, want 0700", got)
	}
	if got := perm(t, filepath.Join(data, "profiles")); got != 0o700 {
		t.Errorf("profiles dir mode %v, want 0700", got)
	}
	if got := perm(t, filepath.Join(data, sessionstore.DBFileName)); got != 0o600 {
		t.Errorf("db mode %v, want 0600", got)
	}
	if err := s.EnsureDirs("5"); err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirsOf(t, s, "5") {
		if got := perm(t, dir); got != 0o700 {
			t.Errorf("%s mode %v, want 0700", dir, got)
		}
	}
}

func dirsOf(t *testing.T, s *sessionstore.Store, id string) []string {
	t.Helper()
	var dirs []string
	for _, fn := range []func(string) (string, error){s.ProfileDir, s.CacheDir, s.TmpDir} {
		d, err := fn(id)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	return dirs
}

func TestOpenTightensExistingModes(t *testing.T) {
	data := t.TempDir()
	db := filepath.Join(data, sessionstore.DBFileName)
	s := openStore(t, nil, sessionstore.Options{DataDir: data})
	s.Close()
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	// An adopted Selenium-era profile, readable by everyone.
	old := filepath.Join(data, "profiles", "7")
	if err := os.MkdirAll(filepath.Join(old, "Default"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(old, 0o755); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, nil, sessionstore.Options{DataDir: data})
	if got := perm(t, db); got != 0o600 {
		t.Errorf("db mode after reopen %v, want 0600", got)
	}
	if err := s.EnsureDirs("7"); err != nil {
		t.Fatal(err)
	}
	if got := perm(t, old); got != 0o700 {
		t.Errorf("existing profile dir mode %v, want 0700", got)
	}
	if _, err := os.Stat(filepath.Join(old, "Default")); err != nil {
		t.Errorf("EnsureDirs lost the profile's content: %v", err)
	}
}

func TestOpenRefusesWorldWritableDirs(t *testing.T) {
	for _, which := range []string{"data", "profiles"} {
		t.Run(which, func(t *testing.T) {
			root := t.TempDir()
			data, profiles := filepath.Join(root, "data"), filepath.Join(root, "chrome_data")
			for _, d := range []string{data, profiles} {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			bad := data
			if which == "profiles" {
				bad = profiles
			}
			if err := os.Chmod(bad, 0o777); err != nil {
				t.Fatal(err)
			}
			s, err := sessionstore.Open(sessionstore.Options{DataDir: data, ProfilesDir: profiles})
			if err == nil {
				s.Close()
				t.Fatal("Open accepted a world-writable dir")
			}
			if !errors.Is(err, sessionstore.ErrInsecureDir) || !strings.Contains(err.Error(), bad) {
				t.Fatalf("Open: %v, want ErrInsecureDir naming %s", err, bad)
			}
			if _, err := os.Stat(filepath.Join(data, sessionstore.DBFileName)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("refused Open still created the db: %v", err)
			}
		})
	}
}

func TestOpenOptionsValidation(t *testing.T) {
	if _, err := sessionstore.Open(sessionstore.Options{}); err == nil {
		t.Error("Open without DataDir succeeded")
	}
	if _, err := sessionstore.Open(sessionstore.Options{DataDir: t.TempDir(), QueueLimit: -1}); err == nil {
		t.Error("Open with a negative QueueLimit succeeded")
	}
	for _, u := range []string{"mysql://wapool:s3cret@db/wapool", "bolt:///var/lib/wapool", "s3cret", "file:///tmp/x.db"} {
		s, err := sessionstore.Open(sessionstore.Options{DataDir: t.TempDir(), URL: u})
		if err == nil {
			s.Close()
			t.Errorf("Open with URL %q succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "postgres://") {
			t.Errorf("Open with URL %q: %v; want an error that names postgres:// and not the URL", u, err)
		}
	}
	// A postgres URL that cannot be parsed fails without quoting it.
	if _, err := sessionstore.Open(sessionstore.Options{DataDir: t.TempDir(), URL: "postgres://u:s3cret@host:notaport/db"}); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open with a bad postgres URL: %v", err)
	}
}

func TestOpenMakesPathsAbsolute(t *testing.T) {
	t.Chdir(t.TempDir())
	s := openStore(t, nil, sessionstore.Options{DataDir: "data"})
	p, err := s.ProfileDir("5")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(p) || !filepath.IsAbs(s.DataDir()) {
		t.Fatalf("ProfileDir %q / DataDir %q not absolute", p, s.DataDir())
	}
}

// bbolt flocks wapool.db; flock conflicts between open file descriptions, so
// a second Open fails even in the same process, after LockTimeout.
func TestSecondOpenSameProcessFailsFast(t *testing.T) {
	data := t.TempDir()
	openStore(t, nil, sessionstore.Options{DataDir: data})
	start := time.Now()
	s2, err := sessionstore.Open(sessionstore.Options{DataDir: data, LockTimeout: 200 * time.Millisecond})
	elapsed := time.Since(start)
	if err == nil {
		s2.Close()
		t.Fatal("second Open of the same db succeeded")
	}
	if !errors.Is(err, sessionstore.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if elapsed > 2*time.Second {
		t.Fatalf("second Open took %v with LockTimeout 200ms", elapsed)
	}
	t.Logf("second Open failed after %v: %v", elapsed, err)
}

func TestSecondOpenOtherProcessFailsFast(t *testing.T) {
	data := t.TempDir()
	s := openStore(t, nil, sessionstore.Options{DataDir: data})
	start := time.Now()
	if out := helper(t, "open", data, "", ""); out != "locked" {
		t.Fatalf("second daemon: %q, want locked", out)
	}
	t.Logf("second process saw the lock in %v (including process start)", time.Since(start))
	s.Close()
	if out := helper(t, "open", data, "", ""); out != "ok" {
		t.Fatalf("after Close, a second daemon: %q, want ok", out)
	}
}

// helper runs this test binary as another process (see runHelper).
func helper(t *testing.T, mode, data, profiles, tenant string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WAPOOL_STORE_HELPER="+mode, "WAPOOL_STORE_DATA="+data,
		"WAPOOL_STORE_PROFILES="+profiles, "WAPOOL_STORE_TENANT="+tenant)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper %s: %v (%s)", mode, err, out)
	}
	return string(out)
}

func TestTmpDirShortOrHashed(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	short := openStore(t, nil, sessionstore.Options{DataDir: filepath.Join(tmp, "d")})
	p, err := short.TmpDir("5")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(short.DataDir(), "tmp", "5"); p != want {
		t.Errorf("TmpDir = %q, want %q", p, want)
	}

	deep := filepath.Join(tmp, strings.Repeat("d", 60))
	long := openStore(t, nil, sessionstore.Options{DataDir: deep})
	id := strings.Repeat("t", 64)
	p1, err := long.TmpDir(id)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := long.TmpDir(id[:63])
	if filepath.Dir(p1) != tmp || !strings.HasPrefix(filepath.Base(p1), "wapool-") || len(filepath.Base(p1)) != len("wapool-")+8 {
		t.Errorf("TmpDir for a long path = %q, want %s/wapool-<8 hex>", p1, tmp)
	}
	if p1 == p2 {
		t.Errorf("two tenants share TmpDir %q", p1)
	}
	if err := long.EnsureDirs(id); err != nil {
		t.Fatal(err)
	}
	if got := perm(t, p1); got != 0o700 {
		t.Errorf("hashed tmp dir mode %v, want 0700", got)
	}
	if err := long.DeleteTenant(id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(p1); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("DeleteTenant left %s: %v", p1, err)
	}

	// In the shared temp dir, a planted symlink is refused…
	id2 := id[:62]
	p3, _ := long.TmpDir(id2)
	if err := os.Symlink(t.TempDir(), p3); err != nil {
		t.Fatal(err)
	}
	if err := long.EnsureDirs(id2); !errors.Is(err, sessionstore.ErrInsecureDir) {
		t.Errorf("EnsureDirs with a symlinked tmp dir: %v, want ErrInsecureDir", err)
	}
	// …and so is a dir owned by someone else (only root can set that up here).
	if os.Geteuid() == 0 {
		id3 := id[:61]
		p4, _ := long.TmpDir(id3)
		if err := os.Mkdir(p4, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p4, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if err := long.EnsureDirs(id3); !errors.Is(err, sessionstore.ErrInsecureDir) {
			t.Errorf("EnsureDirs with a foreign tmp dir: %v, want ErrInsecureDir", err)
		}
	}
}

func TestProfileBytes(t *testing.T) {
	s := openStore(t, nil, sessionstore.Options{})
	if n, err := s.ProfileBytes("5"); err != nil || n != 0 {
		t.Fatalf("ProfileBytes of a missing profile = %d, %v; want 0, nil", n, err)
	}
	if err := s.EnsureDirs("5"); err != nil {
		t.Fatal(err)
	}
	empty, err := s.ProfileBytes("5")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := s.ProfileDir("5")
	if err := os.WriteFile(filepath.Join(dir, "Cookies"), make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := s.ProfileBytes("5")
	if err != nil {
		t.Fatal(err)
	}
	if grew := n - empty; grew < 1<<20 || grew > 1<<20+64<<10 {
		t.Fatalf("ProfileBytes grew by %d after writing 1 MiB", grew)
	}
	if _, err := s.ProfileBytes("../5"); !errors.Is(err, sessionstore.ErrInvalidTenantID) {
		t.Fatalf("ProfileBytes(../5): %v", err)
	}
}
