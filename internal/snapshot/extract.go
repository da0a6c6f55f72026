package snapshot

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

const (
	// maxManifestSize bounds the manifest entry; a real one is ~100 bytes.
	maxManifestSize = 64 << 10
	// maxWindow bounds the zstd window a stream may ask for (the encoder
	// uses 8 MiB at SpeedDefault), so a bad archive cannot ask for GBs.
	maxWindow = 64 << 20
)

// extract reads the archive from r into the empty dir at root and returns its
// manifest. It writes only dirs (0700) and regular files (0600) under root,
// fsyncs every file and dir it wrote, and sets their mtimes. It refuses, with
// an error wrapping ErrCorrupt, an archive that is not one Save writes: a
// missing or foreign manifest, a name that is absolute or climbs out ("..")
// or is not clean, a symlink, hard link or any other kind of entry, a file
// twice, a file count that differs from the manifest's, or a bad checksum.
// Entries that the exclusion table names are skipped (an archive from an
// older table stays restorable). Writing goes through os.Root, so even a
// symlink that got into the tree otherwise could not lead outside.
func extract(ctx context.Context, r io.Reader, root *os.Root, tenant string, ref Ref) (manifest, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow))
	if err != nil {
		return manifest{}, err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)

	m, err := readManifest(tr, tenant, ref)
	if err != nil {
		return manifest{}, err
	}
	type dirTime struct {
		name  string
		mtime time.Time
	}
	dirs := []dirTime{{".", time.Time{}}}
	files := 0
	for {
		if err := ctx.Err(); err != nil {
			return manifest{}, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return manifest{}, corrupt(err)
		}
		name, err := entryName(hdr)
		if err != nil {
			return manifest{}, err
		}
		if hdr.Typeflag == tar.TypeReg {
			files++ // counted before the exclusion check: the manifest counted it
		}
		if excluded(name) {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o700); err != nil {
				return manifest{}, fmt.Errorf("%s: %w", name, err)
			}
			dirs = append(dirs, dirTime{name, hdr.ModTime})
		case tar.TypeReg:
			if err := writeFile(root, name, tr, hdr); err != nil {
				return manifest{}, err
			}
		default:
			return manifest{}, corrupt(fmt.Errorf("%q: entry of type %q: only dirs and regular files are allowed", hdr.Name, hdr.Typeflag))
		}
	}
	// The end of the tar is not the end of the stream: read that to the
	// end too, so the zstd checksum of all of it is checked.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return manifest{}, corrupt(err)
	}
	if files != m.Files {
		return manifest{}, corrupt(fmt.Errorf("%d files in the archive, its manifest says %d", files, m.Files))
	}
	// Dirs last: writing their children changed their mtimes.
	for _, d := range dirs {
		if !d.mtime.IsZero() {
			if err := root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
				return manifest{}, err
			}
		}
		if err := syncDir(root, d.name); err != nil {
			return manifest{}, err
		}
	}
	return m, nil
}

// readManifest reads the archive's first entry, which must be the manifest
// of snapshot ref of tenant in a format this package reads.
func readManifest(tr *tar.Reader, tenant string, ref Ref) (manifest, error) {
	hdr, err := tr.Next()
	if err != nil {
		return manifest{}, corrupt(fmt.Errorf("no manifest: %w", err))
	}
	if hdr.Name != manifestName || hdr.Typeflag != tar.TypeReg || hdr.Size > maxManifestSize {
		return manifest{}, corrupt(fmt.Errorf("first entry %q is not the manifest", hdr.Name))
	}
	var m manifest
	if err := json.NewDecoder(tr).Decode(&m); err != nil {
		return manifest{}, corrupt(fmt.Errorf("manifest: %w", err))
	}
	if m.Format != formatVersion {
		return manifest{}, corrupt(fmt.Errorf("format %d, this build reads %d", m.Format, formatVersion))
	}
	if m.Tenant != tenant {
		return manifest{}, corrupt(fmt.Errorf("a snapshot of tenant %q", m.Tenant))
	}
	if got := (Ref{Gen: m.Gen, Epoch: m.Epoch}); got != ref {
		return manifest{}, corrupt(fmt.Errorf("the snapshot %s, not %s", got, ref))
	}
	return m, nil
}

// entryName returns the entry's name, relative and '/'-separated, or an error
// wrapping ErrCorrupt when the name could point anywhere but below the
// profile dir.
func entryName(hdr *tar.Header) (string, error) {
	name := hdr.Name
	if hdr.Typeflag == tar.TypeDir {
		name = strings.TrimSuffix(name, "/")
	}
	if name == "" || strings.ContainsAny(name, "\\\x00") || path.Clean(name) != name ||
		!filepath.IsLocal(name) || name == manifestName {
		return "", corrupt(fmt.Errorf("entry name %q: not a clean relative path inside the profile", hdr.Name))
	}
	return name, nil
}

// writeFile creates the file name (0600; it must not exist yet) with the
// entry's contents, fsyncs it and sets its mtime.
func writeFile(root *os.Root, name string, r io.Reader, hdr *tar.Header) error {
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return corrupt(fmt.Errorf("%q: twice in the archive", name))
	}
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return corrupt(fmt.Errorf("%s: %w", name, err))
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return root.Chtimes(name, hdr.ModTime, hdr.ModTime)
}

// syncDir fsyncs the dir name under root, so the entries written in it are
// durable.
func syncDir(root *os.Root, name string) error {
	d, err := root.Open(name)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// corrupt wraps err as ErrCorrupt.
func corrupt(err error) error {
	return fmt.Errorf("%w: %w", err, ErrCorrupt)
}
