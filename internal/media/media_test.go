package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/wapool/wapool/internal/diskio"
)

func newKey(t *testing.T) *age.X25519Identity {
	t.Helper()
	k, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func open(t *testing.T, cfg Config) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(t.TempDir(), "media")
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// payload is n bytes that differ from one seed to the next.
func payload(seed byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func put(t *testing.T, s *Store, data []byte) string {
	t.Helper()
	sha, release, err := s.Put(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	release()
	return sha
}

func mtime(t *testing.T, p string) time.Time {
	t.Helper()
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return info.ModTime()
}

// setOld makes a file look written long ago.
func setOld(t *testing.T, p string) time.Time {
	t.Helper()
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	return mtime(t, p)
}

func TestPutStoresByHash(t *testing.T) {
	s := open(t, Config{})
	data := payload(1, 100_000)
	sha := put(t, s, data)
	if sha != hashOf(data) {
		t.Fatalf("Put = %s, want %s", sha, hashOf(data))
	}
	p, err := s.Local(context.Background(), sha)
	if err != nil || p != filepath.Join(s.cfg.Dir, sha) {
		t.Fatalf("Local = %q, %v", p, err)
	}
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the file holds %d bytes (%v), want the %d put", len(got), err, len(data))
	}
	if m := mtime(t, p); m.IsZero() {
		t.Fatal("no mtime")
	}
	for path, want := range map[string]os.FileMode{p: 0o600, s.cfg.Dir: 0o700} {
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, info.Mode().Perm(), err, want)
		}
	}
	// The same bytes again: not written again (the file keeps its old mtime).
	old := setOld(t, p)
	if again := put(t, s, data); again != sha || !mtime(t, p).Equal(old) {
		t.Fatalf("second Put = %s, mtime %v; want %s untouched (%v)", again, mtime(t, p), sha, old)
	}
	if entries, _ := os.ReadDir(s.cfg.Dir); len(entries) != 1 {
		t.Fatalf("Dir holds %d entries, want the one file", len(entries))
	}
	if _, _, err := s.Put(context.Background(), nil); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Put of no bytes: %v, want ErrEmpty", err)
	}
	if _, err := s.Local(context.Background(), strings.Repeat("0", 64)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Local of unknown bytes: %v, want ErrNotFound", err)
	}
	if _, err := s.Local(context.Background(), "../../etc/passwd"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Local of a path: %v, want ErrNotFound", err)
	}
}

// The file is fsynced before its rename, and the dir after it, all before
// Put returns.
func TestPutIsDurableBeforeItReturns(t *testing.T) {
	s := open(t, Config{})
	data := payload(2, 4096)
	final := filepath.Join(s.cfg.Dir, hashOf(data))
	syncs := watchSyncs(t, s, final, len(data))
	put(t, s, data)
	if got := syncs(); got != "file,dir" {
		t.Fatalf("syncs: %q, want the file then the dir", got)
	}
}

// watchSyncs watches the fsyncs of s until the test ends, for a write of
// size bytes meant to end at final; what it returns tells them so far:
// "file" (every byte written, not renamed yet), "dir" (after the rename),
// or what was out of order, joined by commas.
func watchSyncs(t *testing.T, s *Store, final string, size int) func() string {
	t.Helper()
	var mu sync.Mutex
	var events []string
	oldFile, oldDir := syncFile, syncDir
	t.Cleanup(func() { syncFile, syncDir = oldFile, oldDir })
	syncFile = func(f *os.File) error {
		mu.Lock()
		defer mu.Unlock()
		info, err := f.Stat()
		_, finalErr := os.Stat(final)
		switch {
		case err != nil || info.Size() != int64(size):
			events = append(events, "file synced before it holds every byte")
		case finalErr == nil:
			events = append(events, "file synced after the rename")
		default:
			events = append(events, "file")
		}
		return f.Sync()
	}
	syncDir = func(dir string) error {
		mu.Lock()
		defer mu.Unlock()
		if _, err := os.Stat(final); err != nil || dir != s.cfg.Dir {
			events = append(events, "dir synced before the rename, or another dir")
		} else {
			events = append(events, "dir")
		}
		return diskio.SyncPath(dir)
	}
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(events, ",")
	}
}

func TestCheckFilename(t *testing.T) {
	for _, ok := range []string{"invoice.pdf", "Rechnung März 2026.pdf", "a", "..a", "report..final.txt", ".hidden", strings.Repeat("x", MaxFilenameLen)} {
		if err := CheckFilename(ok); err != nil {
			t.Errorf("CheckFilename(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "  ", ".", "..", "a/b.pdf", "/etc/passwd", `C:\x.pdf`, "../x", "a\x00b", "a\nb", "tab\t", "\x7f", "\xff\xfe", strings.Repeat("x", MaxFilenameLen+1)} {
		if err := CheckFilename(bad); !errors.Is(err, ErrBadFilename) {
			t.Errorf("CheckFilename(%q) = %v, want ErrBadFilename", bad, err)
		}
	}
}

func TestSniff(t *testing.T) {
	jpeg := []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00")
	webp := []byte("RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00")
	pdf := []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n")
	gif := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00")
	for _, c := range []struct {
		data    []byte
		mime    string
		picture bool
	}{
		{jpeg, "image/jpeg", true},
		{png, "image/png", true},
		{webp, "image/webp", true},
		{pdf, "application/pdf", false},
		{gif, "image/gif", false},
		{[]byte("plain words\n"), "text/plain; charset=utf-8", false},
		{[]byte{0x00, 0x01, 0x02, 0xfe}, "application/octet-stream", false},
	} {
		if got := Sniff(c.data); got != c.mime || IsPicture(got) != c.picture {
			t.Errorf("Sniff(%q) = %q (picture %v), want %q (%v)", c.data[:min(8, len(c.data))], got, IsPicture(got), c.mime, c.picture)
		}
	}
}
