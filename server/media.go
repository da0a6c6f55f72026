package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.uber.org/zap"

	"github.com/wapool/wapool/internal/media"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// Files of Send (SendRequest.media): checked here, stored by their SHA-256
// in the media store (internal/media) before the message is enqueued, so
// that an accepted message's bytes are durable (and in cluster mode in the
// shared bucket). The declared mime_type is a hint only: the type is sniffed
// from the bytes and the sniffed one is stored, reported and decides
// picture or document (a contradiction is corrected, not refused: the bytes
// are what the recipient gets).

// DefaultMaxMediaBytes is the largest file Send takes unless told otherwise
// (wapoold --max-media-bytes): 16 MiB, what WhatsApp sends as a picture.
const DefaultMaxMediaBytes = 16 << 20

// MediaStore keeps Send's files; *media.Store implements it.
type MediaStore interface {
	// Put stores data under its SHA-256 (durably, before it returns nil)
	// and returns the hash; release is called once the message naming it
	// is stored or refused.
	Put(ctx context.Context, data []byte) (sha string, release func(), err error)
	// PutReader stores the bytes of r, read until io.EOF, as Put does
	// (SendFile), and returns their hash and size. An error of r leaves
	// nothing stored and comes back wrapped; no bytes: media.ErrEmpty.
	PutReader(ctx context.Context, r io.Reader) (sha string, size int64, release func(), err error)
}

// SetMedia lets Send take files up to maxBytes (0: DefaultMaxMediaBytes),
// stored in st. Without it a Send with a file is FAILED_PRECONDITION
// (reason MEDIA_OFF).
func (s *Server) SetMedia(st MediaStore, maxBytes int64) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxMediaBytes
	}
	s.media, s.maxMedia = st, maxBytes
}

var (
	errInvalidMedia     = errors.New("invalid file")
	errMediaTooLarge    = errors.New("file too large")
	errMediaUnavailable = errors.New("the file could not be stored")
	errMediaOff         = errors.New("this daemon takes no files")
)

// MediaTooLargeError is a file over the limit; its ErrorInfo metadata
// `max_media_bytes` holds the limit.
type MediaTooLargeError struct {
	Size, Max int64
	// AtLeast: Size is what arrived before the limit was passed (SendFile
	// stops reading there), not the whole file's size.
	AtLeast bool
}

func (e *MediaTooLargeError) Error() string {
	has := "has"
	if e.AtLeast {
		has = "has at least"
	}
	return fmt.Sprintf("the file %s %d bytes, more than the daemon's limit of %d bytes (%s, --max-media-bytes)", has, e.Size, e.Max, binaryBytes(e.Max))
}

func (e *MediaTooLargeError) Unwrap() error { return errMediaTooLarge }

// binaryBytes shows a size as people set it: "16 MiB", "256 KiB", "1.5 MiB".
func binaryBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// storeMedia checks req's file and stores its bytes, and returns what the
// message records of it; release must be called once Send has returned.
// The request's other fields that are cheap to check are checked first, so
// that a call refused for them stores nothing.
//
// Once Put has the bytes, storeMedia drops them from req (Media.Data =
// nil): from then on the browser reads the stored file, and the request
// lives as long as the call, which under WAIT_SENT is until the page has
// uploaded the file. Something keeps it that long: the gRPC metrics
// interceptor's report holds it (go-grpc-middleware's CallMeta.ReqOrNil),
// and in cluster mode the forwarder's loop. Ten 16 MiB files sent at once
// kept 160 MiB alive for the seconds of their sends (heap profile of
// internal/bench's BenchmarkMediaMemory). The forwarder hands a request
// served here on to another node only when the handler answers
// TENANT_MOVING, and Supervisor.Send never returns ErrNotHolder: a message
// for a tenant another node holds waits in the shared outbox for that node.
func (s *Server) storeMedia(ctx context.Context, req *wapoolv1.SendRequest) (_ *sessionstore.Media, release func(), err error) {
	nop := func() {}
	md := req.GetMedia()
	if err := s.checkMediaRequest(req); err != nil {
		return nil, nop, err
	}
	data := md.GetData()
	switch size := int64(len(data)); {
	case size == 0:
		return nil, nop, fmt.Errorf("%w: the file %q is empty", errInvalidMedia, md.GetFilename())
	case size > s.maxMedia:
		return nil, nop, &MediaTooLargeError{Size: size, Max: s.maxMedia}
	}
	sha, release, err := s.media.Put(ctx, data)
	md.Data = nil // stored, or refused: see above
	if err != nil {
		if ctx.Err() != nil {
			return nil, nop, ctx.Err()
		}
		s.log.Error("storing a file", zap.String("tenant", req.GetTenantId()), zap.Error(err))
		return nil, nop, fmt.Errorf("%w: %w", errMediaUnavailable, err)
	}
	return s.storedMedia(md, data, int64(len(data)), sha), release, nil
}

// storedMedia describes a stored file as the outbox keeps it: its type
// sniffed from head (the file, or at least its first media.SniffLen
// bytes), and whether it goes as a document (asked, or not a picture under
// a picture's name).
func (s *Server) storedMedia(md *wapoolv1.Media, head []byte, size int64, sha string) *sessionstore.Media {
	mime := s.sniff(md, head)
	return &sessionstore.Media{
		Filename:   md.GetFilename(),
		MimeType:   mime,
		Size:       size,
		SHA256:     sha,
		AsDocument: md.GetAsDocument() || !media.AsPicture(md.GetFilename(), mime),
	}
}

// checkMediaRequest checks what a Send with a file (or SendFile's header)
// says besides the bytes: that the daemon takes files, the tenant id, the
// number, the caption and the file name. It comes before any byte is
// stored, so that a call refused for them stores nothing.
func (s *Server) checkMediaRequest(req *wapoolv1.SendRequest) error {
	if s.media == nil {
		return errMediaOff
	}
	if err := sessionstore.ValidateTenantID(req.GetTenantId()); err != nil {
		return err
	}
	if _, err := supervisor.NormalizePhone(req.GetTo()); err != nil {
		return err
	}
	if strings.TrimSpace(req.GetText()) != "" {
		if _, err := supervisor.NormalizeText(req.GetText()); err != nil {
			return fmt.Errorf("caption: %w", err)
		}
	}
	if err := media.CheckFilename(req.GetMedia().GetFilename()); err != nil {
		return fmt.Errorf("%w: %w", errInvalidMedia, err)
	}
	return nil
}

// sniff returns the type of a file from its first bytes (head: the file,
// or at least its first media.SniffLen bytes), and notes a declared type
// that says otherwise.
func (s *Server) sniff(md *wapoolv1.Media, head []byte) string {
	mime := media.Sniff(head)
	if declared := md.GetMimeType(); declared != "" && !sameType(declared, mime) {
		s.log.Debug("a file's declared type is not what its bytes are: the sniffed type is kept",
			zap.String("declared", declared), zap.String("sniffed", mime))
	}
	return mime
}

// sameType compares two MIME types without their parameters and case.
func sameType(a, b string) bool {
	base := func(t string) string {
		t, _, _ = strings.Cut(t, ";")
		return strings.ToLower(strings.TrimSpace(t))
	}
	return base(a) == base(b)
}

// messageMedia converts a message's file description (never its bytes).
func messageMedia(md *sessionstore.Media) *wapoolv1.MessageMedia {
	if md == nil {
		return nil
	}
	return &wapoolv1.MessageMedia{Filename: md.Filename, MimeType: md.MimeType, Size: md.Size, Sha256: md.SHA256, AsDocument: md.AsDocument}
}
