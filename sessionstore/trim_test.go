package sessionstore_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wapool/wapool/sessionstore"
)

func TestTrimProfileKeepsLogin(t *testing.T) {
	s := openStore(t, nil, sessionstore.Options{})
	if err := s.EnsureDirs("t1"); err != nil {
		t.Fatal(err)
	}
	profile, _ := s.ProfileDir("t1")
	write := func(rel string) string {
		p := filepath.Join(profile, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, 64<<10), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gone := []string{
		write("Default/Cache/Cache_Data/data_1"),
		write("Default/Code Cache/js/abc"),
		write("Default/Service Worker/CacheStorage/x/y"),
		write("GrShaderCache/data_0"),
	}
	kept := []string{
		write("Default/Local Storage/leveldb/000003.log"),
		write("Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/000005.ldb"),
		write("Default/Cookies"),
		write("Local State"),
		write("Default/Service Worker/Database/MANIFEST-000001"),
	}
	before, _ := s.ProfileBytes("t1")
	freed, err := s.TrimProfile("t1")
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.ProfileBytes("t1")
	if freed < 4*(64<<10) || after != before-freed {
		t.Errorf("freed %d bytes; profile %d → %d", freed, before, after)
	}
	for _, p := range gone {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s survived the trim", p)
		}
	}
	for _, p := range kept {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the trim removed %s: %v", p, err)
		}
	}
	if _, err := s.TrimProfile("../x"); err == nil {
		t.Error("TrimProfile accepted a bad tenant id")
	}
}
