package fakewa

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Files attached to messages (fact 19): the page reads the file's bytes and
// posts them with the message to /_fakeapi/upload; the server hashes them
// as they arrive and keeps only their name, type, size and SHA-256.

// MaxUpload is the largest file the fake accepts, in bytes (100 MiB; the
// page refuses a larger one with a dialog, the server with 413).
const MaxUpload = 100 << 20

// mib is a mebibyte, the unit of Options.UploadPerMiB.
const mib = 1 << 20

// Media is the file of a message (GET /_fake/messages, "media"): its name
// and type as the page's file input gave them (a file without a type is
// application/octet-stream), its size and the SHA-256 of its bytes as the
// server received them (lower-case hex). AsDocument is true for a file
// the page sends as a file card: one set on the documents input, or one
// that is neither a picture nor a video; false for a picture or a video
// set on the photos and videos input.
type Media struct {
	Filename   string `json:"filename"`
	MimeType   string `json:"mime_type"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256"`
	AsDocument bool   `json:"as_document"`
}

// pageMedia is a message's file as the page draws it (no hash).
type pageMedia struct {
	Filename   string `json:"filename"`
	MimeType   string `json:"mime_type"`
	Size       int64  `json:"size"`
	AsDocument bool   `json:"as_document"`
}

func (m *Media) toPage() *pageMedia {
	if m == nil {
		return nil
	}
	return &pageMedia{Filename: m.Filename, MimeType: m.MimeType, Size: m.Size, AsDocument: m.AsDocument}
}

// label is what the chat list shows for a message with a file and no
// caption.
func (m *Media) label() string {
	switch {
	case m.AsDocument:
		return m.Filename
	case strings.HasPrefix(m.MimeType, "video/"):
		return "Video"
	}
	return "Photo"
}

// uploadTime is how long a file of size bytes takes to upload:
// Options.UploadPerMiB for each MiB, and at least a quarter of it.
func uploadTime(perMiB time.Duration, size int64) time.Duration {
	d := time.Duration(float64(perMiB) * float64(size) / mib)
	return max(d, perMiB/4)
}

// uploadMeta is the first part of an upload: the message without its file.
type uploadMeta struct {
	ID         string `json:"id"`
	To         string `json:"to"`
	Caption    string `json:"caption"`
	Filename   string `json:"filename"`
	MimeType   string `json:"mime_type"`
	AsDocument bool   `json:"as_document"`
}

// apiUpload records a message with a file (fact 19). The body is
// multipart/form-data: a part "meta" (uploadMeta as JSON), then a part
// "file" (the bytes), which the server hashes as they arrive and keeps no
// copy of. The file then "uploads": the answer comes only once
// uploadTime(Options.UploadPerMiB, size) has passed since the request
// began, and only then does the server record the message (ack 0), so a
// page that leaves meanwhile has sent nothing. The answer is the one of
// /_fakeapi/send. A retry of a recorded id is not a second message.
func (s *Server) apiUpload(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sess, now := s.lockLinked(w, r)
	if sess == nil {
		return
	}
	perMiB := s.opts.UploadPerMiB
	s.mu.Unlock()
	limit := s.maxUpload
	if r.ContentLength > limit+1<<20 {
		writeError(w, http.StatusRequestEntityTooLarge, errTooLarge)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+1<<20) // the file and its meta
	meta, media, err := readUpload(r, limit)
	if err != nil {
		status := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) || errors.Is(err, errTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		writeError(w, status, err)
		return
	}
	switch {
	case !msgIDPattern.MatchString(meta.ID):
		writeError(w, http.StatusBadRequest, errors.New("bad message id"))
		return
	case meta.To != digits(meta.To) || meta.To == "":
		writeError(w, http.StatusBadRequest, errNotOnWhatsApp)
		return
	}
	if !s.pause(r, time.Until(start.Add(uploadTime(perMiB, media.Size)))) {
		return // the page left during the upload: nothing was sent
	}
	sess, now = s.lockLinked(w, r)
	if sess == nil {
		return
	}
	defer s.mu.Unlock()
	s.recordLocked(w, sess, &message{id: meta.ID, to: meta.To, text: meta.Caption, media: media}, now)
}

var errTooLarge = fmt.Errorf("the file is larger than the %d MiB limit", MaxUpload>>20)

// readUpload reads an upload's parts: meta, then file (at most limit
// bytes), hashed as it is read.
func readUpload(r *http.Request, limit int64) (uploadMeta, *Media, error) {
	var meta uploadMeta
	mr, err := r.MultipartReader()
	if err != nil {
		return meta, nil, err
	}
	p, err := mr.NextPart()
	if err != nil || p.FormName() != "meta" {
		return meta, nil, fmt.Errorf(`the first part must be "meta": %v`, err)
	}
	d := json.NewDecoder(io.LimitReader(p, 1<<20))
	d.DisallowUnknownFields()
	if err := d.Decode(&meta); err != nil {
		return meta, nil, fmt.Errorf("meta: %w", err)
	}
	if p, err = mr.NextPart(); err != nil || p.FormName() != "file" {
		return meta, nil, fmt.Errorf(`the second part must be "file": %v`, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(p, limit+1))
	switch {
	case err != nil:
		return meta, nil, err
	case n > limit:
		return meta, nil, errTooLarge
	}
	if meta.Filename == "" {
		meta.Filename = p.FileName()
	}
	typ := meta.MimeType
	if _, _, err := mime.ParseMediaType(typ); err != nil {
		typ = "application/octet-stream"
	}
	asDoc := meta.AsDocument || !(strings.HasPrefix(typ, "image/") || strings.HasPrefix(typ, "video/"))
	return meta, &Media{Filename: meta.Filename, MimeType: typ, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), AsDocument: asDoc}, nil
}
