package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/wapool/wapool/internal/media"
	"github.com/wapool/wapool/waweb"
)

// Messages that carry a file (DESIGN.md fact 19; sessionstore.Message.Media).
// The browser sends a file under its base name, so each attempt gives it
// the message's file name: a hard link (else a copy) of the media store's
// local file, in a directory of its own under the tenant's TmpDir:
//
//	<TmpDir>/media/<message id>/<Media.Filename>
//
// The runner goroutine alone uses the area; an attempt at a file removes
// what earlier attempts left there for other messages, and its own
// directory once it ends, except while the message is clicked and still
// pending: the page may still be uploading the file (its bubble shows
// msg-time), and the next attempt, a lookup, waits for that upload.

// mediaArea is the directory under a tenant's TmpDir that holds the files
// of messages being sent.
const mediaArea = "media"

// prepare opens m's chat and enters its text (waweb Prepare) or, for a
// message with a file, attaches the file with its text as the caption
// (waweb PrepareFile). Nothing is sent.
func (r *runner) prepare(ctx context.Context, m Message) (waweb.Draft, error) {
	if m.Media == nil {
		return r.page.Prepare(ctx, m.To, m.Text)
	}
	f, err := r.stageMedia(ctx, m)
	if err != nil {
		return waweb.Draft{}, err
	}
	return r.page.PrepareFile(ctx, m.To, m.Text, f)
}

// mediaDir is the directory of m's file for the browser.
func (r *runner) mediaDir(m Message) (string, error) {
	tmp, err := r.s.store.TmpDir(r.id)
	if err != nil {
		return "", err
	}
	return filepath.Join(tmp, mediaArea, m.ID), nil
}

// stageMedia gives the browser m's file under its name: the media store's
// local copy (Config.Media), linked or copied into m's directory.
func (r *runner) stageMedia(ctx context.Context, m Message) (waweb.File, error) {
	md := m.Media
	short := md.SHA256[:min(len(md.SHA256), 12)]
	if r.s.cfg.Media == nil {
		return waweb.File{}, fmt.Errorf("message %q carries a file (sha256 %s…) but the daemon has no media store", m.ID, short)
	}
	if err := media.CheckFilename(md.Filename); err != nil {
		return waweb.File{}, fmt.Errorf("message %q: %w", m.ID, err)
	}
	src, err := r.s.cfg.Media.Local(ctx, md.SHA256)
	if err != nil {
		return waweb.File{}, fmt.Errorf("message %q: its file (sha256 %s…) is not available: %w", m.ID, short, err)
	}
	st, err := os.Stat(src)
	switch {
	case err != nil:
		return waweb.File{}, fmt.Errorf("message %q: its file (sha256 %s…) is not available: %w", m.ID, short, err)
	case st.Size() != md.Size:
		return waweb.File{}, fmt.Errorf("message %q: its file (sha256 %s…) holds %d bytes, want %d", m.ID, short, st.Size(), md.Size)
	}
	dir, err := r.mediaDir(m)
	if err != nil {
		return waweb.File{}, err
	}
	r.removeOtherMedia(filepath.Dir(dir), m.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return waweb.File{}, fmt.Errorf("message %q: a directory for its file: %w", m.ID, err)
	}
	dst := filepath.Join(dir, md.Filename)
	// An earlier clicked attempt left the file the page may be uploading:
	// it stays as it is.
	if have, err := os.Stat(dst); err != nil || have.Size() != md.Size {
		if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
			return waweb.File{}, fmt.Errorf("message %q: %w", m.ID, err)
		}
		if err := linkOrCopy(src, dst); err != nil {
			return waweb.File{}, fmt.Errorf("message %q: giving its file its name: %w", m.ID, err)
		}
	}
	// A picture under a picture's name (media.AsPicture) goes through the
	// photos input; every other file as a document, as does a picture with
	// AsDocument.
	return waweb.File{Path: dst, MimeType: md.MimeType, Size: md.Size, Document: md.AsDocument || !media.AsPicture(md.Filename, md.MimeType)}, nil
}

// unstageMedia removes m's file for the browser after an attempt, unless m
// is clicked and still pending (the page may still be uploading it).
func (r *runner) unstageMedia(log *zap.Logger, m Message) {
	if cur, err := r.s.store.GetMessage(r.id, m.ID); err == nil && cur.Clicked && cur.State.Pending() {
		return
	}
	dir, err := r.mediaDir(m)
	if err == nil {
		err = os.RemoveAll(dir)
	}
	if err != nil {
		log.Warn("removing the message's file after the attempt", zap.Error(err))
	}
}

// removeOtherMedia removes what earlier attempts left in the media area
// for messages other than keep (a crash, a message finished elsewhere).
func (r *runner) removeOtherMedia(area, keep string) {
	entries, err := os.ReadDir(area)
	if err != nil {
		return // none yet
	}
	for _, e := range entries {
		if e.Name() == keep {
			continue
		}
		if err := os.RemoveAll(filepath.Join(area, e.Name())); err != nil {
			r.log.Warn("removing a file left by an earlier attempt", zap.String("message", e.Name()), zap.Error(err))
		}
	}
}

// linkOrCopy makes dst a hard link to src, or a copy of it where a link
// cannot be made (another file system).
func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(dst)
		return err
	}
	return nil
}
