package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wapool/wapool/internal/grpctest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// header is SendFile's first message for tenant shop, WAIT_ACCEPTED.
func header(key, caption string, md *wapoolv1.Media) *wapoolv1.SendFileRequest {
	return &wapoolv1.SendFileRequest{Part: &wapoolv1.SendFileRequest_Header{Header: &wapoolv1.SendRequest{
		TenantId: "shop", To: "+49 151 12345678", Text: caption, IdempotencyKey: key, Wait: wapoolv1.Wait_WAIT_ACCEPTED, Media: md}}}
}

func chunk(b []byte) *wapoolv1.SendFileRequest {
	return &wapoolv1.SendFileRequest{Part: &wapoolv1.SendFileRequest_Chunk{Chunk: b}}
}

// chunksOf cuts data into chunks of size bytes.
func chunksOf(data []byte, size int) []*wapoolv1.SendFileRequest {
	var out []*wapoolv1.SendFileRequest
	for len(data) > 0 {
		n := min(size, len(data))
		out = append(out, chunk(data[:n]))
		data = data[n:]
	}
	return out
}

// streamFile sends msgs on a SendFile stream of client and returns the
// answer. A send the server has ended (io.EOF) stops the sending: its
// status comes with the answer.
func streamFile(ctx context.Context, client wapoolv1.SessionServiceClient, msgs ...*wapoolv1.SendFileRequest) (*wapoolv1.Message, error) {
	stream, err := client.SendFile(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
	}
	resp, err := stream.CloseAndRecv()
	return resp.GetMessage(), err
}

// The chunks are stored byte for byte under their hash, on disk before the
// message is accepted (internal/media's test: fsynced first); the answer
// describes the file as Send's does, with the type sniffed from the first
// bytes even when they span several chunks.
func TestSendFileStoresTheChunks(t *testing.T) {
	st := newMediaStack(t, mediaOpts{})
	data := pdfBytes(200_000)
	m, err := streamFile(callCtx(t), st.client, append([]*wapoolv1.SendFileRequest{
		header("inv-1042", "Your invoice", &wapoolv1.Media{Filename: "invoice 1042.pdf", MimeType: "image/jpeg"})}, chunksOf(data, 7_000)...)...)
	if err != nil {
		t.Fatal(err)
	}
	if md := m.GetMedia(); md.GetFilename() != "invoice 1042.pdf" || md.GetMimeType() != "application/pdf" || md.GetSize() != int64(len(data)) ||
		md.GetSha256() != sha256Hex(data) || !md.GetAsDocument() || m.GetState() != wapoolv1.MessageState_MESSAGE_STATE_QUEUED {
		t.Fatalf("SendFile answered %v; want the PDF (the sniffed type, not the declared one) QUEUED", m)
	}
	got, err := os.ReadFile(filepath.Join(st.dir, sha256Hex(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the stored file: %d bytes, %v; want the %d sent", len(got), err, len(data))
	}
	if files := st.files(t); len(files) != 1 {
		t.Fatalf("media dir = %v, want the one file", files)
	}
	st.puts.wantStoredFirst(t)
	stored, err := st.store.GetMessage("shop", m.GetId())
	if err != nil || stored.Text != "Your invoice" || stored.Media == nil || stored.Media.SHA256 != sha256Hex(data) {
		t.Fatalf("stored message %+v, %v", stored, err)
	}

	// A picture in chunks of 10 bytes: its signature spans three of them.
	png := pngBytes(3000)
	m, err = streamFile(callCtx(t), st.client, append([]*wapoolv1.SendFileRequest{
		header("", "", &wapoolv1.Media{Filename: "parcel.png"})}, chunksOf(png, 10)...)...)
	if err != nil || m.GetMedia().GetMimeType() != "image/png" || m.GetMedia().GetAsDocument() {
		t.Fatalf("a PNG in small chunks = %v, %v; want image/png as a picture", m, err)
	}
}

// A file over the limit is refused as soon as the bytes received pass it,
// without waiting for the rest: MEDIA_TOO_LARGE naming the limit, and no
// file, not even a temp file, is left.
func TestSendFileTooLarge(t *testing.T) {
	st := newMediaStack(t, mediaOpts{})
	ctx := callCtx(t)
	stream, err := st.client.SendFile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data := pdfBytes(testMaxMedia + 1)
	for _, m := range append([]*wapoolv1.SendFileRequest{header("", "", &wapoolv1.Media{Filename: "big.pdf"})}, chunksOf(data, 64<<10)...) {
		if err := stream.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	// The client has not closed its side: the answer comes anyway.
	err = stream.RecvMsg(&wapoolv1.SendFileResponse{})
	wantRefused(t, "a file a byte over the limit", err, codes.InvalidArgument, "MEDIA_TOO_LARGE", "at least 262145 bytes", "262144 bytes", "--max-media-bytes")
	if _, info := errorInfo(t, err); info.GetMetadata()["max_media_bytes"] != "262144" {
		t.Errorf("MEDIA_TOO_LARGE metadata %v, want max_media_bytes 262144", info.GetMetadata())
	}
	if files := st.files(t); len(files) != 0 {
		t.Fatalf("a refused file left %v", files)
	}
	if n, _ := st.store.QueueDepth("shop"); n != 0 {
		t.Fatalf("%d messages queued, want none", n)
	}
}

// streamWatch is a MediaStore that tells when a PutReader has read its
// first bytes, and what it returned.
type streamWatch struct {
	MediaStore
	started chan struct{} // closed at the first bytes read by any PutReader
	ended   chan error
	once    sync.Once
}

type firstRead struct {
	r     io.Reader
	first func()
}

func (f *firstRead) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 {
		f.first()
	}
	return n, err
}

func (w *streamWatch) PutReader(ctx context.Context, r io.Reader) (string, int64, func(), error) {
	first := func() { w.once.Do(func() { close(w.started) }) }
	sha, size, release, err := w.MediaStore.PutReader(ctx, &firstRead{r: r, first: first})
	w.ended <- err
	return sha, size, release, err
}

// sendScopes are the auth interceptors (without TLS) of a daemon whose
// token shopToken sends for shop and otherToken for shop-2.
func sendScopes(t *testing.T, shopToken, otherToken string) []grpc.ServerOption {
	t.Helper()
	a, err := NewAuth(AuthConfig{Listen: "127.0.0.1:7440", TokensFile: writeAuthFile(t, "tokens",
		shopToken+" tenants=shop role=send\n"+otherToken+" tenants=shop-2 role=send\n")})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := a.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	return opts[1:]
}

// watchStreams puts a streamWatch around st's media store.
func watchStreams(st *mediaStack) *streamWatch {
	w := &streamWatch{MediaStore: st.puts, started: make(chan struct{}), ended: make(chan error, 1)}
	st.srv.SetMedia(w, testMaxMedia)
	return w
}

// startHalf starts a SendFile of a 200 kB PDF under key and sends its
// header and first half, then waits until who (the server behind w) has
// read a chunk. The stream stays open until ctx ends.
func (w *streamWatch) startHalf(ctx context.Context, t *testing.T, c wapoolv1.SessionServiceClient, key, who string) {
	t.Helper()
	stream, err := c.SendFile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range append([]*wapoolv1.SendFileRequest{header(key, "", &wapoolv1.Media{Filename: "half.pdf"})}, chunksOf(pdfBytes(200_000)[:100_000], 10_000)...) {
		if err := stream.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-w.started:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s read no chunk", who)
	}
}

// wantNoStream fails t if who's media store was given a stream.
func (w *streamWatch) wantNoStream(t *testing.T, who string) {
	t.Helper()
	select {
	case err := <-w.ended:
		t.Fatalf("%s was given the stream of a refused call (%v)", who, err)
	default:
	}
}

// wantCancelled waits until the watched PutReader ends, and fails t unless
// it failed: the upload was cancelled, so who must store nothing.
func (w *streamWatch) wantCancelled(t *testing.T, who string) {
	t.Helper()
	select {
	case err := <-w.ended:
		if err == nil {
			t.Fatalf("%s stored a file whose upload was cancelled", who)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not end the cancelled upload", who)
	}
}

// A client that cancels midway leaves no file (the temp file written so
// far is removed) and no message.
func TestSendFileCancelledLeavesNothing(t *testing.T) {
	st := newMediaStack(t, mediaOpts{})
	w := watchStreams(st)
	ctx, cancel := context.WithCancel(callCtx(t))
	defer cancel()
	w.startHalf(ctx, t, st.client, "k-1", "the server")
	// The temp file is there while the upload goes on.
	deadline := time.Now().Add(10 * time.Second)
	for len(st.files(t)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no temp file while the chunks arrive")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	w.wantCancelled(t, "the server")
	if files := st.files(t); len(files) != 0 {
		t.Fatalf("a cancelled upload left %v", files)
	}
	// PutReader failed: the handler enqueues nothing after it.
	if n, _ := st.store.QueueDepth("shop"); n != 0 {
		t.Fatalf("%d messages queued, want none", n)
	}
}

// The same key and the same file: the same message, the bytes stored once
// (not written again), whether they came through SendFile or Send; other
// bytes under the key are IDEMPOTENCY_KEY_REUSED.
func TestSendFileIdempotent(t *testing.T) {
	st := newMediaStack(t, mediaOpts{})
	data := pdfBytes(100_000)
	send := func(data []byte) (*wapoolv1.Message, error) {
		return streamFile(callCtx(t), st.client, append([]*wapoolv1.SendFileRequest{
			header("order-7", "Invoice", &wapoolv1.Media{Filename: "invoice.pdf"})}, chunksOf(data, 30_000)...)...)
	}
	first, err := send(data)
	if err != nil {
		t.Fatal(err)
	}
	st.ageFile(t, sha256Hex(data))
	again, err := send(data)
	if err != nil || again.GetId() != first.GetId() {
		t.Fatalf("retry = %v, %v; want message %s", again, err, first.GetId())
	}
	unary, err := st.send(t, "order-7", "Invoice", &wapoolv1.Media{Filename: "invoice.pdf", Data: data})
	if err != nil || unary.GetId() != first.GetId() {
		t.Fatalf("the same through Send = %v, %v; want message %s", unary, err, first.GetId())
	}
	st.wantStoredOnce(t, sha256Hex(data))
	_, err = send(pdfBytes(100_001))
	wantRefused(t, "the same key with other bytes", err, codes.InvalidArgument, "IDEMPOTENCY_KEY_REUSED")
}

// A stream out of order, or refused for its header, is INVALID_ARGUMENT
// (or Send's reason) and stores nothing.
func TestSendFileBadStreams(t *testing.T) {
	st := newMediaStack(t, mediaOpts{})
	md := func() *wapoolv1.Media { return &wapoolv1.Media{Filename: "a.pdf"} }
	pdf := pdfBytes(1000)
	for _, c := range []struct {
		what   string
		msgs   []*wapoolv1.SendFileRequest
		reason string
		words  string
	}{
		{"nothing at all", nil, "INVALID_STREAM", "before its header"},
		{"a chunk before the header", []*wapoolv1.SendFileRequest{chunk(pdf), header("", "", md())}, "INVALID_STREAM", "must be the header"},
		{"a header with data", []*wapoolv1.SendFileRequest{header("", "", &wapoolv1.Media{Filename: "a.pdf", Data: pdf})}, "INVALID_STREAM", "media.data"},
		{"a header without media", []*wapoolv1.SendFileRequest{header("", "hi", nil), chunk(pdf)}, "INVALID_STREAM", "no media"},
		{"an empty message", []*wapoolv1.SendFileRequest{{}}, "INVALID_STREAM", "must be the header"},
		{"a second header", []*wapoolv1.SendFileRequest{header("", "", md()), chunk(pdf), header("", "", md())}, "INVALID_STREAM", "second header"},
		{"an empty chunk", []*wapoolv1.SendFileRequest{header("", "", md()), chunk(pdf), chunk(nil)}, "INVALID_STREAM", "empty chunk"},
		{"a chunk over 1 MiB", []*wapoolv1.SendFileRequest{header("", "", md()), chunk(pdfBytes(1<<20 + 1))}, "INVALID_STREAM", "1048577 bytes"},
		{"no chunk", []*wapoolv1.SendFileRequest{header("", "", md())}, "INVALID_MEDIA", "is empty"},
		{"a bad file name", []*wapoolv1.SendFileRequest{header("", "", &wapoolv1.Media{Filename: "../x.pdf"}), chunk(pdf)}, "INVALID_MEDIA", "file name"},
		{"a bad number", []*wapoolv1.SendFileRequest{{Part: &wapoolv1.SendFileRequest_Header{Header: &wapoolv1.SendRequest{
			TenantId: "shop", To: "12", Media: md()}}}, chunk(pdf)}, "INVALID_PHONE", ""},
	} {
		_, err := streamFile(callCtx(t), st.client, c.msgs...)
		wantRefused(t, c.what, err, codes.InvalidArgument, c.reason, c.words)
	}
	// A chunk past gRPC's own receive limit (the file limit + 1 MiB here):
	// gRPC's refusal, as it is.
	_, err := streamFile(callCtx(t), st.client, header("", "", md()), chunk(pdf), chunk(pdfBytes(testMaxMedia+2<<20)))
	if code, _ := errorInfo(t, err); code != codes.ResourceExhausted {
		t.Errorf("a chunk past the receive limit: %v, want RESOURCE_EXHAUSTED from gRPC", err)
	}
	if files := st.files(t); len(files) != 0 {
		t.Fatalf("refused streams stored %v", files)
	}
	if n, _ := st.store.QueueDepth("shop"); n != 0 {
		t.Fatalf("%d messages queued, want none", n)
	}
	// A daemon that takes no files.
	off := New(st.srv.sup, st.srv.log)
	gs := grpc.NewServer()
	wapoolv1.RegisterSessionServiceServer(gs, off)
	conn, err := grpc.NewClient(grpctest.Serve(t, gs), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = streamFile(callCtx(t), wapoolv1.NewSessionServiceClient(conn), header("", "", md()), chunk(pdf))
	wantRefused(t, "no media store", err, codes.FailedPrecondition, "MEDIA_OFF")
}

// The scope is checked on the header, before any chunk is read: a token of
// another tenant is PERMISSION_DENIED and nothing is stored; a token of
// the tenant sends.
func TestSendFileScope(t *testing.T) {
	const shopToken, otherToken = "send-shop-0123456789abcdef-012345", "send-other-0123456789abcdef-01234"
	st := newMediaStack(t, mediaOpts{serverOpts: sendScopes(t, shopToken, otherToken)})
	w := watchStreams(st)
	data := pdfBytes(50_000)
	msgs := append([]*wapoolv1.SendFileRequest{header("", "", &wapoolv1.Media{Filename: "a.pdf"})}, chunksOf(data, 10_000)...)
	_, err := streamFile(as(t, otherToken), st.client, msgs...)
	wantDenied(t, "SendFile for shop with a token of shop-2", err, reasonTenantOutOfScope)
	w.wantNoStream(t, "the store")
	if files := st.files(t); len(files) != 0 {
		t.Fatalf("a refused call stored %v", files)
	}
	m, err := streamFile(as(t, shopToken), st.client, msgs...)
	if err != nil || m.GetMedia().GetSha256() != sha256Hex(data) {
		t.Fatalf("SendFile with shop's token = %v, %v", m, err)
	}
}

// tenantRoute sends one tenant's calls to addr.
type tenantRoute struct{ tenant, addr string }

func (r tenantRoute) Route(tenant string) (string, error) {
	if tenant == r.tenant {
		return r.addr, nil
	}
	return "", nil
}

// Cluster mode: a node that does not hold the tenant relays the stream to
// the holder chunk by chunk; the holder stores the file and the message,
// the entry node neither. A cancelled upload leaves nothing on either.
func TestSendFileForwarded(t *testing.T) {
	holder := newMediaStack(t, mediaOpts{})
	fwd := NewForwarder(tenantRoute{tenant: "shop", addr: holder.addr}, "entry")
	defer fwd.Close()
	entry := newMediaStack(t, mediaOpts{serverOpts: []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(fwd.UnaryInterceptor), grpc.ChainStreamInterceptor(fwd.StreamInterceptor)}})
	data := pdfBytes(150_000)
	m, err := streamFile(callCtx(t), entry.client, append([]*wapoolv1.SendFileRequest{
		header("k-9", "Statement", &wapoolv1.Media{Filename: "statement.pdf"})}, chunksOf(data, 16_000)...)...)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(holder.dir, sha256Hex(data))); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the holder's file: %d bytes, %v; want the file", len(got), err)
	}
	if _, err := holder.store.GetMessage("shop", m.GetId()); err != nil {
		t.Fatalf("the holder has no message %s: %v", m.GetId(), err)
	}
	if files := entry.files(t); len(files) != 0 {
		t.Fatalf("the entry node stored %v", files)
	}
	if n, _ := entry.store.QueueDepth("shop"); n != 0 {
		t.Fatalf("the entry node queued %d messages", n)
	}
	// The holder's refusals come back as they are.
	_, err = streamFile(callCtx(t), entry.client, append([]*wapoolv1.SendFileRequest{
		header("", "", &wapoolv1.Media{Filename: "big.pdf"})}, chunksOf(pdfBytes(testMaxMedia+1), 64<<10)...)...)
	wantRefused(t, "a file over the holder's limit, relayed", err, codes.InvalidArgument, "MEDIA_TOO_LARGE", "262144 bytes")

	// Cancelled midway at the entry node: the holder's stream ends, and
	// it keeps nothing.
	w := watchStreams(holder)
	ctx, cancel := context.WithCancel(callCtx(t))
	defer cancel()
	w.startHalf(ctx, t, entry.client, "k-10", "the holder")
	cancel()
	w.wantCancelled(t, "the holder")
	if files := holder.files(t); len(files) != 1 {
		t.Fatalf("the holder's media dir = %v, want only the first file", files)
	}
	if n, _ := holder.store.QueueDepth("shop"); n != 1 { // PutReader failed: nothing enqueued after it
		t.Fatalf("the holder queued %d messages, want only the first", n)
	}
}

// With tokens on both nodes, the entry node checks the caller's scope on
// the header before it relays anything, and the holder checks the token
// again: a token of another tenant stores nothing anywhere.
func TestSendFileForwardedKeepsItsScope(t *testing.T) {
	const shopToken, otherToken = "send-shop-0123456789abcdef-012345", "send-other-0123456789abcdef-01234"
	interceptors := func() []grpc.ServerOption { return sendScopes(t, shopToken, otherToken) }
	holder := newMediaStack(t, mediaOpts{serverOpts: interceptors()})
	w := watchStreams(holder)
	fwd := NewForwarder(tenantRoute{tenant: "shop", addr: holder.addr}, "entry")
	defer fwd.Close()
	entry := newMediaStack(t, mediaOpts{serverOpts: append(interceptors(),
		grpc.ChainUnaryInterceptor(fwd.UnaryInterceptor), grpc.ChainStreamInterceptor(fwd.StreamInterceptor))})
	data := pdfBytes(40_000)
	msgs := append([]*wapoolv1.SendFileRequest{header("", "", &wapoolv1.Media{Filename: "a.pdf"})}, chunksOf(data, 10_000)...)
	_, err := streamFile(as(t, otherToken), entry.client, msgs...)
	wantDenied(t, "SendFile for shop with a token of shop-2, at the entry node", err, reasonTenantOutOfScope)
	w.wantNoStream(t, "the holder")
	if files := append(holder.files(t), entry.files(t)...); len(files) != 0 {
		t.Fatalf("a refused call stored %v", files)
	}
	m, err := streamFile(as(t, shopToken), entry.client, msgs...)
	if err != nil || m.GetMedia().GetSha256() != sha256Hex(data) {
		t.Fatalf("SendFile with shop's token through the entry node = %v, %v", m, err)
	}
	if err := <-w.ended; err != nil {
		t.Fatalf("the holder's PutReader: %v", err)
	}
	if files := holder.files(t); len(files) != 1 {
		t.Fatalf("the holder's media dir = %v, want the file", files)
	}
}
