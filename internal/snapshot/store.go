package snapshot

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/wapool/wapool/internal/diskio"
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
// which every provider accepts. They are a convenience (Newest reads them);
// Restore trusts only the archive's manifest and, when encrypted, its tag.
const (
	metaTakenAt = "taken_at" // Info.TakenAt, RFC 3339 with nanoseconds, UTC
	metaFiles   = "files"    // Info.Files, decimal
	metaFormat  = "format"   // formatVersion, decimal
	metaSealed  = "sealed"   // "age" when encrypted, absent when not
)

// Ref names one snapshot of a tenant: its generation and the lease epoch of
// the node that took it. The generation counts the tenant's snapshots, from
// 1, and is kept by the caller (in a cluster, in PostgreSQL, next to the
// lease), so that which snapshot is newest is never judged by a clock. The
// epoch keeps two holders that both believe they take generation g (one of
// them fenced out) from writing the same object.
type Ref struct {
	Gen   uint64
	Epoch uint64
}

func (r Ref) String() string { return fmt.Sprintf("gen %d (epoch %d)", r.Gen, r.Epoch) }

// Store is a bucket of snapshots: one object per snapshot,
// "<tenant>/<gen>-<epoch>.snap", written once. Make one with Open; the zero
// Store is not usable. See the package doc for the concurrency contract.
type Store struct {
	bucket *blob.Bucket
	keys   []sealer // keys[0] seals new snapshots; empty: plaintext
	// fileRoot is the dir of a file:// bucket (prefix included), whose
	// objects' attribute files are made private after each write; "" for
	// other buckets.
	fileRoot string
}

// Options are Open's choices beyond the URL.
type Options struct {
	// Keys encrypt and authenticate the snapshots (see crypt.go): Keys[0]
	// seals new ones, every key opens old ones. Empty: plaintext, which
	// Open refuses unless Unencrypted is set.
	Keys []*age.X25519Identity
	// Unencrypted allows a store without keys: snapshots in plaintext,
	// authenticated by nothing but zstd's checksum. Default false.
	Unencrypted bool
}

// Info describes one snapshot.
type Info struct {
	Tenant  string    // the tenant id
	Ref     Ref       // its generation and epoch
	TakenAt time.Time // when Save started reading the profile (UTC), by the saving node's clock
	Bytes   int64     // size of the object in the bucket
	Files   int       // regular files in the archive
}

// Open opens the bucket at url, a gocloud.dev/blob URL:
// s3://bucket?region=…&prefix=…, gs://bucket, azblob://container,
// file:///dir (the dir must exist, or add create_dir=true) or mem://
// (tests). A prefix=p/ parameter puts the snapshots under p/. Credentials
// come from each provider's usual environment. With file://, dirs are
// created 0700 (unless dir_file_mode says otherwise) and objects and their
// attribute files 0600, the temp file of an upload next to its object
// (unless no_tmp_dir is given).
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	if len(opts.Keys) == 0 && !opts.Unencrypted {
		return nil, ErrNoKey
	}
	s := &Store{}
	for _, id := range opts.Keys {
		k, err := newSealer(id)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, k)
	}
	b, root, err := diskio.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("snapshot: open bucket: %w", err)
	}
	s.fileRoot = root
	s.bucket = b
	return s, nil
}

// Encrypted tells whether the store seals its snapshots.
func (s *Store) Encrypted() bool { return len(s.keys) > 0 }

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

// key is the object key of tenant's snapshot ref.
func key(tenant string, ref Ref) string {
	return fmt.Sprintf("%s/%d-%d.snap", tenant, ref.Gen, ref.Epoch)
}

// parseKey returns the Ref of an object key under "<tenant>/", ok false
// for a key of another shape.
func parseKey(tenant, k string) (Ref, bool) {
	name, ok := strings.CutPrefix(k, tenant+"/")
	if !ok {
		return Ref{}, false
	}
	name, ok = strings.CutSuffix(name, ".snap")
	if !ok {
		return Ref{}, false
	}
	g, e, ok := strings.Cut(name, "-")
	if !ok {
		return Ref{}, false
	}
	gen, err1 := strconv.ParseUint(g, 10, 64)
	epoch, err2 := strconv.ParseUint(e, 10, 64)
	if err1 != nil || err2 != nil || gen == 0 {
		return Ref{}, false
	}
	return Ref{Gen: gen, Epoch: epoch}, true
}

// Save archives the profile dir (without what the exclusion table names) and
// uploads it as tenant's snapshot ref (Gen from 1), sealed when the store
// has keys. Call it only after Chrome closed gracefully: a file that changes
// while Save reads it fails the Save. The upload is atomic: it commits when
// the writer closes without error, and until then readers see nothing under
// the new key; on any error (ctx ended, a file unreadable, the upload
// refused) nothing is stored. Other snapshots of the tenant are left alone
// (Prune removes them). It returns what it stored.
func (s *Store) Save(ctx context.Context, tenant, dir string, ref Ref) (_ Info, err error) {
	if err := checkTenant(tenant); err != nil {
		return Info{}, err
	}
	if ref.Gen == 0 {
		return Info{}, fmt.Errorf("snapshot: save tenant %q: generation 0: generations start at 1", tenant)
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("snapshot: save tenant %q %s from %s: %w", tenant, ref, dir, err)
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

	meta := map[string]string{
		metaTakenAt: takenAt.Format(time.RFC3339Nano),
		metaFiles:   strconv.Itoa(files),
		metaFormat:  strconv.Itoa(formatVersion),
	}
	ctype := contentType
	if s.Encrypted() {
		meta[metaSealed] = "age"
		ctype = "application/octet-stream"
	}
	// Cancelling wctx before Close aborts the upload: nothing is committed.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	k := key(tenant, ref)
	w, err := s.bucket.NewWriter(wctx, k, &blob.WriterOptions{
		ContentType: ctype,
		Metadata:    meta,
		BeforeWrite: diskio.PrivateTemp,
	})
	if err != nil {
		return Info{}, err
	}
	cw := &countingWriter{w: w}
	m := manifest{Format: formatVersion, Tenant: tenant, Gen: ref.Gen, Epoch: ref.Epoch, TakenAt: takenAt, Files: files}
	if err := s.seal(cw, tenant, ref, func(out io.Writer) error { return writeArchive(ctx, out, root, m, entries) }); err != nil {
		cancel()
		_ = w.Close() // returns the cancellation; the upload is dropped
		return Info{}, err
	}
	if err := w.Close(); err != nil {
		return Info{}, fmt.Errorf("upload: %w", err)
	}
	if err := s.private(k); err != nil {
		return Info{}, err
	}
	return Info{Tenant: tenant, Ref: ref, TakenAt: takenAt, Bytes: cw.n, Files: files}, nil
}

// seal runs write with the writer the archive goes to: w itself without
// keys; else an age encryption to the first key, then the tag.
func (s *Store) seal(w io.Writer, tenant string, ref Ref, write func(io.Writer) error) error {
	if !s.Encrypted() {
		return write(w)
	}
	k := s.keys[0]
	mac := k.mac(tenant, ref)
	enc, err := age.Encrypt(io.MultiWriter(w, mac), k.id.Recipient())
	if err != nil {
		return err
	}
	if err := write(enc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err = w.Write(mac.Sum(nil))
	return err
}

// private makes a file:// object's attribute file 0600 (fileblob writes it
// 0666 less the umask); other buckets: nothing.
func (s *Store) private(k string) error {
	if s.fileRoot == "" {
		return nil
	}
	p := filepath.Join(s.fileRoot, filepath.FromSlash(k))
	for _, f := range []string{p, p + ".attrs"} {
		if err := os.Chmod(f, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Newest returns the Info of tenant's snapshot of the highest generation in
// the bucket, from a listing and the object's attributes (no download), or
// an error wrapping ErrNotFound when there is none. A cluster knows which
// snapshot is current from its store, not from this: Newest is for tools
// and benchmarks.
func (s *Store) Newest(ctx context.Context, tenant string) (Info, error) {
	if err := checkTenant(tenant); err != nil {
		return Info{}, err
	}
	refs, err := s.refs(ctx, tenant)
	if err != nil {
		return Info{}, err
	}
	if len(refs) == 0 {
		return Info{}, fmt.Errorf("snapshot: tenant %q: %w", tenant, ErrNotFound)
	}
	ref := refs[0]
	for _, r := range refs[1:] {
		if r.Gen > ref.Gen || r.Gen == ref.Gen && r.Epoch > ref.Epoch {
			ref = r
		}
	}
	attrs, err := s.bucket.Attributes(ctx, key(tenant, ref))
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
	return Info{Tenant: tenant, Ref: ref, TakenAt: takenAt.UTC(), Bytes: attrs.Size, Files: files}, nil
}

// refs lists the snapshots of tenant in the bucket, in no order.
func (s *Store) refs(ctx context.Context, tenant string) ([]Ref, error) {
	var out []Ref
	it := s.bucket.List(&blob.ListOptions{Prefix: tenant + "/"})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("snapshot: tenant %q: list: %w", tenant, err)
		}
		if r, ok := parseKey(tenant, obj.Key); ok && !obj.IsDir {
			out = append(out, r)
		}
	}
}

// Prune removes the tenant's snapshots older than keep (a lower
// generation, or keep's generation from another epoch: an upload that was
// never recorded). Newer ones stay, so a node that was paused before it
// pruned cannot remove what the next holder stored since.
func (s *Store) Prune(ctx context.Context, tenant string, keep Ref) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	refs, err := s.refs(ctx, tenant)
	if err != nil {
		return err
	}
	for _, r := range refs {
		if r.Gen > keep.Gen || r == keep {
			continue
		}
		if err := s.bucket.Delete(ctx, key(tenant, r)); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return fmt.Errorf("snapshot: prune tenant %q: %s: %w", tenant, r, err)
		}
	}
	return nil
}

// Restore downloads tenant's snapshot ref and puts it in dir's place: it
// extracts into a new sibling dir (".<base>.restore-*"), fsyncs every file
// and dir of it, checks the archive (its manifest must name tenant and ref;
// with keys, a key of the store must decrypt it and its tag must match),
// then swaps it with dir (atomically where the file system can, see
// replaceDir), fsyncs the parent and removes the old tree. dir's parent
// must exist; dir need not, and must be neither a symlink (refused) nor a
// mount point (the swap fails). The restored tree has dirs 0700, files 0600
// and the archived mtimes (to the second). dir's own profile lock file, if
// any, is kept (hard-linked into the new tree), so a lock held on it stays
// held. The caller makes sure no Chrome runs on dir.
//
// On any error (ErrNotFound, ErrCorrupt, ctx ended, disk full) dir is left
// as it was and the temp dir is removed; the one exception is a failed
// fsync of the parent after the swap, reported with dir already replaced.
// Temp dirs of a Restore of dir that died half-way are removed first.
// Returns the Info restored, from the archive's own manifest.
func (s *Store) Restore(ctx context.Context, tenant, dir string, ref Ref) (_ Info, err error) {
	if err := checkTenant(tenant); err != nil {
		return Info{}, err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("snapshot: restore tenant %q %s to %s: %w", tenant, ref, dir, err)
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

	r, err := s.bucket.NewReader(ctx, key(tenant, ref), nil)
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
	m, err := s.open(r, tenant, ref, func(archive io.Reader) (manifest, error) {
		return extract(ctx, archive, root, tenant, ref)
	})
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
	return Info{Tenant: tenant, Ref: ref, TakenAt: m.TakenAt.UTC(), Bytes: r.Size(), Files: m.Files}, nil
}

// open runs read on the archive of the object r: r itself without keys;
// else its age decryption, and once read has returned, the check of the
// tag that ends the object (any key of the store). Every failure of the
// check wraps ErrCorrupt.
func (s *Store) open(r *blob.Reader, tenant string, ref Ref, read func(io.Reader) (manifest, error)) (manifest, error) {
	if !s.Encrypted() {
		return read(r)
	}
	size := r.Size()
	if size < tagSize {
		return manifest{}, corrupt(errors.New("shorter than its tag: not a sealed snapshot"))
	}
	body := io.LimitReader(r, size-tagSize)
	macs := make([]io.Writer, len(s.keys))
	sums := make([]func() []byte, len(s.keys))
	ids := make([]age.Identity, len(s.keys))
	for i, k := range s.keys {
		h := k.mac(tenant, ref)
		macs[i], sums[i], ids[i] = h, func() []byte { return h.Sum(nil) }, k.id
	}
	ct := io.TeeReader(body, io.MultiWriter(macs...))
	dec, err := age.Decrypt(ct, ids...)
	if err != nil {
		return manifest{}, corrupt(fmt.Errorf("no key of this store opens it (plaintext, another key, or damaged): %w", err))
	}
	m, err := read(dec)
	if err != nil {
		return manifest{}, err
	}
	if _, err := io.Copy(io.Discard, ct); err != nil {
		return manifest{}, err
	}
	tag := make([]byte, tagSize)
	if _, err := io.ReadFull(r, tag); err != nil {
		return manifest{}, corrupt(fmt.Errorf("reading its tag: %w", err))
	}
	for _, sum := range sums {
		if hmac.Equal(sum(), tag) {
			return m, nil
		}
	}
	return manifest{}, corrupt(fmt.Errorf("its tag does not authenticate it as tenant %q %s", tenant, ref))
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
