package sessionstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wapool/wapool/sessionstore"
)

var tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

func TestValidateTenantID(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		id string
		ok bool
	}{
		{"5", true},
		{"42", true},
		{"acme", true},
		{"Acme-Shop_2", true},
		{"a-", true},
		{"Z_", true},
		{long, true},
		{long + "a", false},
		{"", false},
		{"-a", false},
		{"_a", false},
		{".", false},
		{"..", false},
		{"a.b", false},
		{"a/b", false},
		{"../etc", false},
		{"a b", false},
		{" a", false},
		{"a\n", false},
		{"a\x00", false},
		{"é", false},
		{"a\\b", false},
		{"~root", false},
	}
	for _, tt := range tests {
		err := sessionstore.ValidateTenantID(tt.id)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateTenantID(%q) = %v, want ok=%v", tt.id, err, tt.ok)
		}
		if err != nil {
			if !errors.Is(err, sessionstore.ErrInvalidTenantID) {
				t.Errorf("ValidateTenantID(%q) = %v, does not wrap ErrInvalidTenantID", tt.id, err)
			}
			if !strings.Contains(err.Error(), strconv.Quote(tt.id)) {
				t.Errorf("ValidateTenantID(%q) = %v, does not quote the id", tt.id, err)
			}
		}
		if got := tenantIDPattern.MatchString(tt.id); got != tt.ok {
			t.Errorf("table row %q disagrees with the regexp", tt.id)
		}
	}
}

// FuzzTenantID: ValidateTenantID accepts exactly the pattern, and an accepted
// id never escapes ProfilesDir.
func FuzzTenantID(f *testing.F) {
	for _, seed := range []string{"5", "acme", "a-b_c", "", "..", "../x", "a/b", "-a", "a\x00b", "/", ".", strings.Repeat("z", 65)} {
		f.Add(seed)
	}
	s, err := sessionstore.Open(sessionstore.Options{DataDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	root := s.ProfilesDir()
	f.Fuzz(func(t *testing.T, id string) {
		err := sessionstore.ValidateTenantID(id)
		if match := tenantIDPattern.MatchString(id); (err == nil) != match {
			t.Fatalf("ValidateTenantID(%q) = %v, regexp match = %v", id, err, match)
		}
		p, perr := s.ProfileDir(id)
		if err != nil {
			if !errors.Is(err, sessionstore.ErrInvalidTenantID) || !errors.Is(perr, sessionstore.ErrInvalidTenantID) {
				t.Fatalf("rejected %q with %v / ProfileDir %v: want ErrInvalidTenantID", id, err, perr)
			}
			return
		}
		if strings.Contains(id, "/") || strings.Contains(id, "..") || id == "." {
			t.Fatalf("accepted %q", id)
		}
		if perr != nil || filepath.Dir(p) != root || filepath.Base(p) != id || !strings.HasPrefix(p, root+string(os.PathSeparator)) {
			t.Fatalf("ProfileDir(%q) = %q, %v: not directly inside %q", id, p, perr, root)
		}
	})
}

// FuzzProfileDir: every path the store derives from a tenant id is either
// refused or a direct, clean child of its parent directory.
func FuzzProfileDir(f *testing.F) {
	for _, seed := range []string{"5", "../../etc/passwd", "a/../../b", "a\\..\\b", "%2e%2e", strings.Repeat("x", 64)} {
		f.Add(seed)
	}
	s, err := sessionstore.Open(sessionstore.Options{DataDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	parents := map[string]func(string) (string, error){
		s.ProfilesDir():                                        s.ProfileDir,
		filepath.Join(s.DataDir(), "cache"):                    s.CacheDir,
		filepath.Join(s.DataDir(), "tmp") + "|" + os.TempDir(): s.TmpDir,
	}
	f.Fuzz(func(t *testing.T, id string) {
		valid := sessionstore.ValidateTenantID(id) == nil
		for parent, fn := range parents {
			p, err := fn(id)
			if !valid {
				if !errors.Is(err, sessionstore.ErrInvalidTenantID) || p != "" {
					t.Fatalf("%q: got %q, %v; want ErrInvalidTenantID", id, p, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%q: %v", id, err)
			}
			if filepath.Clean(p) != p || !strings.Contains("|"+parent+"|", "|"+filepath.Dir(p)+"|") {
				t.Fatalf("%q: %q is not a clean child of %q", id, p, parent)
			}
		}
	})
}
