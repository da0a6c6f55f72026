package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"gocloud.dev/blob"
)

// backends are the bucket URLs every conformance test runs against: one
// Store implementation, two blob drivers with different commit paths
// (fileblob renames a temp file, memblob swaps a map entry).
func backends(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"file": func(t *testing.T) string {
			// no_tmp_dir: the temp file next to the object, so the commit
			// rename never crosses file systems.
			return (&url.URL{Scheme: "file", Path: t.TempDir(), RawQuery: "no_tmp_dir=true"}).String()
		},
		"mem": func(t *testing.T) string { return "mem://" },
	}
}

// r1 and r2 are a tenant's first two snapshots.
var (
	r1 = Ref{Gen: 1, Epoch: 1}
	r2 = Ref{Gen: 2, Epoch: 1}
)

// testKey and otherKey are age identities of the sealed stores of the
// tests (made for them: they protect nothing).
var (
	testKey  = mustKey("AGE-SECRET-KEY-1VJGFYMHEVQ30SR7J3Q2ND87D4P2JK8TKXFJ7AGUHUWX204KWD5LQT3R2PQ")
	otherKey = mustKey("AGE-SECRET-KEY-178D745LSRVWJFX8UX6CMKMMJSPE6JVUCZ2QK535NDDAMPACE45HQUZ9P5X")
)

func mustKey(s string) *age.X25519Identity {
	k, err := age.ParseX25519Identity(s)
	if err != nil {
		panic(err)
	}
	return k
}

// eachBackend runs f as a subtest against a fresh Store of each backend,
// in plaintext and sealed with testKey.
func eachBackend(t *testing.T, f func(t *testing.T, s *Store)) {
	t.Helper()
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := openStore(t, mk(t))
			f(t, s)
		})
		t.Run(name+"+age", func(t *testing.T) {
			s := openStoreWith(t, mk(t), Options{Keys: []*age.X25519Identity{testKey}})
			f(t, s)
		})
	}
}

// openStore opens a plaintext store.
func openStore(t testing.TB, url string) *Store {
	t.Helper()
	return openStoreWith(t, url, Options{Unencrypted: true})
}

func openStoreWith(t testing.TB, url string, opts Options) *Store {
	t.Helper()
	s, err := Open(t.Context(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// keptFiles are files a snapshot must carry, with their contents.
var keptFiles = map[string]string{
	"Local State":                `{"profile":{"info_cache":{}}}`,
	"Last Version":               "156.0.8078.114",
	"Default/Cookies":            "SQLite format 3\x00cookies",
	"Default/Cookies-journal":    "",
	"Default/DIPS-wal":           "wal frames",
	"Default/Preferences":        `{"profile":{"name":"wapool"}}`,
	"Default/Secure Preferences": `{}`,
	"Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/000003.log":      "\x00\x01login-keys\xff",
	"Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/CURRENT":         "MANIFEST-000001\n",
	"Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/MANIFEST-000001": "manifest",
	"Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/LOCK":            "",
	"Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.blob/1/00/3":             "a stored blob",
	"Default/Local Storage/leveldb/000003.log":                                     "localStorage",
	"Default/Local Storage/leveldb/CURRENT":                                        "MANIFEST-000001\n",
	"Default/Service Worker/Database/000003.log":                                   "registrations",
	"Default/Session Storage/000003.log":                                           "session",
}

// excludedFiles are regular files a snapshot must leave out.
var excludedFiles = []string{
	"Default/Cache/Cache_Data/index",
	"Default/Cache/Cache_Data/data_0",
	"Default/Code Cache/js/index",
	"Default/Code Cache/wasm/index-dir/the-real-index",
	"Default/GPUCache/data_1",
	"Default/DawnCache/data_0",
	"Default/DawnGraphiteCache/index",
	"Default/DawnWebGPUCache/index",
	"GraphiteDawnCache/data_0",
	"GrShaderCache/data_0",
	"ShaderCache/data_0",
	"GPUPersistentCache/GPUCache/X/cache.db",
	"Default/Service Worker/CacheStorage/abc/index",
	"Default/Service Worker/ScriptCache/index",
	"Default/Shared Dictionary/cache/index",
	"Crashpad/settings.dat",
	"component_crx_cache/metadata.json",
	"extensions_crx_cache/metadata.json",
	"BrowserMetrics/BrowserMetrics-1.pma",
	"BrowserMetrics-spare.pma",
	"Safe Browsing/ChromeExtMalware.store.32_13",
	"Default/optimization_guide_hint_cache_store/LOG",
	"Default/blob_storage/1f9d/1",
	".wapool.lock",
	"Default/Preferences.tmp",
	"Default/.org.chromium.Chromium.Network Persistent State.p6GlHH",
}

// mtime is the mtime buildProfile gives every file.
var mtime = time.Date(2025, 6, 1, 12, 30, 45, 0, time.UTC)

// buildProfile makes a fake profile under dir: keptFiles, excludedFiles,
// the Singleton* symlinks of a running Chrome, a unix socket and a FIFO.
func buildProfile(t testing.TB, dir string) {
	t.Helper()
	writeFiles(t, dir, keptFiles)
	junk := map[string]string{}
	for _, name := range excludedFiles {
		junk[name] = "junk " + name
	}
	writeFiles(t, dir, junk)
	for name, target := range map[string]string{
		"SingletonLock":   "vm-5100",
		"SingletonCookie": "9648695934137968252",
		"SingletonSocket": "/tmp/org.chromium.Chromium.wHjZsv/SingletonSocket",
		"Default/escape":  "../../../etc/passwd",
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	// Closing the listener would unlink the socket; keep it until the end.
	t.Cleanup(func() { l.Close() })
	if err := syscall.Mkfifo(filepath.Join(dir, "Default", "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeFiles writes files (name → contents) under dir with mtime.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// node is what readTree records of one entry.
type node struct {
	mode  fs.FileMode
	data  string
	mtime time.Time
}

// readTree returns every entry under dir (dir itself excluded) by its
// slash-separated relative name.
func readTree(t testing.TB, dir string) map[string]node {
	t.Helper()
	out := map[string]node{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		n := node{mode: info.Mode(), mtime: info.ModTime()}
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			n.data = string(b)
		}
		out[filepath.ToSlash(rel)] = n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// siblings returns the names in dir's parent other than dir's: leftovers of
// a Restore.
func siblings(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if de.Name() != filepath.Base(dir) {
			out = append(out, de.Name())
		}
	}
	return out
}

// rawEntry is one entry of a hand-made archive.
type rawEntry struct {
	hdr  tar.Header
	data string
}

// makeArchive returns a hand-made archive: the manifest m (none when
// m.Format is 0), then entries.
func makeArchive(t testing.TB, m manifest, entries ...rawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	if m.Format != 0 {
		mb, _ := json.Marshal(m)
		entries = append([]rawEntry{{hdr: tar.Header{Name: manifestName, Typeflag: tar.TypeReg, Mode: 0o600}, data: string(mb)}}, entries...)
	}
	for _, e := range entries {
		hdr := e.hdr
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// upload puts data as tenant's snapshot object, as Save would.
func upload(t testing.TB, s *Store, tenant string, data []byte) {
	t.Helper()
	err := s.bucket.WriteAll(t.Context(), key(tenant, r1), data, &blob.WriterOptions{
		Metadata: map[string]string{metaTakenAt: time.Now().UTC().Format(time.RFC3339Nano), metaFiles: "1", metaFormat: "2"},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// countdownCtx is a context whose Err reports Canceled from the n-th call
// on: a cancellation that lands in the middle of an operation, at a point
// the test chooses without sleeping.
type countdownCtx struct {
	context.Context
	n *int
}

func (c countdownCtx) Err() error {
	if *c.n--; *c.n <= 0 {
		return context.Canceled
	}
	return c.Context.Err()
}

// hasPrefix reports whether any of names starts with prefix.
func hasPrefix(names []string, prefix string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}
