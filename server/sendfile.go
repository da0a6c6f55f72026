package server

import (
	"errors"
	"fmt"
	"io"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/wapool/wapool/internal/media"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// SendFile: Send's file, streamed. The header (a SendRequest with media
// and no bytes) is checked as Send checks its request, then the chunks go
// straight into the media store (MediaStore.PutReader: a temp file, hashed
// as it is written, fsynced, renamed to its hash), so that a file costs
// the daemon about one chunk of memory, not the several copies of a unary
// request that gRPC makes while it decodes it. The rest is Send's: the
// message is enqueued once the file is stored.
//
//	header ──► checks (MEDIA_OFF, tenant, number, caption, file name)
//	chunk… ──► temp file (limit checked on every chunk; the first
//	           media.SniffLen bytes kept for the type)
//	EOF ──► fsync, rename (cluster: upload) ──► Supervisor.Send ──► answer
//
// The scope is checked on the header by the auth interceptor as it is
// read, before any chunk (scopedStream.RecvMsg). In cluster mode the
// forwarder relays the whole stream to the tenant's node (forward.go).

// MaxChunkBytes is the largest chunk of a SendFile stream: 1 MiB.
const MaxChunkBytes = 1 << 20

// errBadStream: a SendFile stream out of order (no header first, a second
// header, an empty or oversized chunk).
var errBadStream = errors.New("bad SendFile stream")

// SendFile sends a file whose bytes arrive in chunks.
func (s *Server) SendFile(stream grpc.ClientStreamingServer[wapoolv1.SendFileRequest, wapoolv1.SendFileResponse]) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return toStatus(fmt.Errorf("%w: the stream ended before its header", errBadStream))
	}
	if err != nil {
		return err
	}
	req := first.GetHeader()
	switch {
	case req == nil:
		return toStatus(fmt.Errorf("%w: the first message must be the header (a SendRequest with media), not a chunk", errBadStream))
	case req.GetMedia() == nil:
		return toStatus(fmt.Errorf("%w: the header has no media: SendFile sends a file (send a text with Send)", errBadStream))
	case len(req.GetMedia().GetData()) > 0:
		return toStatus(fmt.Errorf("%w: the header's media.data is set: the bytes go in the chunks that follow it", errBadStream))
	}
	if err := s.checkMediaRequest(req); err != nil {
		return toStatus(err)
	}
	md := req.GetMedia()
	in := &chunkReader{stream: stream, max: s.maxMedia}
	sha, size, release, err := s.media.PutReader(ctx, in)
	if err != nil {
		switch {
		case in.err != nil:
			return toStatus(in.err) // the stream's own fault, as the client sent it
		case ctx.Err() != nil:
			return toStatus(ctx.Err())
		case in.recvErr != nil:
			return in.recvErr // gRPC's status (a message past its receive limit, …)
		case errors.Is(err, media.ErrEmpty):
			return toStatus(fmt.Errorf("%w: the file %q is empty", errInvalidMedia, md.GetFilename()))
		}
		s.log.Error("storing a streamed file", zap.String("tenant", req.GetTenantId()), zap.Error(err))
		return toStatus(fmt.Errorf("%w: %w", errMediaUnavailable, err))
	}
	defer release()
	m, err := s.send(ctx, req, s.storedMedia(md, in.head, size, sha))
	if err != nil {
		return err
	}
	return stream.SendAndClose(&wapoolv1.SendFileResponse{Message: m})
}

// chunkReader reads the chunks of a SendFile stream after its header, as
// the bytes of the file, until the client closes its side (io.EOF). It
// counts them against the limit and keeps the first media.SniffLen bytes
// for the type. err holds the first fault of the stream itself (not a
// transport error): the reason to give the client; recvErr gRPC's own
// error of a receive.
type chunkReader struct {
	stream  grpc.ClientStreamingServer[wapoolv1.SendFileRequest, wapoolv1.SendFileResponse]
	max     int64 // the file limit, bytes
	n       int64 // bytes received
	head    []byte
	rest    []byte // of the current chunk, for Read
	err     error
	recvErr error
}

// next returns the next chunk; io.EOF at the end of the stream.
func (r *chunkReader) next() ([]byte, error) {
	m, err := r.stream.Recv()
	if err != nil {
		if !errors.Is(err, io.EOF) {
			r.recvErr = err // the stream broke (cancelled: Canceled), or gRPC refused a message
		}
		return nil, err
	}
	c, ok := m.GetPart().(*wapoolv1.SendFileRequest_Chunk)
	switch {
	case m.GetHeader() != nil:
		r.err = fmt.Errorf("%w: a second header after %d bytes of the file", errBadStream, r.n)
	case !ok:
		r.err = fmt.Errorf("%w: a message with neither header nor chunk after %d bytes of the file", errBadStream, r.n)
	case len(c.Chunk) == 0:
		r.err = fmt.Errorf("%w: an empty chunk after %d bytes of the file", errBadStream, r.n)
	case len(c.Chunk) > MaxChunkBytes:
		r.err = fmt.Errorf("%w: a chunk of %d bytes, more than %d (1 MiB): split the file in smaller chunks", errBadStream, len(c.Chunk), MaxChunkBytes)
	case r.n+int64(len(c.Chunk)) > r.max:
		r.err = &MediaTooLargeError{Size: r.n + int64(len(c.Chunk)), Max: r.max, AtLeast: true}
	}
	if r.err != nil {
		return nil, r.err
	}
	r.n += int64(len(c.Chunk))
	if len(r.head) < media.SniffLen {
		r.head = append(r.head, c.Chunk[:min(len(c.Chunk), media.SniffLen-len(r.head))]...)
	}
	return c.Chunk, nil
}

// WriteTo writes every chunk to w as it arrives (io.Copy prefers it: no
// copy through a buffer).
func (r *chunkReader) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for {
		c, err := r.next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		k, err := w.Write(c)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.rest) == 0 {
		c, err := r.next()
		if err != nil {
			return 0, err
		}
		r.rest = c
	}
	k := copy(p, r.rest)
	r.rest = r.rest[k:]
	return k, nil
}
