package snapshot

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func tarReg(name string) tar.Header {
	return tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600}
}

// TestRestoreRefusesEscapes: hand-made archives whose entries would land
// outside the profile dir are refused whole, and nothing is written outside
// (nor inside: dst stays as it was).
func TestRestoreRefusesEscapes(t *testing.T) {
	s := openStore(t, "mem://")
	base := t.TempDir()
	dst := filepath.Join(base, "parent", "dst")
	outside := filepath.Join(base, "outside") // where an escape would write
	m := manifest{Format: formatVersion, Tenant: "t1", Gen: 1, Epoch: 1, Files: 1}
	ok := rawEntry{hdr: tarReg("Local State"), data: "fine"}
	cases := map[string][]rawEntry{
		"dot-dot":          {ok, {hdr: tarReg("../../outside"), data: "x"}},
		"dot-dot inside":   {ok, {hdr: tarReg("Default/../../../outside"), data: "x"}},
		"absolute":         {ok, {hdr: tarReg(outside), data: "x"}},
		"dir dot-dot":      {ok, {hdr: tar.Header{Name: "../../outside/", Typeflag: tar.TypeDir, Mode: 0o700}}},
		"symlink out":      {ok, {hdr: tar.Header{Name: "Default", Typeflag: tar.TypeSymlink, Linkname: filepath.Join(base, "outside")}}, {hdr: tarReg("Default/Cookies"), data: "x"}},
		"symlink relative": {ok, {hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "../../outside"}}, {hdr: tarReg("link/x"), data: "x"}},
		"symlink inside":   {ok, {hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "Local State"}}},
		"hard link":        {ok, {hdr: tar.Header{Name: "passwd", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}},
		"device":           {ok, {hdr: tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}},
		"fifo":             {ok, {hdr: tar.Header{Name: "fifo", Typeflag: tar.TypeFifo}}},
		"empty name":       {ok, {hdr: tarReg(""), data: "x"}},
		"backslash":        {ok, {hdr: tarReg(`..\..\outside`), data: "x"}},
		"duplicate":        {ok, ok},
		"second manifest":  {ok, {hdr: tarReg(manifestName), data: "{}"}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			os.RemoveAll(filepath.Join(base, "parent"))
			writeFiles(t, dst, map[string]string{"Local State": "old"})
			before := readTree(t, dst)
			upload(t, s, "t1", makeArchive(t, m, entries...))
			_, err := s.Restore(t.Context(), "t1", dst, r1)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Restore = %v, want ErrCorrupt", err)
			}
			if _, err := os.Lstat(outside); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s exists after a refused restore", outside)
			}
			if got := readTree(t, base); len(got) != 3 { // parent/, parent/dst/, parent/dst/Local State
				t.Errorf("tree after a refused restore: %v", got)
			}
			if after := readTree(t, dst); !sameTree(before, after) {
				t.Errorf("dst changed: %v", after)
			}
		})
	}
}

// TestRestoreSkipsExcluded: an archive that carries what the table now
// excludes (an older table, or a hand-made one) restores without it.
func TestRestoreSkipsExcluded(t *testing.T) {
	s := openStore(t, "mem://")
	m := manifest{Format: formatVersion, Tenant: "t1", Gen: 1, Epoch: 1, Files: 3}
	upload(t, s, "t1", makeArchive(t, m,
		rawEntry{hdr: tarReg("Local State"), data: "kept"},
		rawEntry{hdr: tar.Header{Name: "Default/Cache/", Typeflag: tar.TypeDir, Mode: 0o700}},
		rawEntry{hdr: tarReg("Default/Cache/data_0"), data: "cache"},
		rawEntry{hdr: tar.Header{Name: "SingletonLock", Typeflag: tar.TypeSymlink, Linkname: "host-1"}},
		rawEntry{hdr: tarReg(lockFileName), data: "1"},
	))
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := s.Restore(t.Context(), "t1", dst, r1); err != nil {
		t.Fatal(err)
	}
	got := readTree(t, dst)
	if len(got) != 1 || got["Local State"].data != "kept" {
		t.Errorf("restored %v, want only Local State", got)
	}
}
