package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	// The bucket URL schemes Open understands.
	_ "gocloud.dev/blob/azureblob" // azblob://container
	_ "gocloud.dev/blob/fileblob"  // file:///dir
	_ "gocloud.dev/blob/gcsblob"   // gs://bucket
	_ "gocloud.dev/blob/memblob"   // mem://
	_ "gocloud.dev/blob/s3blob"    // s3://bucket?region=…
)

var (
	// ErrNotFound: the tenant has no snapshot.
	ErrNotFound = errors.New("no snapshot")
	// ErrCorrupt: a snapshot is not an archive that Save writes (truncated,
	// bad checksum, another tenant's, or an entry that would land outside
	// the profile dir). Restore left the dir as it was.
	ErrCorrupt = errors.New("corrupt snapshot")
)

// Blob metadata keys of a snapshot object: lower case, letters and '_' only,
// which every provider accepts.
const (
	metaTakenAt = "taken_at" // Info.TakenAt, RFC 3339 with nanoseconds, UTC
	metaFiles   = "files"    // Info.Files, decimal
	metaFormat  = "format"   // formatVersion, decimal
)

// Store is a bucket of snapshots: one object per tenant,
// "<tenant>/snapshot.tar.zst". Make one with Open; the zero Store is not
// usable. See the package doc for the concurrency contract.
type Store struct {
	bucket *blob.Bucket
}

// Info describes one snapshot.
type Info struct {
	Tenant  string    // the tenant id
	TakenAt time.Time // when Save started reading the profile (UTC)
	Bytes   int64     // size of the archive (compressed) in the bucket
	Files   int       // regular files in the archive
}

// Open opens the bucket at url, a gocloud.dev/blob URL:
// s3://bucket?region=…&prefix=…, gs://bucket, azblob://container,
// file:///dir (the dir must exist, or add create_dir=true; add
// no_tmp_dir=true when os.TempDir is on another file system than dir) or
// mem:// (tests). A prefix=p/ parameter puts the snapshots under p/.
// Credentials come from each provider's usual environment.
func Open(ctx context.Context, url string) (*Store, error) {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("snapshot: open bucket: %w", err)
	}
	return &Store{bucket: b}, nil
}

// Close closes the bucket. Calls after it fail.
func (s *Store) Close() error {
	return s.bucket.Close()
}

// checkTenant refuses a tenant id that is not a safe object key component.
// The rule is sessionstore.ValidateTenantID's (1 to 64 letters, digits, '_'
// and '-', not first), repeated here so that this package does not depend on
// the session store and its database drivers.
func checkTenant(id string) error {
	ok := len(id) >= 1 && len(id) <= 64
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-')
	}
	if !ok {
		return fmt.Errorf("snapshot: tenant %q: not a valid tenant id", id)
	}
	return nil
}

// key is the object key of tenant's snapshot.
func key(tenant string) string {
	return tenant + "/snapshot.tar.zst"
}

// Save archives the profile dir (without what the exclusion table names) and
// uploads it as tenant's newest snapshot, replacing the one before. Call it
// only after Chrome closed gracefully: a file that changes while Save reads
// it fails the Save. The upload is atomic: it commits when the writer
// closes without error, and until then readers see the previous snapshot; on
// any error (ctx ended, a file unreadable, the upload refused) the previous
// snapshot stays. It returns what it stored.
func (s *Store) Save(ctx context.Context, tenant, dir string) (_ Info, err error) {
	if err := checkTenant(tenant); err != nil {
		return Info{}, err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("snapshot: save tenant %q from %s: %w", tenant, dir, err)
		}
	}()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Info{}, err
	}
	defer root.Close()

	takenAt := time.Now().UTC().Round(0)
	entries, files, err := scan(ctx, root)
	if err != nil {
		return Info{}, err
	}

	// Cancelling wctx before Close aborts the upload: nothing is committed.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key(tenant), &blob.WriterOptions{
		ContentType: contentType,
		Metadata: map[string]string{
			metaTakenAt: takenAt.Format(time.RFC3339Nano),
			metaFiles:   strconv.Itoa(files),
			metaFormat:  strconv.Itoa(formatVersion),
		},
	})
	if err != nil {
		return Info{}, err
	}
	cw := &countingWriter{w: w}
	m := manifest{Format: formatVersion, Tenant: tenant, TakenAt: takenAt, Files: files}
	if err := writeArchive(ctx, cw, root, m, entries); err != nil {
		cancel()
		_ = w.Close() // returns the cancellation; the upload is dropped
		return Info{}, err
	}
	if err := w.Close(); err != nil {
		return Info{}, fmt.Errorf("upload: %w", err)
	}
	return Info{Tenant: tenant, TakenAt: takenAt, Bytes: cw.n, Files: files}, nil
}

// Newest returns the Info of tenant's newest snapshot from the object's
// attributes (one metadata request, no download), or an error wrapping
// ErrNotFound when there is none.
func (s *Store) Newest(ctx context.Context, tenant string) (Info, error) {
	if err := checkTenant(tenant); err != nil {
		return Info{}, err
	}
	attrs, err := s.bucket.Attributes(ctx, key(tenant))
	if gcerrors.Code(err) == gcerrors.NotFound {
		return Info{}, fmt.Errorf("snapshot: tenant %q: %w", tenant, ErrNotFound)
	}
	if err != nil {
		return Info{}, fmt.Errorf("snapshot: tenant %q: %w", tenant, err)
	}
	takenAt, err := time.Parse(time.RFC3339Nano, attrs.Metadata[metaTakenAt])
	if err != nil {
		return Info{}, fmt.Errorf("snapshot: tenant %q: metadata %s: %w", tenant, metaTakenAt, corrupt(err))
	}
	files, err := strconv.Atoi(attrs.Metadata[metaFiles])
	if err != nil {
		return Info{}, fmt.Errorf("snapshot: tenant %q: metadata %s: %w", tenant, metaFiles, corrupt(err))
	}
	return Info{Tenant: tenant, TakenAt: takenAt.UTC(), Bytes: attrs.Size, Files: files}, nil
}

// Restore downloads tenant's newest snapshot and puts it in dir's place:
// it extracts into a new sibling dir (".<base>.restore-*"), fsyncs every
// file and dir of it, then swaps it with dir (atomically where the file
// system can, see replaceDir), fsyncs the parent and removes the old tree.
// dir's parent must exist; dir need not, and must be neither a symlink
// (refused) nor a mount point (the swap fails). The restored tree has dirs
// 0700, files 0600 and the archived mtimes (to the second). dir's own
// profile lock file, if any, is kept (hard-linked into the new tree), so a
// lock held on it stays held. The caller makes sure no Chrome runs on dir.
//
// On any error (ErrNotFound, ErrCorrupt, ctx ended, disk full) dir is left
// as it was and the temp dir is removed; the one exception is a failed
// fsync of the parent after the swap, reported with dir already replaced.
// Temp dirs of a Restore of dir that died half-way are removed first.
// Returns the Info restored, from the archive's own manifest.
func (s *Store) Restore(ctx context.Context, tenant, dir string) (_ Info, err error) {
	if err := checkTenant(tenant); err != nil {
		return Info{}, err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("snapshot: restore tenant %q to %s: %w", tenant, dir, err)
		}
	}()
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if info, err := os.Stat(parent); err != nil {
		return Info{}, err
	} else if !info.IsDir() {
		return Info{}, fmt.Errorf("parent %s is not a dir", parent)
	}
	if info, err := os.Lstat(dir); err == nil && !info.IsDir() {
		return Info{}, fmt.Errorf("%s exists and is not a dir", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Info{}, err
	}
	if err := removeStale(dir); err != nil {
		return Info{}, err
	}

	r, err := s.bucket.NewReader(ctx, key(tenant), nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return Info{}, ErrNotFound
	}
	if err != nil {
		return Info{}, err
	}
	defer r.Close()

	tmp, err := os.MkdirTemp(parent, restorePrefix(dir)+"*")
	if err != nil {
		return Info{}, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return Info{}, err
	}
	m, err := extract(ctx, r, root, tenant)
	root.Close()
	if err != nil {
		return Info{}, err
	}
	if err := keepLock(dir, tmp); err != nil {
		return Info{}, fmt.Errorf("keep the profile lock: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	if err := replaceDir(tmp, dir); err != nil {
		return Info{}, err
	}
	return Info{Tenant: tenant, TakenAt: m.TakenAt.UTC(), Bytes: r.Size(), Files: m.Files}, nil
}

// Delete removes every snapshot object of tenant (everything under
// "<tenant>/"). A tenant with none is not an error.
func (s *Store) Delete(ctx context.Context, tenant string) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	it := s.bucket.List(&blob.ListOptions{Prefix: tenant + "/"})
	for {
		obj, err := it.Next(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("snapshot: delete tenant %q: list: %w", tenant, err)
		}
		if obj.IsDir {
			continue
		}
		if err := s.bucket.Delete(ctx, obj.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return fmt.Errorf("snapshot: delete tenant %q: %s: %w", tenant, obj.Key, err)
		}
	}
}
