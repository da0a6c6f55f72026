// Package diskio holds what the media store and the snapshot store share
// of disks and buckets: opening a bucket URL (file:// with private dirs),
// fsyncing a path (a directory after a rename in it), and making a file://
// bucket's upload temp file private before any byte is written to it.
package diskio

import (
	"context"
	"net/url"
	"os"
	"path/filepath"

	"gocloud.dev/blob"

	// The bucket URL schemes of --profile-store.
	_ "gocloud.dev/blob/azureblob" // azblob://container
	_ "gocloud.dev/blob/fileblob"  // file:///dir
	_ "gocloud.dev/blob/gcsblob"   // gs://bucket
	_ "gocloud.dev/blob/memblob"   // mem://
	_ "gocloud.dev/blob/s3blob"    // s3://bucket?region=…
)

// OpenBucket opens a gocloud.dev/blob URL. With file://, dirs are created
// 0700 unless dir_file_mode says otherwise, and an upload's temp file sits
// next to its object unless no_tmp_dir is given (so that a rename commits
// it on the same file system); root is then the bucket's dir, its prefix
// included, and "" for any other scheme.
func OpenBucket(ctx context.Context, rawURL string) (b *blob.Bucket, root string, err error) {
	if u, err := url.Parse(rawURL); err == nil && u.Scheme == "file" {
		q := u.Query()
		if q.Get("dir_file_mode") == "" {
			q.Set("dir_file_mode", "0700")
		}
		if _, ok := q["no_tmp_dir"]; !ok {
			q.Set("no_tmp_dir", "true")
		}
		u.RawQuery = q.Encode()
		rawURL = u.String()
		root = filepath.Join(filepath.FromSlash(u.Path), filepath.FromSlash(q.Get("prefix")))
	}
	b, err = blob.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, "", err
	}
	return b, root, nil
}

// SyncPath fsyncs the file or directory at p; after a rename in a
// directory, syncing the directory makes the rename durable.
func SyncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// PrivateTemp is a gocloud blob.WriterOptions.BeforeWrite: it makes
// fileblob's temp file of an upload 0600 before anything is written to it
// (the commit renames it, mode and all). Other drivers have no file: it
// does nothing.
func PrivateTemp(as func(any) bool) error {
	var f *os.File
	if as(&f) && f != nil {
		return f.Chmod(0o600)
	}
	return nil
}
