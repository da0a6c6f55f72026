package snapshot

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/klauspost/compress/zstd"
)

// The archive format: a zstd stream (with its content checksum) of a tar
// whose first entry is the manifest, then the profile's dirs and regular
// files in walk order (parents before children), names relative to the
// profile dir with '/' separators, modes 0700/0600, mtimes to the second.
const (
	manifestName = ".wapool-snapshot.json"
	// formatVersion 2: the manifest names the generation and epoch, and the
	// archive may be sealed (crypt.go). Version 1 (one object per tenant,
	// no generation) is not read any more.
	formatVersion = 2
	contentType   = "application/zstd"
)

// manifest is the archive's first entry.
type manifest struct {
	Format  int       `json:"format"`   // formatVersion
	Tenant  string    `json:"tenant"`   // whose profile this is
	Gen     uint64    `json:"gen"`      // Ref.Gen
	Epoch   uint64    `json:"epoch"`    // Ref.Epoch
	TakenAt time.Time `json:"taken_at"` // when Save started
	Files   int       `json:"files"`    // regular files in the archive
}

// entry is one dir or regular file of the profile that goes in the archive.
type entry struct {
	name  string // relative, '/'-separated
	dir   bool
	mtime time.Time
}

// scan walks the profile under root and returns what goes in the archive:
// every dir and regular file not excluded, in walk order, and how many
// regular files there are.
func scan(ctx context.Context, root *os.Root) ([]entry, int, error) {
	var out []entry
	files := 0
	err := fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		if excluded(name) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil // symlink, socket, FIFO, device
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, entry{name: name, dir: d.IsDir(), mtime: info.ModTime()})
		if !d.IsDir() {
			files++
		}
		return nil
	})
	return out, files, err
}

// writeArchive writes the archive of entries (from scan of root) to w.
func writeArchive(ctx context.Context, w io.Writer, root *os.Root, m manifest, entries []entry) error {
	zw, err := zstd.NewWriter(w,
		zstd.WithEncoderLevel(zstd.SpeedDefault),
		// Synchronous: no goroutines of the encoder's own, and one core
		// for a snapshot on a node whose cores run browsers.
		zstd.WithEncoderConcurrency(1))
	if err != nil {
		return err
	}
	defer zw.Close() // a no-op after the Close below; frees the encoder on errors
	tw := tar.NewWriter(zw)

	mb, err := json.Marshal(m)
	if err != nil {
		return err
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: manifestName, Mode: 0o600, Size: int64(len(mb)), ModTime: m.TakenAt.Truncate(time.Second)}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := tw.Write(mb); err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeEntry(tw, root, e); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// writeEntry writes one dir or file to tw. A file's header comes from the
// open file, so its size is the size that is copied; a file that changed
// type, shrank or grew while archived fails the snapshot: the profile was
// not at rest.
func writeEntry(tw *tar.Writer, root *os.Root, e entry) error {
	if e.dir {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: e.name + "/", Mode: 0o700, ModTime: e.mtime.Truncate(time.Second)})
	}
	f, err := root.Open(e.name)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s: no longer a regular file (is Chrome still running?)", e.name)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o600, Size: info.Size(), ModTime: info.ModTime().Truncate(time.Second)}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.CopyN(tw, f, hdr.Size)
	if err == io.EOF {
		return fmt.Errorf("%s: shrank from %d to %d bytes while archived (is Chrome still running?)", e.name, hdr.Size, n)
	}
	if err != nil {
		return err
	}
	if m, _ := f.Read(make([]byte, 1)); m > 0 {
		return fmt.Errorf("%s: grew past %d bytes while archived (is Chrome still running?)", e.name, hdr.Size)
	}
	return nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
