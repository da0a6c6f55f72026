// Package diskio holds the two file-system steps that the media store and
// the snapshot store share: fsyncing a path (a directory after a rename in
// it), and making a file:// bucket's upload temp file private before any
// byte is written to it.
package diskio

import "os"

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
