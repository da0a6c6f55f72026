package waweb

import (
	"context"
	"errors"
)

// File is a file to attach to a message (DESIGN.md fact 19).
type File struct {
	// Path is a local file the browser can read. The recipient sees its
	// base name, so the caller gives it the message's file name (a link
	// or copy of the stored bytes under that name).
	Path     string
	MimeType string
	Size     int64
	// Document sends it through the documents input (accept="*") as a file
	// card; false sends a picture through the photos input.
	Document bool
}

// PrepareFile opens the chat with digits, attaches f (the attach menu, the
// file set on its input, the preview) and enters caption in the preview's
// caption box until the editor holds it (facts 7 and 17). Nothing is sent;
// Click and WaitAck then work as for a text draft.
func (p *Page) PrepareFile(ctx context.Context, digits, caption string, f File) (Draft, error) {
	return Draft{}, errors.New("waweb: PrepareFile: not built yet")
}
