package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"go.uber.org/zap"
	"gocloud.dev/blob"

	"github.com/wapool/wapool/internal/diskio"
)

var (
	// ErrNotFound: no bytes of that hash, here or in the shared bucket.
	ErrNotFound = errors.New("media: no such file")
	// ErrCorrupt: bytes fetched from the bucket do not hash to their name,
	// or no key of the store opens them.
	ErrCorrupt = errors.New("media: corrupt file")
	// ErrEmpty: Put was given no bytes.
	ErrEmpty = errors.New("media: empty file")
)

// tempPrefix starts the names of files being written into Dir.
const tempPrefix = ".tmp-"

// Config configures a Store. Dir is required; the zero value of every other
// field is a single node's default.
type Config struct {
	// Dir holds the files, one per SHA-256 (<data-dir>/media); made 0700
	// when missing.
	Dir string
	// Bucket is the gocloud.dev/blob URL of the shared store in cluster mode
	// (--profile-store); the files go under "_media/" in it. "": a single
	// node, Dir only.
	Bucket string
	// Keys seal the files in Bucket (age, --snapshot-key-file): Keys[0]
	// encrypts, every key decrypts. Empty: plaintext, which Open refuses
	// unless Unencrypted is set.
	Keys        []*age.X25519Identity
	Unencrypted bool // allow Bucket without Keys (--snapshot-unencrypted)
	// Referenced returns the hashes that kept messages name
	// (sessionstore.Store.ReferencedMedia). nil: Sweep deletes nothing.
	Referenced func() (map[string]bool, error)
	// LeadsSweep tells whether this node sweeps Bucket (a cluster-wide
	// duty); nil: it does. Every node sweeps its own Dir.
	LeadsSweep func() bool
	// SweepEvery is Run's period; 0: an hour.
	SweepEvery time.Duration
	// Grace keeps files younger than this out of every sweep (a Send on
	// another node may be between its upload and its message); 0: an hour.
	Grace time.Duration
	// Now is the clock of the sweep's ages; nil: time.Now.
	Now func() time.Time
	// Log receives the sweeps' results and errors; nil: none.
	Log *zap.Logger
}

// Store keeps files by their SHA-256; it implements supervisor.MediaFiles.
// Make one with Open.
type Store struct {
	cfg    Config
	bucket *blob.Bucket // nil on a single node
	log    *zap.Logger

	sweepMu sync.Mutex // one Sweep at a time; taken before mu

	mu sync.Mutex // guards the fields that follow
	// pins counts the Puts under way per hash: between the moment Put looks
	// for the file and the caller's release, after its message is stored.
	pins map[string]int
	// putSince holds the hashes put since the running sweep began; nil
	// while none runs.
	putSince map[string]bool
}

// Open makes Dir (0700) and opens Bucket when set.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("media: no dir")
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = time.Hour
	}
	if cfg.Grace <= 0 {
		cfg.Grace = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Store{cfg: cfg, log: cfg.Log, pins: map[string]int{}}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	if cfg.Bucket != "" {
		if len(cfg.Keys) == 0 && !cfg.Unencrypted {
			return nil, errors.New("media: a shared bucket needs keys (or Unencrypted)")
		}
		b, err := openBucket(ctx, cfg.Bucket)
		if err != nil {
			return nil, err
		}
		s.bucket = b
	}
	return s, nil
}

// Close closes the bucket. Calls after it fail.
func (s *Store) Close() error {
	if s.bucket == nil {
		return nil
	}
	return s.bucket.Close()
}

// Shared tells whether the store keeps its files in a shared bucket too.
func (s *Store) Shared() bool { return s.bucket != nil }

// Encrypted tells whether the files in the shared bucket are sealed.
func (s *Store) Encrypted() bool { return s.bucket != nil && len(s.cfg.Keys) > 0 }

// Put stores data under its SHA-256 and returns the hash (lower-case hex).
// Once it returns nil the bytes are durable: in Dir (file and dir fsynced)
// and, in cluster mode, in the shared bucket (the upload committed). Bytes
// already stored are neither written nor uploaded again. data is read, never
// copied or kept.
//
// release must be called once the caller's message is stored (or has
// failed): until then no sweep deletes the file, although no message names
// it yet. It may be called more than once. On an error there is nothing to
// release (a no-op func is returned).
func (s *Store) Put(ctx context.Context, data []byte) (sha string, release func(), err error) {
	nop := func() {}
	if len(data) == 0 {
		return "", nop, ErrEmpty
	}
	sum := sha256.Sum256(data)
	sha = hex.EncodeToString(sum[:])
	unpin := s.pin(sha) // before the file is looked for: see the package doc
	if err := s.writeLocal(sha, data); err != nil {
		unpin()
		return "", nop, err
	}
	if s.bucket != nil {
		open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		if err := s.upload(ctx, sha, open); err != nil {
			unpin()
			return "", nop, err
		}
	}
	return sha, unpin, nil
}

// PutReader stores the bytes read from r until io.EOF, as Put stores data,
// without holding them in memory: they are written to a temp file in Dir as
// they are read, hashed on the way, fsynced, and the temp file is renamed
// to Dir/<sha> (or dropped when a file of that hash and size is there);
// in cluster mode the file is then uploaded to the shared bucket from disk,
// sealed as Put seals, unless the bucket has it. It returns the hash and
// the size.
//
// An error of r (a cancelled upload, a file over the caller's limit) ends
// the write: the temp file is removed, nothing is stored, and the error is
// returned wrapped. No bytes at all: ErrEmpty. release is as Put's. r is
// read with its WriteTo when it has one (each of its buffers written as it
// is), else in 32 KiB reads.
func (s *Store) PutReader(ctx context.Context, r io.Reader) (sha string, size int64, release func(), err error) {
	nop := func() {}
	h := sha256.New()
	tmp, err := s.writeTemp(tempPrefix+"stream-*", func(f *os.File) error {
		n, err := io.Copy(io.MultiWriter(f, h), r)
		size = n
		return err
	})
	if err != nil {
		return "", 0, nop, fmt.Errorf("media: writing a streamed file: %w", err)
	}
	if size == 0 {
		os.Remove(tmp)
		return "", 0, nop, ErrEmpty
	}
	sha = hex.EncodeToString(h.Sum(nil))
	unpin := s.pin(sha) // before the file is looked for: see the package doc
	if info, err := os.Stat(s.path(sha)); err == nil && info.Mode().IsRegular() && info.Size() == size {
		os.Remove(tmp) // stored already: the same bytes
	} else if err := s.commit(tmp, sha); err != nil {
		unpin()
		return "", 0, nop, fmt.Errorf("media: writing %s: %w", short(sha), err)
	}
	if s.bucket != nil {
		open := func() (io.ReadCloser, error) { return os.Open(s.path(sha)) }
		if err := s.upload(ctx, sha, open); err != nil {
			unpin()
			return "", 0, nop, err
		}
	}
	return sha, size, unpin, nil
}

// pin keeps sha from the sweeps until the returned func is called.
func (s *Store) pin(sha string) func() {
	s.mu.Lock()
	s.pins[sha]++
	if s.putSince != nil {
		s.putSince[sha] = true
	}
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.pins[sha]--; s.pins[sha] <= 0 {
				delete(s.pins, sha)
			}
		})
	}
}

// path is the file of sha in Dir.
func (s *Store) path(sha string) string { return filepath.Join(s.cfg.Dir, sha) }

// writeLocal writes data as Dir/<sha> unless a file of its size is there:
// a temp file, fsynced, renamed, then the dir fsynced.
func (s *Store) writeLocal(sha string, data []byte) error {
	if info, err := os.Stat(s.path(sha)); err == nil && info.Mode().IsRegular() && info.Size() == int64(len(data)) {
		return nil
	}
	return s.install(sha, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// install writes Dir/<sha> through a temp file that fill writes: fsynced,
// renamed into place, the dir fsynced. On any error nothing is left.
func (s *Store) install(sha string, fill func(*os.File) error) error {
	tmp, err := s.writeTemp(tempPrefix+sha[:16]+"-*", fill)
	if err != nil {
		return fmt.Errorf("media: writing %s: %w", short(sha), err)
	}
	if err := s.commit(tmp, sha); err != nil {
		return fmt.Errorf("media: writing %s: %w", short(sha), err)
	}
	return nil
}

// writeTemp makes a temp file in Dir named by pattern (os.CreateTemp),
// has fill write it, fsyncs and closes it, and returns its path. On any
// error the temp file is removed.
func (s *Store) writeTemp(pattern string, fill func(*os.File) error) (_ string, err error) {
	f, err := os.CreateTemp(s.cfg.Dir, pattern)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(f); err != nil {
		return "", err
	}
	if err := syncFile(f); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// commit renames the written temp file tmp to Dir/<sha> and fsyncs the
// dir. On an error the temp file is removed.
func (s *Store) commit(tmp, sha string) error {
	if err := os.Rename(tmp, s.path(sha)); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(s.cfg.Dir)
}

// syncFile and syncDir make a write durable; tests watch them.
var (
	syncFile = (*os.File).Sync
	syncDir  = diskio.SyncPath
)

// Local returns the path of Dir/<sha>, fetching the bytes from the shared
// bucket first when they are not there (checked against sha). The caller
// must not write to the file; it stays while a kept message names it.
// Errors: ErrNotFound, ErrCorrupt, the bucket's.
func (s *Store) Local(ctx context.Context, sha string) (string, error) {
	if !isSHA256Hex(sha) {
		return "", fmt.Errorf("media: %q is not a SHA-256 in lower-case hex: %w", sha, ErrNotFound)
	}
	p := s.path(sha)
	if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() {
		return p, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("media: %w", err)
	}
	if s.bucket == nil {
		return "", fmt.Errorf("media: %s: %w", short(sha), ErrNotFound)
	}
	if err := s.fetch(ctx, sha); err != nil {
		return "", err
	}
	return p, nil
}

// short is the start of a hash, for messages.
func short(sha string) string { return sha[:min(len(sha), 12)] + "…" }

// isSHA256Hex tells whether s is a SHA-256 in lower-case hex: a name Dir
// may hold.
func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}
