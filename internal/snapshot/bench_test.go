package snapshot

import (
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
)

// BenchmarkSnapshot times Save and Restore on file:// of a real Chromium
// profile after one graceful start and stop ("fresh"), then of the same
// profile plus 5 MiB of random (incompressible, like LevelDB's compressed
// tables) IndexedDB data ("idb5MiB"), each in plaintext ("plain") and
// sealed with age and its tag ("age"). It reports the object's size, the
// profile's size on disk (caches included) and the milliseconds of one
// Save and one Restore (which fsyncs every file).
func BenchmarkSnapshot(b *testing.B) {
	base := b.TempDir()
	src := filepath.Join(base, "src")
	runChromium(b, src)
	bucket := filepath.Join(base, "bucket")
	if err := os.Mkdir(bucket, 0o700); err != nil {
		b.Fatal(err)
	}
	u := (&url.URL{Scheme: "file", Path: bucket, RawQuery: "no_tmp_dir=true"}).String()
	stores := []struct {
		name string
		s    *Store
	}{
		{"plain", openStore(b, u)},
		{"age", openStoreWith(b, u, Options{Keys: []*age.X25519Identity{testKey}})},
	}

	run := func(b *testing.B, s *Store) {
		dst := filepath.Join(base, "dst")
		var save, restore time.Duration
		var info Info
		n := 0
		for b.Loop() {
			t0 := time.Now()
			var err error
			info, err = s.Save(b.Context(), "t1", src, r1)
			if err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := s.Restore(b.Context(), "t1", dst, r1); err != nil {
				b.Fatal(err)
			}
			save += t1.Sub(t0)
			restore += time.Since(t1)
			n++
		}
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(n) }
		b.ReportMetric(float64(info.Bytes), "archive-bytes/op")
		b.ReportMetric(float64(treeBytes(b, src)), "profile-bytes")
		b.ReportMetric(float64(info.Files), "files")
		b.ReportMetric(ms(save), "save-ms/op")
		b.ReportMetric(ms(restore), "restore-ms/op")
	}
	for _, st := range stores {
		b.Run("fresh/"+st.name, func(b *testing.B) { run(b, st.s) })
	}

	idb := filepath.Join(src, "Default", "IndexedDB", "https_web.whatsapp.com_0.indexeddb.leveldb")
	if err := os.MkdirAll(idb, 0o700); err != nil {
		b.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{1})
	for _, name := range []string{"000005.ldb", "000007.ldb", "000009.ldb", "000011.ldb", "000012.log"} {
		data := make([]byte, 1<<20)
		_, _ = rng.Read(data)
		if err := os.WriteFile(filepath.Join(idb, name), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	for _, st := range stores {
		b.Run("idb5MiB/"+st.name, func(b *testing.B) { run(b, st.s) })
	}
}

// treeBytes is the size of the regular files under dir.
func treeBytes(tb testing.TB, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
