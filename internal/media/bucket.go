package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"filippo.io/age"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/wapool/wapool/internal/diskio"
)

// bucketPrefix is where the files go in the shared bucket: no tenant id
// starts with "_", so no tenant's snapshots ("<tenant>/…") are under it.
const bucketPrefix = "_media/"

// Blob metadata of a file in the bucket.
const (
	metaSealed = "sealed" // "age" when encrypted, absent when not
)

// openBucket opens the bucket of url under bucketPrefix, as
// internal/snapshot opens it (diskio.OpenBucket).
func openBucket(ctx context.Context, rawURL string) (*blob.Bucket, error) {
	b, _, err := diskio.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("media: open bucket: %w", err)
	}
	return blob.PrefixedBucket(b, bucketPrefix), nil
}

// upload puts the bytes that open gives in the bucket as sha, sealed when
// the store has keys, unless an object of that name is there (then open is
// not called). The upload commits on Close, so an object that exists is
// whole.
func (s *Store) upload(ctx context.Context, sha string, open func() (io.ReadCloser, error)) error {
	ok, err := s.bucket.Exists(ctx, sha)
	if err != nil {
		return fmt.Errorf("media: bucket: %s: %w", short(sha), err)
	}
	if ok {
		return nil
	}
	opts := &blob.WriterOptions{ContentType: "application/octet-stream", BeforeWrite: diskio.PrivateTemp}
	if s.Encrypted() {
		opts.Metadata = map[string]string{metaSealed: "age"}
	}
	// Cancelling wctx before Close aborts the upload: nothing is committed.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, sha, opts)
	if err != nil {
		return fmt.Errorf("media: bucket: %s: %w", short(sha), err)
	}
	data, err := open()
	if err != nil {
		cancel()
		_ = w.Close()
		return fmt.Errorf("media: upload %s: %w", short(sha), err)
	}
	defer data.Close()
	if err := s.seal(w, data); err != nil {
		cancel()
		_ = w.Close() // returns the cancellation; the upload is dropped
		return fmt.Errorf("media: upload %s: %w", short(sha), err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("media: upload %s: %w", short(sha), err)
	}
	return nil
}

// seal copies data to w: as it is without keys, else encrypted with age to
// the first key (in chunks: data is streamed, never held whole; a
// bytes.Reader writes its own slice).
func (s *Store) seal(w io.Writer, data io.Reader) error {
	if !s.Encrypted() {
		_, err := io.Copy(w, data)
		return err
	}
	enc, err := age.Encrypt(w, s.cfg.Keys[0].Recipient())
	if err != nil {
		return err
	}
	if _, err := io.Copy(enc, data); err != nil {
		return err
	}
	return enc.Close()
}

// fetch downloads sha from the bucket into Dir/<sha>, decrypting it when
// the store has keys and checking that the bytes hash to sha before they
// are put in place.
func (s *Store) fetch(ctx context.Context, sha string) error {
	r, err := s.bucket.NewReader(ctx, sha, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("media: %s: not in the shared bucket either: %w", short(sha), ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("media: bucket: %s: %w", short(sha), err)
	}
	defer r.Close()
	var body io.Reader = r
	if s.Encrypted() {
		ids := make([]age.Identity, len(s.cfg.Keys))
		for i, k := range s.cfg.Keys {
			ids[i] = k
		}
		dec, err := age.Decrypt(r, ids...)
		if err != nil {
			return fmt.Errorf("media: %s: no key of this store opens it (plaintext, another key, or damaged): %v: %w", short(sha), err, ErrCorrupt)
		}
		body = dec
	}
	return s.install(sha, func(f *os.File) error {
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(f, h), body); err != nil {
			return err
		}
		if got := h.Sum(nil); !bytes.Equal(got, mustHex(sha)) {
			return fmt.Errorf("the bytes fetched hash to %s: %w", short(hex.EncodeToString(got)), ErrCorrupt)
		}
		return nil
	})
}

// mustHex decodes a hash that isSHA256Hex accepted.
func mustHex(sha string) []byte {
	b, _ := hex.DecodeString(sha)
	return b
}
