package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
)

// chunks reads its parts one Read at a time, then fails with err (io.EOF:
// ends well).
type chunks struct {
	parts [][]byte
	err   error
}

func (c *chunks) Read(p []byte) (int, error) {
	for len(c.parts) > 0 && len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	if len(c.parts) == 0 {
		return 0, c.err
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	return n, nil
}

func split(data []byte, size int) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		n := min(size, len(data))
		out = append(out, bytes.Clone(data[:n]))
		data = data[n:]
	}
	return out
}

// PutReader stores what it reads byte for byte under its hash, fsynced
// (file before its rename, dir after) before it returns; the same bytes
// again are not written again.
func TestPutReaderStoresByHash(t *testing.T) {
	s := open(t, Config{})
	data := payload(3, 300_000)
	final := filepath.Join(s.cfg.Dir, hashOf(data))
	syncs := watchSyncs(t, s, final, len(data))
	sha, size, release, err := s.PutReader(context.Background(), &chunks{parts: split(data, 65_536), err: io.EOF})
	if err != nil {
		t.Fatal(err)
	}
	release()
	if sha != hashOf(data) || size != int64(len(data)) {
		t.Fatalf("PutReader = %s, %d; want %s, %d", sha, size, hashOf(data), len(data))
	}
	if got := syncs(); got != "file,dir" {
		t.Fatalf("syncs: %q, want the file then the dir", got)
	}
	got, err := os.ReadFile(final)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the file holds %d bytes (%v), want the %d read", len(got), err, len(data))
	}
	if info, err := os.Stat(final); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v (%v), want 0600", info.Mode().Perm(), err)
	}
	old := setOld(t, final)
	again, _, release, err := s.PutReader(context.Background(), &chunks{parts: split(data, 1000), err: io.EOF})
	if err != nil || again != sha || !mtime(t, final).Equal(old) {
		t.Fatalf("the same bytes again: %s, %v, mtime %v; want %s untouched", again, err, mtime(t, final), sha)
	}
	release()
	if entries, _ := os.ReadDir(s.cfg.Dir); len(entries) != 1 {
		t.Fatalf("Dir holds %d entries, want the one file", len(entries))
	}
	// Put and PutReader name the same bytes alike.
	if p := put(t, s, data); p != sha {
		t.Fatalf("Put = %s, PutReader %s", p, sha)
	}
	if _, _, _, err := s.PutReader(context.Background(), &chunks{err: io.EOF}); !errors.Is(err, ErrEmpty) {
		t.Fatalf("PutReader of no bytes: %v, want ErrEmpty", err)
	}
	if entries, _ := os.ReadDir(s.cfg.Dir); len(entries) != 1 {
		t.Fatalf("Dir holds %d entries after an empty put, want the one file", len(entries))
	}
}

// An error of the reader midway (a cancelled upload, a file over the
// caller's limit) leaves nothing, and comes back wrapped.
func TestPutReaderFailureLeavesNothing(t *testing.T) {
	url, bdir := bucketDir(t)
	s := open(t, Config{Bucket: url, Unencrypted: true})
	cause := errors.New("the client went away")
	_, _, _, err := s.PutReader(context.Background(), &chunks{parts: split(payload(4, 200_000), 4096), err: cause})
	if !errors.Is(err, cause) {
		t.Fatalf("PutReader = %v, want the reader's error", err)
	}
	if entries, _ := os.ReadDir(s.cfg.Dir); len(entries) != 0 {
		t.Fatalf("a failed PutReader left %d entries in Dir", len(entries))
	}
	if entries, _ := os.ReadDir(filepath.Join(bdir, "_media")); len(entries) != 0 {
		t.Fatalf("a failed PutReader left %d objects in the bucket", len(entries))
	}
}

// Cluster mode: the streamed file is uploaded sealed, and another node
// fetches the same bytes.
func TestPutReaderSharedBucket(t *testing.T) {
	url, bdir := bucketDir(t)
	k := newKey(t)
	a := open(t, Config{Bucket: url, Keys: []*age.X25519Identity{k}})
	b := open(t, Config{Bucket: url, Keys: []*age.X25519Identity{k}})
	data := bytes.Repeat([]byte("statement 7, line after line. "), 50_000) // 1.5 MB
	sha, _, release, err := a.PutReader(context.Background(), &chunks{parts: split(data, 1<<20), err: io.EOF})
	if err != nil {
		t.Fatal(err)
	}
	release()
	raw, err := os.ReadFile(object(bdir, sha))
	if err != nil || !bytes.HasPrefix(raw, []byte("age-encryption.org/v1\n")) || bytes.Contains(raw, []byte("statement 7")) {
		t.Fatalf("the bucket's object (%d bytes, %v) is not the sealed file", len(raw), err)
	}
	p, err := b.Local(context.Background(), sha)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("node b's copy: %d bytes, %v; want the file", len(got), err)
	}
}
