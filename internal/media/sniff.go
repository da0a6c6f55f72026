package media

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gabriel-vasile/mimetype"
)

// MaxFilenameLen is the longest file name, in bytes: what most file
// systems take (the browser uploads the file under this name).
const MaxFilenameLen = 255

// ErrBadFilename: a file name that is empty, a path, or not a name a file
// can have.
var ErrBadFilename = errors.New("bad file name")

// pictureTypes are the types that go out as pictures (DESIGN.md fact 19):
// WhatsApp shows them inline. Everything else goes as a document.
var pictureTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/webp": true}

// SniffLen is how many of a file's first bytes Sniff reads: mimetype's
// default read limit (4 KiB in v1.4; Detect cuts its input there). A
// stream keeps that many for Sniff, which then answers as for the whole
// file.
const SniffLen = 4096

// Sniff returns the MIME type of data, read from its first bytes (at most
// SniffLen; data is not copied): "image/jpeg", "application/pdf",
// "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
// "text/plain; charset=utf-8", … and "application/octet-stream" when the
// bytes say nothing known.
func Sniff(data []byte) string {
	return mimetype.Detect(data).String()
}

// pictureExts are the name endings under which a picture goes out as one:
// the browser gives a file the type its name says, and the photos input
// (fact 19) is for pictures and videos.
var pictureExts = map[string]bool{".jpg": true, ".jpeg": true, ".jfif": true, ".png": true, ".webp": true}

// IsPicture tells whether a file of this (sniffed) type is a picture:
// JPEG, PNG and WebP are.
func IsPicture(mimeType string) bool { return pictureTypes[mimeType] }

// AsPicture tells whether a file named filename, of the sniffed mimeType,
// goes out as a picture: its bytes are a picture and its name ends as a
// picture's (any case). Else it goes as a document, which takes any file:
// a PNG named photo.pdf is given the type application/pdf by the browser,
// which the photos input is not for.
func AsPicture(filename, mimeType string) bool {
	return IsPicture(mimeType) && pictureExts[strings.ToLower(filepath.Ext(filename))]
}

// CheckFilename accepts the name of a file as the recipient sees it: 1 to
// MaxFilenameLen bytes of UTF-8, not blank, without a path separator ('/'
// or '\\'), NUL or another control character, and neither "." nor "..".
// A path is refused rather than cut to its base name: the caller meant
// something else. Errors wrap ErrBadFilename.
func CheckFilename(name string) error {
	bad := func(why string) error { return fmt.Errorf("file name %q: %s: %w", name, why, ErrBadFilename) }
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("file name empty: %w", ErrBadFilename)
	case len(name) > MaxFilenameLen:
		return fmt.Errorf("file name of %d bytes, more than %d: %w", len(name), MaxFilenameLen, ErrBadFilename)
	case !utf8.ValidString(name):
		return fmt.Errorf("file name not UTF-8: %w", ErrBadFilename)
	case name == "." || name == "..":
		return bad("a directory, not a file")
	case strings.ContainsAny(name, `/\`):
		return bad("a path: give the file's base name")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("file name holds control character %U (NUL, a line break, …): %w", r, ErrBadFilename)
		}
	}
	return nil
}
