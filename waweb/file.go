package waweb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/wapool/wapool/internal/redact"
)

// File is a file to attach to a message (DESIGN.md fact 19).
type File struct {
	// Path is a local file the browser can read. The recipient sees its
	// base name, so the caller gives it the message's file name (a link
	// or copy of the stored bytes under that name).
	Path     string
	MimeType string
	// Size is the file's size in bytes; 0: PrepareFile reads it. It sets
	// the wait for the bubble's ack (Limits.AckFor).
	Size int64
	// Document sends it through the documents input (accept="*") as a file
	// card; false sends a picture through the photos input.
	Document bool
}

// SendFile sends f with caption (maybe empty) to digits: PrepareFile,
// Click and WaitAck in a row, as Send is for a text, with Send's errors.
func (p *Page) SendFile(ctx context.Context, digits, caption string, f File) (waMessageID string, err error) {
	d, err := p.PrepareFile(ctx, digits, caption, f)
	if err != nil {
		return "", err
	}
	return p.send(ctx, d)
}

// liveProbe is what PrepareFile enters in the compose box, and empties, to
// know the chat's editor is live.
const liveProbe = "."

// PrepareFile opens the chat with digits, attaches f (the attach menu, the
// file set on its input, the preview) and enters caption in the preview's
// caption box until the editor holds it (facts 7 and 17). Nothing is sent;
// Click and WaitAck then work as for a text draft.
//
// In order (fact 19):
//
//	a preview left open (by a crash, an earlier attempt) ──▶ discarded (Escape, else its close button)
//	open the chat (as Prepare) ──▶ enter "." in the compose box until the editor keeps it, and empty it
//	     (fact 17: the editor is live once the chat's messages have loaded, so the noted bubbles are all of them)
//	attach button ──▶ the menu's input (documents accept="*" when f.Document, else photos and videos)
//	DOM.setFileInputFiles ──▶ the preview's caption box shows (within Limits.ChatOpen)
//	enter the caption until the caption box's editor holds all of it in its own text elements
//	     (it has no send button of its own that shows with text; re-entered while the editor drops it,
//	     within Limits.ChatOpen; an empty caption is an empty box) and the preview's send button shows
//	note the chat's outgoing bubbles ──▶ Draft{File: &f, Text: caption, Noted, Out}
//
// Errors (nothing was sent with any of them): those of Prepare, and a
// *ContractError naming attach_button, file_input_media or
// file_input_document, preview_caption, preview_send_button or
// preview_close_button when its element does not show where it must.
func (p *Page) PrepareFile(ctx context.Context, digits, caption string, f File) (Draft, error) {
	if err := checkDigits(digits); err != nil {
		return Draft{}, err
	}
	caption = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(caption)
	if err := f.check(); err != nil {
		return Draft{}, err
	}
	cctx, cancel := p.with(ctx)
	defer cancel()
	d, err := p.prepareFile(cctx, digits, caption, f)
	if err != nil {
		return Draft{}, fmt.Errorf("recipient %s: %w", redact.Phone(digits), err)
	}
	return d, nil
}

func (p *Page) prepareFile(ctx context.Context, digits, caption string, f File) (Draft, error) {
	if err := p.closePreview(ctx); err != nil {
		return Draft{}, err
	}
	if err := p.openChat(ctx, digits); err != nil {
		return Draft{}, err
	}
	if _, err := p.enter(ctx, digits, liveProbe, nil); err != nil {
		return Draft{}, fmt.Errorf("waiting for the chat's editor: %w", err)
	}
	if err := p.clearCompose(ctx); err != nil {
		return Draft{}, err
	}
	if err := p.attach(ctx, f); err != nil {
		return Draft{}, err
	}
	return p.enter(ctx, digits, caption, &f)
}

// check makes f.Path absolute and f.Size the file's size, and refuses a
// path that is not a regular file or whose size is not f.Size.
func (f *File) check() error {
	if f.Path == "" {
		return errors.New("waweb: file: no path")
	}
	abs, err := filepath.Abs(f.Path)
	if err != nil {
		return fmt.Errorf("waweb: file: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("waweb: file: %w", err)
	}
	switch {
	case !st.Mode().IsRegular():
		return fmt.Errorf("waweb: file %q is not a regular file", filepath.Base(abs))
	case f.Size != 0 && f.Size != st.Size():
		return fmt.Errorf("waweb: file %q holds %d bytes, want %d", filepath.Base(abs), st.Size(), f.Size)
	}
	f.Path, f.Size = abs, st.Size()
	return nil
}

// inputKey is the Selectors key of the attach menu's input f goes through.
func (f File) inputKey() string {
	if f.Document {
		return "file_input_document"
	}
	return "file_input_media"
}

// attach opens the open chat's attach menu, sets f on its input and waits
// for the preview's caption box (fact 19).
func (p *Page) attach(ctx context.Context, f File) error {
	if err := p.attachMenu(ctx, f); err != nil {
		return err
	}
	arg := map[string]any{"doc": f.Document}
	if err := p.setFile(ctx, arg, f); err != nil {
		return err
	}
	res, ok, err := waitJS[string](ctx, p, jsPreviewShown, nil, p.limits.ChatOpen)
	switch {
	case err != nil:
		return fmt.Errorf("file preview: %w", err)
	case !ok:
		return contractErr("preview_caption", "no preview with a caption box showed within %v after the file was set on its input", p.limits.ChatOpen)
	case res == "dialog":
		return errFileRefused
	}
	return nil
}

// errFileRefused: the app answered a file set on its input with a dialog,
// not a preview (the dialog was closed).
var errFileRefused = fmt.Errorf("the page showed a dialog instead of the file's preview (closed): %w", ErrUnexpectedPage)

// attachMenu opens the open chat's attach menu, unless f's input shows
// already, and waits for that input.
func (p *Page) attachMenu(ctx context.Context, f File) error {
	arg := map[string]any{"doc": f.Document}
	r, err := eval[string](ctx, p, jsOpenAttach, arg)
	switch {
	case err != nil:
		return fmt.Errorf("attach menu: %w", err)
	case r == "noattach":
		return contractErr("attach_button", "no attach button in the open chat")
	case r == "clicked":
		_, ok, err := waitJS[bool](ctx, p, jsFileInputShown, arg, p.limits.Control)
		if err != nil {
			return fmt.Errorf("attach menu: %w", err)
		}
		if !ok {
			return contractErr(f.inputKey(), "the attach menu showed no matching file input within %v", p.limits.Control)
		}
	}
	return nil
}

// setFile sets f on the attach menu's input with DOM.setFileInputFiles (no
// dialog of the system opens).
func (p *Page) setFile(ctx context.Context, arg map[string]any, f File) error {
	obj, err := chromedp.Run(ctx, chromedp.Evaluate[*runtime.RemoteObject](p.script(jsFileInput, arg)))
	if err != nil {
		return p.wrap(fmt.Errorf("file input: %w", err))
	}
	if obj == nil || obj.ObjectID == "" {
		return contractErr(f.inputKey(), "the attach menu's file input went away")
	}
	defer func() {
		_, _ = chromedp.Call(ctx, runtime.ReleaseObject, runtime.ReleaseObjectParams{ObjectID: obj.ObjectID})
	}()
	if _, err := chromedp.Call(ctx, dom.SetFileInputFiles, dom.SetFileInputFilesParams{Files: []string{f.Path}, ObjectID: obj.ObjectID}); err != nil {
		return p.wrap(fmt.Errorf("setting the file on its input: %w", err))
	}
	return nil
}

// closePreview discards a file's preview that shows (fact 19): Escape in
// its caption box, else a click on its close button. Nothing is sent. A
// preview that stays is a *ContractError (preview_close_button): a file set
// now would join it.
func (p *Page) closePreview(ctx context.Context) error {
	open, err := eval[bool](ctx, p, jsPreviewOpen, nil)
	if err != nil {
		return fmt.Errorf("file preview: %w", err)
	}
	if !open {
		return nil
	}
	if _, err := eval[int](ctx, p, jsFocusCompose, map[string]any{"file": true}); err != nil {
		return fmt.Errorf("file preview: %w", err)
	}
	if err := press(ctx, keyEscape); err != nil {
		return p.wrap(err)
	}
	for try := 0; ; try++ {
		_, gone, err := waitJS[bool](ctx, p, jsPreviewGone, nil, p.limits.Control)
		switch {
		case err != nil:
			return fmt.Errorf("discarding the file preview: %w", err)
		case gone:
			return nil
		case try == 1:
			return contractErr("preview_close_button", "a file's preview stays open after Escape and a click on its close button")
		}
		clicked, err := eval[bool](ctx, p, jsClickPreviewClose, nil)
		switch {
		case err != nil:
			return fmt.Errorf("discarding the file preview: %w", err)
		case !clicked:
			return contractErr("preview_close_button", "a file's preview stays open after Escape and has no close button")
		}
	}
}
