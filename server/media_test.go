package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/wapool/wapool/internal/grpctest"
	"github.com/wapool/wapool/internal/media"
	"github.com/wapool/wapool/internal/testclock"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// idleLauncher starts no browser: a launch waits until it is cancelled, so
// a linked tenant's messages stay QUEUED for as long as the test looks.
type idleLauncher struct{}

func (idleLauncher) Launch(ctx context.Context, _ supervisor.LaunchSpec) (supervisor.Browser, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// testMaxMedia is the file size limit of the media stack: small, so that a
// file over it is cheap to send.
const testMaxMedia = 256 << 10

// mediaStack is a Server over a running Supervisor over a bbolt store on
// disk, with a media store in its data dir, served over gRPC on loopback
// with the receive limit wapoold gives (the file limit + 1 MiB). Tenants
// shop and shop-2 are linked; no browser ever starts.
type mediaStack struct {
	store  *sessionstore.Store
	media  *media.Store
	dir    string // the media store's dir
	clock  *testclock.Clock
	srv    *Server
	addr   string // its gRPC address
	client wapoolv1.SessionServiceClient
	puts   *putWatch
}

// agedTime is the time ageFile gives a stored file.
var agedTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// ageFile dates the stored file sha back to agedTime, as a file that has
// sat in the store for long (wantStoredOnce then sees whether a retry
// wrote it again).
func (st *mediaStack) ageFile(t *testing.T, sha string) {
	t.Helper()
	if err := os.Chtimes(filepath.Join(st.dir, sha), agedTime, agedTime); err != nil {
		t.Fatal(err)
	}
}

// putWatch wraps the media store: at the moment each Put returns it notes
// whether the outbox already held a message (it must not: the bytes are
// stored before the message is accepted) and whether the file was on disk.
type putWatch struct {
	MediaStore
	store *sessionstore.Store
	dir   string
	mu    sync.Mutex
	seen  []string // one line per Put
}

func (p *putWatch) Put(ctx context.Context, data []byte) (string, func(), error) {
	sha, release, err := p.MediaStore.Put(ctx, data)
	if err == nil {
		onDisk, _ := os.ReadFile(filepath.Join(p.dir, sha))
		p.note(bytes.Equal(onDisk, data))
	}
	return sha, release, err
}

// PutReader notes, as Put does, the moment a streamed file is stored.
func (p *putWatch) PutReader(ctx context.Context, r io.Reader) (string, int64, func(), error) {
	sha, size, release, err := p.MediaStore.PutReader(ctx, r)
	if err == nil {
		info, serr := os.Stat(filepath.Join(p.dir, sha))
		p.note(serr == nil && info.Size() == size)
	}
	return sha, size, release, err
}

// note records, as a Put returns, how many messages the outbox holds and
// whether the file is whole on disk.
func (p *putWatch) note(whole bool) {
	n1, _ := p.store.QueueDepth("shop")
	n2, _ := p.store.QueueDepth("shop-2")
	p.mu.Lock()
	p.seen = append(p.seen, fmt.Sprintf("queued before=%d file=%v", n1+n2, whole))
	p.mu.Unlock()
}

// wantStoredFirst fails t unless one Put returned, with the file whole on
// disk and no message queued yet.
func (p *putWatch) wantStoredFirst(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	seen := strings.Join(p.seen, ";")
	p.mu.Unlock()
	if seen != "queued before=0 file=true" {
		t.Fatalf("when the file was stored: %q; want it whole on disk and no message yet", seen)
	}
}

type mediaOpts struct {
	bucket string
	keys   []*age.X25519Identity
	// serverOpts are added to the gRPC server's (interceptors).
	serverOpts []grpc.ServerOption
}

func newMediaStack(t *testing.T, o mediaOpts) *mediaStack {
	t.Helper()
	st := &mediaStack{clock: testclock.NewTicking(time.Now(), time.Millisecond)}
	data := filepath.Join(t.TempDir(), "data")
	store, err := sessionstore.Open(sessionstore.Options{DataDir: data, Now: st.clock.Now, IdempotencyRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	st.store, st.dir = store, filepath.Join(data, "media")
	ms, err := media.Open(context.Background(), media.Config{Dir: st.dir, Bucket: o.bucket, Keys: o.keys, Unencrypted: len(o.keys) == 0,
		Referenced: store.ReferencedMedia, Now: st.clock.Now, Grace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	st.media = ms
	for _, id := range []string{"shop", "shop-2"} {
		if err := store.PutTenant(sessionstore.Tenant{ID: id, Linked: true, Phone: "4915100000000"}); err != nil {
			t.Fatal(err)
		}
	}
	sup := supervisor.New(supervisor.Config{Store: store, TargetURL: "http://127.0.0.1:1", Launcher: idleLauncher{}, Media: ms})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- sup.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })

	st.puts = &putWatch{MediaStore: ms, store: store, dir: st.dir}
	st.srv = New(sup, zap.NewNop())
	st.srv.SetMedia(st.puts, testMaxMedia)
	gs := grpc.NewServer(append([]grpc.ServerOption{grpc.MaxRecvMsgSize(testMaxMedia + 1<<20)}, o.serverOpts...)...)
	wapoolv1.RegisterSessionServiceServer(gs, st.srv)
	st.addr = grpctest.Serve(t, gs)
	conn, err := grpc.NewClient(st.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	st.client = wapoolv1.NewSessionServiceClient(conn)
	return st
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// send sends a file from tenant shop, WAIT_ACCEPTED.
func (st *mediaStack) send(t *testing.T, key, caption string, md *wapoolv1.Media) (*wapoolv1.Message, error) {
	t.Helper()
	resp, err := st.client.Send(callCtx(t), &wapoolv1.SendRequest{TenantId: "shop", To: "+49 151 12345678", Text: caption,
		IdempotencyKey: key, Wait: wapoolv1.Wait_WAIT_ACCEPTED, Media: md})
	return resp.GetMessage(), err
}

// wantStoredOnce fails t unless the media dir holds one file, sha, not
// written since ageFile dated it, and tenant shop has one message queued:
// a retry stored nothing again.
func (st *mediaStack) wantStoredOnce(t *testing.T, sha string) {
	t.Helper()
	if info, err := os.Stat(filepath.Join(st.dir, sha)); err != nil || !info.ModTime().Equal(agedTime) {
		t.Fatalf("the file was written again by a retry (%v, %v)", info.ModTime(), err)
	}
	if files := st.files(t); len(files) != 1 {
		t.Fatalf("media dir = %v, want one file", files)
	}
	if n, _ := st.store.QueueDepth("shop"); n != 1 {
		t.Fatalf("%d messages queued, want 1", n)
	}
}

// files lists the media dir.
func (st *mediaStack) files(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(st.dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Sample files: the first bytes of each kind, then filler.
func pdfBytes(n int) []byte { return pad([]byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"), n) }
func pngBytes(n int) []byte {
	return pad([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"), n)
}
func jpegBytes(n int) []byte {
	return pad([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"), n)
}

func pad(head []byte, n int) []byte {
	b := make([]byte, max(n, len(head)))
	copy(b, head)
	for i := len(head); i < len(b); i++ {
		b[i] = byte(i * 13)
	}
	return b
}

// A file is stored, fsynced (internal/media's test), before its message is
// accepted; the message reports it (never its bytes) in Send's response,
// GetMessage and the event stream; the caption may be empty.
func TestSendMediaStoredBeforeAccepted(t *testing.T) {
	st := newMediaStack(t, mediaOpts{})
	ctx := callCtx(t)
	events, err := st.client.WatchEvents(ctx, &wapoolv1.WatchEventsRequest{TenantIds: []string{"shop"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.Header(); err != nil {
		t.Fatal(err)
	}
	data := pdfBytes(200_000)
	m, err := st.send(t, "inv-1042", "", &wapoolv1.Media{Filename: "invoice 1042.pdf", MimeType: "application/pdf", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	want := &wapoolv1.MessageMedia{Filename: "invoice 1042.pdf", MimeType: "application/pdf", Size: int64(len(data)), Sha256: sha256Hex(data), AsDocument: true}
	checkMedia := func(what string, got *wapoolv1.MessageMedia) {
		t.Helper()
		if got.GetFilename() != want.Filename || got.GetMimeType() != want.MimeType || got.GetSize() != want.Size ||
			got.GetSha256() != want.Sha256 || got.GetAsDocument() != want.AsDocument {
			t.Errorf("%s: media %v, want %v", what, got, want)
		}
	}
	checkMedia("Send", m.GetMedia())
	if m.GetState() != wapoolv1.MessageState_MESSAGE_STATE_QUEUED {
		t.Fatalf("Send WAIT_ACCEPTED = %v", m)
	}
	st.puts.wantStoredFirst(t)
	if files := st.files(t); len(files) != 1 || files[0] != want.Sha256 {
		t.Fatalf("media dir = %v, want the one file named by its hash", files)
	}
	got, err := st.client.GetMessage(ctx, &wapoolv1.GetMessageRequest{TenantId: "shop", MessageId: m.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	checkMedia("GetMessage", got.GetMessage().GetMedia())
	stored, err := st.store.GetMessage("shop", m.GetId())
	if err != nil || stored.Text != "" || stored.Media == nil || stored.Media.SHA256 != want.Sha256 {
		t.Fatalf("stored message %+v, %v", stored, err)
	}
	for {
		resp, err := events.Recv()
		if err != nil {
			t.Fatalf("WatchEvents: %v", err)
		}
		if ev := resp.GetEvent().GetMessage().GetMessage(); ev.GetId() == m.GetId() {
			checkMedia("the QUEUED event", ev.GetMedia())
			break
		}
	}

	// A caption, and a text message beside: a text has no media.
	cap, err := st.send(t, "", "  Your parcel  ", &wapoolv1.Media{Filename: "parcel.png", Data: pngBytes(5000)})
	if err != nil || cap.GetMedia().GetMimeType() != "image/png" || cap.GetMedia().GetAsDocument() {
		t.Fatalf("a picture with a caption = %v, %v; want image/png sent as a picture", cap, err)
	}
	if s, _ := st.store.GetMessage("shop", cap.GetId()); s.Text != "Your parcel" {
		t.Fatalf("stored caption %q, want it trimmed", s.Text)
	}
	txt, err := st.send(t, "", "just words", nil)
	if err != nil || txt.GetMedia() != nil {
		t.Fatalf("a text = %v, %v; want no media", txt, err)
	}
}

// The type is sniffed from the bytes; a declared type that says otherwise
// is corrected. A file goes as a picture when its bytes are a picture's
// and its name ends as a picture's; else as a document.
func TestSendMediaSniffedTypeWins(t *testing.T) {
	st := newMediaStack(t, mediaOpts{})
	for _, c := range []struct {
		name, declared string
		data           []byte
		asDocument     bool
		wantType       string
		wantDocument   bool
	}{
		{"invoice.jpg", "image/jpeg", pdfBytes(3000), false, "application/pdf", true},
		{"photo.png", "application/pdf", pngBytes(3000), false, "image/png", false},
		{"photo.pdf", "image/png", pngBytes(3000), false, "image/png", true}, // a picture's bytes, not its name
		{"photo.jpg", "", jpegBytes(3000), false, "image/jpeg", false},
		{"IMG_0042.JPEG", "", jpegBytes(3000), false, "image/jpeg", false},
		{"scan.png", "", jpegBytes(3000), false, "image/jpeg", false}, // a picture under another picture's name
		{"photo", "image/jpeg", jpegBytes(3000), false, "image/jpeg", true},
		{"scan.jpg", "image/jpeg", jpegBytes(3000), true, "image/jpeg", true},
		{"notes.txt", "image/png", []byte("plain notes\nline two\n"), false, "text/plain; charset=utf-8", true},
		{"blob.bin", "image/webp", []byte{0, 1, 2, 3, 0xfe, 0xff, 9, 9}, false, "application/octet-stream", true},
	} {
		m, err := st.send(t, "", "", &wapoolv1.Media{Filename: c.name, MimeType: c.declared, Data: c.data, AsDocument: c.asDocument})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if md := m.GetMedia(); md.GetMimeType() != c.wantType || md.GetAsDocument() != c.wantDocument {
			t.Errorf("%s declared %q: stored %q as_document=%v, want %q as_document=%v", c.name, c.declared, md.GetMimeType(), md.GetAsDocument(), c.wantType, c.wantDocument)
		}
	}
}

// wantRefused checks err's code, reason and that its message holds each of words.
func wantRefused(t *testing.T, what string, err error, code codes.Code, reason string, words ...string) {
	t.Helper()
	gotCode, info := errorInfo(t, err)
	if gotCode != code || info.GetReason() != reason {
		t.Errorf("%s: %v, want %v %s", what, err, code, reason)
		return
	}
	for _, w := range words {
		if !strings.Contains(status.Convert(err).Message(), w) {
			t.Errorf("%s: %q does not say %q", what, status.Convert(err).Message(), w)
		}
	}
}

// A file over the limit, an empty one or a badly named one is refused with
// a clear INVALID_ARGUMENT, and nothing is stored.
func TestSendMediaRefused(t *testing.T) {
	st := newMediaStack(t, mediaOpts{})
	_, err := st.send(t, "", "", &wapoolv1.Media{Filename: "big.pdf", Data: pdfBytes(testMaxMedia + 1)})
	wantRefused(t, "a file one byte over the limit", err, codes.InvalidArgument, "MEDIA_TOO_LARGE", "262145 bytes", "262144 bytes", "(256 KiB", "--max-media-bytes")
	if _, info := errorInfo(t, err); info.GetMetadata()["max_media_bytes"] != "262144" {
		t.Errorf("MEDIA_TOO_LARGE metadata %v, want max_media_bytes 262144", info.GetMetadata())
	}
	// Past the limit and the request's headroom, gRPC refuses the request
	// before it is read.
	_, err = st.send(t, "", "", &wapoolv1.Media{Filename: "huge.pdf", Data: pdfBytes(testMaxMedia + 2<<20)})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a file past the receive limit: %v, want RESOURCE_EXHAUSTED from gRPC", err)
	}
	_, err = st.send(t, "", "", &wapoolv1.Media{Filename: "empty.pdf", MimeType: "application/pdf"})
	wantRefused(t, "an empty file", err, codes.InvalidArgument, "INVALID_MEDIA", "empty.pdf", "empty")
	for _, name := range []string{"", "..", ".", "../../etc/passwd", "dir/a.pdf", `C:\a.pdf`, "a\x00b.pdf", "line\nbreak.pdf", strings.Repeat("n", 256)} {
		_, err := st.send(t, "", "", &wapoolv1.Media{Filename: name, Data: pdfBytes(100)})
		wantRefused(t, fmt.Sprintf("file name %q", name), err, codes.InvalidArgument, "INVALID_MEDIA", "file name")
	}
	// The rest of the request is checked before the file is stored.
	_, err = st.client.Send(callCtx(t), &wapoolv1.SendRequest{TenantId: "shop", To: "12", Media: &wapoolv1.Media{Filename: "a.pdf", Data: pdfBytes(100)}})
	wantRefused(t, "a bad phone number with a file", err, codes.InvalidArgument, "INVALID_PHONE")
	_, err = st.client.Send(callCtx(t), &wapoolv1.SendRequest{TenantId: "../x", To: "+4915112345678", Media: &wapoolv1.Media{Filename: "a.pdf", Data: pdfBytes(100)}})
	wantRefused(t, "a bad tenant id with a file", err, codes.InvalidArgument, "INVALID_TENANT_ID")
	// Without a file the text is still required.
	_, err = st.send(t, "", " ", nil)
	wantRefused(t, "no text and no file", err, codes.InvalidArgument, "INVALID_TEXT")
	if files := st.files(t); len(files) != 0 {
		t.Fatalf("refused calls stored %v", files)
	}
}

// The same key and the same file: the same message, the bytes stored once.
// The same key with other bytes: IDEMPOTENCY_KEY_REUSED.
func TestSendMediaIdempotent(t *testing.T) {
	st := newMediaStack(t, mediaOpts{})
	data := pdfBytes(100_000)
	md := &wapoolv1.Media{Filename: "invoice.pdf", Data: data}
	first, err := st.send(t, "order-7", "Invoice", md)
	if err != nil {
		t.Fatal(err)
	}
	st.ageFile(t, sha256Hex(data))
	again, err := st.send(t, "order-7", "Invoice", md)
	if err != nil || again.GetId() != first.GetId() {
		t.Fatalf("retry = %v, %v; want message %s", again, err, first.GetId())
	}
	st.wantStoredOnce(t, sha256Hex(data))
	_, err = st.send(t, "order-7", "Invoice", &wapoolv1.Media{Filename: "invoice.pdf", Data: pdfBytes(100_001)})
	wantRefused(t, "the same key with other bytes", err, codes.InvalidArgument, "IDEMPOTENCY_KEY_REUSED")
	_, err = st.send(t, "order-7", "Invoice", &wapoolv1.Media{Filename: "invoice.pdf", Data: data, AsDocument: true})
	if err != nil {
		t.Fatalf("as_document on a PDF changes nothing (it goes as a document anyway): %v", err)
	}
	_, err = st.send(t, "order-7", "Invoice", &wapoolv1.Media{Filename: "renamed.pdf", Data: data})
	wantRefused(t, "the same key with another file name", err, codes.InvalidArgument, "IDEMPOTENCY_KEY_REUSED")
}

// A file stays while a kept message names it and goes at the first sweep
// once the last such message is purged (retention, here an hour).
func TestSendMediaDeletedAfterRetention(t *testing.T) {
	st := newMediaStack(t, mediaOpts{})
	data := pdfBytes(50_000)
	a, err := st.send(t, "", "", &wapoolv1.Media{Filename: "a.pdf", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.client.Send(callCtx(t), &wapoolv1.SendRequest{TenantId: "shop-2", To: "+4915112345678", Wait: wapoolv1.Wait_WAIT_ACCEPTED,
		Media: &wapoolv1.Media{Filename: "same bytes.pdf", Data: data}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(st.dir, sha256Hex(data))
	sweep := func(want bool, when string) {
		t.Helper()
		if _, err := st.media.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(p); (err == nil) != want {
			t.Fatalf("%s: the file exists: %v, want %v", when, err == nil, want)
		}
	}
	fail := func(tenant, id string) {
		t.Helper()
		if _, err := st.store.UpdateMessage(tenant, id, func(m *sessionstore.Message) { m.State = sessionstore.StateFailed }); err != nil {
			t.Fatal(err)
		}
	}
	st.clock.Advance(10 * time.Minute) // past the media store's grace
	sweep(true, "both messages QUEUED")
	fail("shop", a.GetId())
	st.clock.Advance(2 * time.Hour)
	sweep(true, "a FAILED but kept, b QUEUED")
	if n, err := st.store.PurgeExpired(); err != nil || n != 1 {
		t.Fatalf("PurgeExpired = %d, %v", n, err)
	}
	sweep(true, "a purged, b QUEUED")
	fail("shop-2", b.GetMessage().GetId())
	st.clock.Advance(2 * time.Hour)
	if n, err := st.store.PurgeExpired(); err != nil || n != 1 {
		t.Fatalf("PurgeExpired = %d, %v", n, err)
	}
	sweep(false, "both purged")
}

// Cluster mode: the node that takes the Send puts the file in the shared
// bucket, sealed with the snapshot key, before it accepts; another node's
// media store fetches it (supervisor.MediaFiles.Local).
func TestSendMediaSharedBucket(t *testing.T) {
	bdir := filepath.Join(t.TempDir(), "bucket")
	if err := os.MkdirAll(bdir, 0o700); err != nil {
		t.Fatal(err)
	}
	key, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	url := "file://" + bdir
	st := newMediaStack(t, mediaOpts{bucket: url, keys: []*age.X25519Identity{key}})
	data := jpegBytes(300)
	data = append(data, []byte("a parcel on a doorstep")...)
	m, err := st.send(t, "", "Delivered", &wapoolv1.Media{Filename: "parcel.jpg", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(bdir, "_media", m.GetMedia().GetSha256()))
	if err != nil || !bytes.HasPrefix(raw, []byte("age-encryption.org/v1\n")) || bytes.Contains(raw, []byte("parcel on a doorstep")) {
		t.Fatalf("the bucket's object (%d bytes, %v) is not the sealed file", len(raw), err)
	}
	other, err := media.Open(context.Background(), media.Config{Dir: filepath.Join(t.TempDir(), "node-b", "media"), Bucket: url, Keys: []*age.X25519Identity{key}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var files supervisor.MediaFiles = other
	p, err := files.Local(context.Background(), m.GetMedia().GetSha256())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("node b's copy: %d bytes, %v; want the file", len(got), err)
	}
}

// HTTP/JSON: the file as base64; a body over the limit is refused before
// it is read, naming the file limit.
func TestSendMediaHTTP(t *testing.T) {
	st := newMediaStack(t, mediaOpts{})
	a, err := NewAuth(AuthConfig{Listen: "127.0.0.1:7440"})
	if err != nil {
		t.Fatal(err)
	}
	limit := int64(1<<20) + int64(base64.StdEncoding.EncodedLen(testMaxMedia))
	addr := startMediaGateway(t, a, st.srv, GatewayConfig{MaxRequestBytes: limit, MaxMediaBytes: testMaxMedia})
	post := func(data []byte) (*http.Response, []byte) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"to": "+4915112345678", "text": "Your invoice", "wait": "WAIT_ACCEPTED",
			"media": map[string]any{"filename": "invoice.pdf", "mimeType": "application/pdf", "data": base64.StdEncoding.EncodeToString(data)}})
		resp, err := http.Post("http://"+addr+"/v1/tenants/shop/messages", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	data := pdfBytes(testMaxMedia)
	resp, body := post(data)
	var out struct {
		Message struct {
			Media struct {
				Filename, MimeType, Size, Sha256 string
				AsDocument                       bool
			}
		}
	}
	if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST a file of the limit: %d %s", resp.StatusCode, body)
	}
	if md := out.Message.Media; md.Filename != "invoice.pdf" || md.MimeType != "application/pdf" || md.Size != fmt.Sprint(len(data)) || md.Sha256 != sha256Hex(data) || !md.AsDocument {
		t.Fatalf("POST answered media %+v", md)
	}
	if _, err := os.Stat(filepath.Join(st.dir, sha256Hex(data))); err != nil {
		t.Fatal(err)
	}
	resp, body = post(pdfBytes(testMaxMedia + 1))
	if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte("MEDIA_TOO_LARGE")) || !bytes.Contains(body, []byte("262144")) {
		t.Fatalf("POST a file a byte over: %d %s; want 400 MEDIA_TOO_LARGE naming the limit", resp.StatusCode, body)
	}
	resp, body = post(pdfBytes(testMaxMedia + 1<<20))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains(body, []byte("262144")) {
		t.Fatalf("POST a body over the limit: %d %s; want 413 naming the file limit", resp.StatusCode, body)
	}
}

// startMediaGateway is startGatewayWith with the gRPC receive limit of the
// media stack.
func startMediaGateway(t *testing.T, a *Auth, srv wapoolv1.SessionServiceServer, cfg GatewayConfig) string {
	t.Helper()
	return startGatewayWith(t, a, srv, cfg, grpc.MaxRecvMsgSize(testMaxMedia+1<<20))
}

// dropWatch is a MediaStore that closes gone once the bytes a Put was given
// are unreachable.
type dropWatch struct {
	MediaStore
	gone chan struct{}
}

func (w *dropWatch) Put(ctx context.Context, data []byte) (string, func(), error) {
	runtime.AddCleanup(&data[0], func(gone chan struct{}) { close(gone) }, w.gone)
	return w.MediaStore.Put(ctx, data)
}

// Once stored, a file's bytes are let go of while the call still waits
// (WAIT_SENT: until the page has uploaded the file), although the request
// lives as long as the call: here an interceptor keeps it to the end, as
// wapoold's metrics interceptor does. The browser reads the stored file.
func TestSendMediaLetsGoOfTheBytes(t *testing.T) {
	st := newMediaStack(t, mediaOpts{})
	w := &dropWatch{MediaStore: st.puts, gone: make(chan struct{})}
	st.srv.SetMedia(w, testMaxMedia)
	keep := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		defer runtime.KeepAlive(req)
		return handler(ctx, req)
	}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(testMaxMedia+1<<20), grpc.UnaryInterceptor(keep))
	wapoolv1.RegisterSessionServiceServer(gs, st.srv)
	conn, err := grpc.NewClient(grpctest.Serve(t, gs), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// No browser ever starts: the message stays QUEUED, and the call waits
	// for SENT until it is cancelled.
	ctx, cancel := context.WithCancel(callCtx(t))
	ended := make(chan error, 1)
	go func() {
		_, err := wapoolv1.NewSessionServiceClient(conn).Send(ctx, &wapoolv1.SendRequest{TenantId: "shop", To: "+4915112345678",
			Media: &wapoolv1.Media{Filename: "scan.pdf", Data: pdfBytes(200_000)}})
		ended <- err
	}()
	defer func() { cancel(); <-ended }()
	deadline := time.After(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-w.gone:
			if n, _ := st.store.QueueDepth("shop"); n != 1 {
				t.Fatalf("%d messages queued, want the one", n)
			}
			return
		case err := <-ended:
			t.Fatalf("the call ended before the bytes were let go of: %v", err)
		case <-deadline:
			t.Fatal("the file's bytes are still reachable 10 s into the call, after they were stored")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
