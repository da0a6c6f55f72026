package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
	"go.uber.org/zap"

	"github.com/wapool/wapool/internal/media"
	"github.com/wapool/wapool/sessionstore"
)

// --max-media-bytes: 16 MiB by default, from 1 byte to 1 GiB; the gRPC and
// HTTP request limits hold a file of that size and the rest of a request.
func TestMaxMediaBytes(t *testing.T) {
	c, err := parseConfig(nil, envOf(nil))
	if err != nil || c.MaxMediaBytes != 16<<20 {
		t.Fatalf("default --max-media-bytes = %d, %v; want 16 MiB", c.MaxMediaBytes, err)
	}
	if c, err := parseConfig(nil, envOf(map[string]string{"WAPOOL_MAX_MEDIA_BYTES": "1048576"})); err != nil || c.MaxMediaBytes != 1<<20 {
		t.Fatalf("WAPOOL_MAX_MEDIA_BYTES=1048576: %d, %v", c.MaxMediaBytes, err)
	}
	for _, bad := range []string{"0", "-1", "1073741825"} {
		if _, err := parseConfig([]string{"--max-media-bytes", bad}, envOf(nil)); err == nil {
			t.Errorf("--max-media-bytes %s accepted", bad)
		}
	}
	for _, n := range []int64{1, 16 << 20, 1 << 30} {
		if g := grpcMaxRequest(n); int64(g) < n+maxRequestBytes {
			t.Errorf("gRPC limit %d for files of %d bytes: no room for the rest of the request", g, n)
		}
		if h := httpMaxRequest(n); h < int64(base64.StdEncoding.EncodedLen(int(n)))+maxRequestBytes {
			t.Errorf("HTTP limit %d for files of %d bytes: no room for the base64 and the rest", h, n)
		}
	}
}

// In cluster mode the media store is the profile store's bucket, sealed
// with the snapshot keys: a file put on one node is there, encrypted, and
// another node (its own data dir) fetches it. On a single node it is the
// data dir alone.
func TestOpenMediaCluster(t *testing.T) {
	bucket := t.TempDir()
	key, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "snapshot-keys")
	if err := os.WriteFile(keyFile, []byte(key.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := sessionstore.Open(sessionstore.Options{DataDir: filepath.Join(t.TempDir(), "data")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	open := func(dataDir string, args ...string) *media.Store {
		t.Helper()
		cfg, err := parseConfig(append([]string{"--data-dir", dataDir}, args...), envOf(nil))
		if err != nil {
			t.Fatal(err)
		}
		ms, err := openMedia(context.Background(), cfg, store, nil, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ms.Close() })
		return ms
	}
	cluster := []string{"--store", "postgres://wapool@127.0.0.1/wapool", "--profile-store", "file://" + filepath.ToSlash(bucket),
		"--snapshot-key-file", keyFile, "--node-id", "n1"}
	a, b := open(t.TempDir(), cluster...), open(t.TempDir(), cluster...)
	if !a.Shared() || !a.Encrypted() {
		t.Fatal("the cluster's media store is not the shared, sealed bucket")
	}
	data := []byte("%PDF-1.7 invoice 1042")
	sha, release, err := a.Put(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	release()
	raw, err := os.ReadFile(filepath.Join(bucket, "_media", sha))
	if err != nil || bytes.Contains(raw, []byte("invoice 1042")) {
		t.Fatalf("the bucket's object: %v, plaintext %v", err, bytes.Contains(raw, []byte("invoice 1042")))
	}
	p, err := b.Local(context.Background(), sha)
	if got, _ := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the other node's Local = %q, %v", p, err)
	}

	dataDir := t.TempDir()
	single := open(dataDir)
	if single.Shared() {
		t.Fatal("a single node's media store is shared")
	}
	sha, release, err = single.Put(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := os.Stat(filepath.Join(dataDir, "media", sha)); err != nil {
		t.Fatalf("a single node's file is not in <data-dir>/media: %v", err)
	}
}
