package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/chromiumtest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// Files sent through the daemon (issue 25, DESIGN.md fact 19 and "Sends:
// exactly once") on fakewa's worst case: every kind arrives once, with its
// caption, name and kind, byte for byte, and through SIGKILLs of the daemon
// and of the tenant's browser during and right after the upload.

// mediaFile is a file a test sends and what fakewa must record of it.
type mediaFile struct {
	name       string
	caption    string // as sent: the daemon and the page trim it
	data       []byte
	asDocument bool   // SendRequest.media.as_document
	mime       string // the type the daemon sniffs and the browser gives by the name's extension
	document   bool   // goes out as a file card (fakewa's Media.AsDocument)
}

func (f mediaFile) sha() string {
	sum := sha256.Sum256(f.data)
	return hex.EncodeToString(sum[:])
}

// testImage is a w×h picture drawn from seed: gradients and noise, so that
// two seeds give two different files.
func testImage(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 1))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8(r.IntN(256)), 255})
		}
	}
	return img
}

func testJPEG(t *testing.T, w, h int, seed uint64) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(w, h, seed), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testPNG(t *testing.T, w, h int, seed uint64) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(w, h, seed)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// testWebP is a valid 1×1 lossy WebP (VP8), the one feature detection
// scripts decode; Chromium draws it.
func testWebP(t *testing.T) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString("UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testPDF is a valid one-page PDF carrying size bytes of noise drawn from
// seed in a stream, with its cross-reference table.
func testPDF(size int, seed uint64) []byte {
	noise := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 2))
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	var b bytes.Buffer
	var offsets []int
	obj := func(body string, stream []byte) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\n", len(offsets), body)
		if stream != nil {
			b.WriteString("stream\n")
			b.Write(stream)
			b.WriteString("\nendstream\n")
		}
		b.WriteString("endobj\n")
	}
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>", nil)
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>", nil)
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>", nil)
	obj("<< /Length 0 >>", []byte{})
	obj(fmt.Sprintf("<< /Length %d >>", len(noise)), noise)
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// testBlob is size bytes of noise drawn from seed: with the seeds the
// tests use, a file of no known type (they check the type the daemon
// sniffs).
func testBlob(size int, seed uint64) []byte {
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 3))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// sendFile sends file with its caption from tenant to to through d's gRPC.
func sendFile(ctx context.Context, d *daemon, tenant, to, key string, file mediaFile, wait wapoolv1.Wait) (*wapoolv1.Message, error) {
	resp, err := d.client().Send(ctx, &wapoolv1.SendRequest{
		TenantId: tenant, To: to, Text: file.caption, IdempotencyKey: key, Wait: wait,
		Media: &wapoolv1.Media{Filename: file.name, MimeType: file.mime, Data: file.data, AsDocument: file.asDocument},
	})
	if err != nil {
		return nil, err
	}
	return resp.Message, nil
}

// fakeMessages reads GET /_fake/messages?account=… as a client of fakewa's
// control API would.
func fakeMessages(t *testing.T, f *fake, account string) []fakewa.Message {
	t.Helper()
	resp, err := http.Get(f.url + "/_fake/messages?account=" + url.QueryEscape(account))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []fakewa.Message
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /_fake/messages: %d, %v", resp.StatusCode, err)
	}
	return out
}

// checkArrivedOnce checks that account sent file to to exactly once, as m
// (the daemon's message, SENT) says: fakewa recorded one message with the
// file's bytes (SHA-256), its name, its type and kind, and the caption as
// its text; its id is m's WhatsApp id.
func checkArrivedOnce(t *testing.T, f *fake, account, to string, file mediaFile, m *wapoolv1.Message) {
	t.Helper()
	sha := file.sha()
	if m.GetState() != wapoolv1.MessageState_MESSAGE_STATE_SENT {
		t.Fatalf("%s: message %v, want SENT", file.name, m)
	}
	wantMedia := &wapoolv1.MessageMedia{Filename: file.name, MimeType: file.mime, Size: int64(len(file.data)), Sha256: sha, AsDocument: file.document}
	if md := m.GetMedia(); md.GetFilename() != wantMedia.Filename || md.GetMimeType() != wantMedia.MimeType || md.GetSize() != wantMedia.Size ||
		md.GetSha256() != wantMedia.Sha256 || md.GetAsDocument() != wantMedia.AsDocument {
		t.Errorf("%s: the daemon's message holds media %v, want %v", file.name, md, wantMedia)
	}
	var got []fakewa.Message
	for _, x := range fakeMessages(t, f, account) {
		if x.Media != nil && x.Media.SHA256 == sha {
			got = append(got, x)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%s (sha256 %.12s…): fakewa recorded it %d times, want once: %+v", file.name, sha, len(got), got)
	}
	x := got[0]
	want := fakewa.Media{Filename: file.name, MimeType: file.mime, Size: int64(len(file.data)), SHA256: sha, AsDocument: file.document}
	if *x.Media != want {
		t.Errorf("%s: fakewa recorded %+v, want %+v", file.name, *x.Media, want)
	}
	if x.To != to {
		t.Errorf("%s: sent to %s, want %s", file.name, x.To, to)
	}
	if caption := strings.TrimSpace(file.caption); x.Text != caption {
		t.Errorf("%s: caption %q, want %q", file.name, x.Text, caption)
	}
	if id := m.GetWaMessageId(); id != x.ID && !strings.HasSuffix(id, "_"+x.ID) {
		t.Errorf("%s: the daemon's WhatsApp id %q is not fakewa's %q", file.name, id, x.ID)
	}
}

// TestMediaEveryKindOnce: on fakewa's worst case (slow boot, acks and
// uploads, the late editor in the chat and in the caption box), pictures
// (JPEG, PNG, WebP), a PDF, a picture sent as a document, a file of no
// known type, and files with no caption, accepted at once through the
// daemon's gRPC, each arrive once, with their caption, name and kind, byte
// for byte; and nothing else arrives.
func TestMediaEveryKindOnce(t *testing.T) {
	t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
	f, d := startStackWith(t, fakewa.WorstCaseOptions())
	link(t, d, f, "shop", accountA)
	linked := time.Now()
	files := []mediaFile{
		{name: "photo.jpg", caption: "Your order *1042* is ready 📦", data: testJPEG(t, 64, 48, 1), mime: "image/jpeg"},
		{name: "chart.png", caption: "Weekly chart\nweek 49", data: testPNG(t, 40, 30, 2), mime: "image/png"},
		{name: "sticker.webp", caption: "A sticker", data: testWebP(t), mime: "image/webp"},
		{name: "Invoice 7 (final).pdf", caption: "Your invoice, thank you", data: testPDF(300<<10, 4), mime: "application/pdf", document: true},
		{name: "scan.png", caption: "The scan, uncompressed", data: testPNG(t, 50, 70, 5), asDocument: true, mime: "image/png", document: true},
		{name: "quiet.jpg", caption: "", data: testJPEG(t, 32, 32, 6), mime: "image/jpeg"},
		{name: "backup-2026-12", caption: " \n ", data: testBlob(70<<10, 7), mime: "application/octet-stream", document: true},
	}
	// All accepted at once, so that the tenant's queue stays full; then
	// each asked again with its key, waiting for SENT (the same message,
	// never a second send).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ids := make([]string, len(files))
	for i, file := range files {
		m, err := sendFile(ctx, d, "shop", contact1, fmt.Sprintf("file-%d", i), file, wapoolv1.Wait_WAIT_ACCEPTED)
		if err != nil {
			t.Fatalf("%s: %v", file.name, err)
		}
		ids[i] = m.GetId()
	}
	for i, file := range files {
		m, err := sendFile(ctx, d, "shop", contact1, fmt.Sprintf("file-%d", i), file, wapoolv1.Wait_WAIT_SENT)
		if err != nil {
			t.Fatalf("%s: %v", file.name, err)
		}
		if m.GetId() != ids[i] {
			t.Errorf("%s: the retry with its key answered message %s, want %s", file.name, m.GetId(), ids[i])
		}
		checkArrivedOnce(t, f, accountA, contact1, file, m)
	}
	t.Logf("%d files sent in %v after the link", len(files), time.Since(linked).Round(100*time.Millisecond))
	if got := fakeMessages(t, f, accountA); len(got) != len(files) {
		t.Errorf("fakewa recorded %d messages, want the %d files and nothing else: %+v", len(got), len(files), got)
	}
}

// uploadWatch sees the page's uploads of files to fakewa as the network
// does: the requests to fakewa's own page API that post a file
// (uploadPath; not the page contract, so the test names it here alone),
// when each begins and with what status it ends (0: the page left before
// the answer, and fakewa recorded nothing).
type uploadWatch struct {
	mu    sync.Mutex
	began int
	ended []int
}

// uploadPath is where fakewa's page posts a message's file.
const uploadPath = "/_fakeapi/upload"

func (u *uploadWatch) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != uploadPath {
			h.ServeHTTP(w, r)
			return
		}
		u.mu.Lock()
		u.began++
		u.mu.Unlock()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		u.mu.Lock()
		u.ended = append(u.ended, sw.status)
		u.mu.Unlock()
	})
}

// counts returns how many uploads began and the statuses of those that
// ended, in order.
func (u *uploadWatch) counts() (began int, ended []int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.began, append([]int(nil), u.ended...)
}

// statusWriter records the status a handler answered with (0: none).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// mediaStack is fakewa (its uploads watched) and a wapoold on it, with one
// tenant linked to accountA; d is replaced when the daemon is restarted.
type mediaStack struct {
	t *testing.T // the test that owns the stack: a restarted daemon is stopped when it ends
	f *fake
	u *uploadWatch
	d *daemon
}

// startMediaStack starts fakewa with opts, its uploads watched, a wapoold on
// it with pacing off, and links tenant "shop" to accountA.
func startMediaStack(t *testing.T, opts fakewa.Options) *mediaStack {
	t.Helper()
	fw := fakewa.New(opts)
	u := &uploadWatch{}
	ts := httptest.NewServer(u.wrap(fw))
	t.Cleanup(func() { fw.Close(); ts.Close() })
	f := &fake{Server: fw, url: ts.URL}
	d := startDaemon(t, daemonOpts{args: []string{"--target-url", f.url, "--chromium", chromiumtest.Path(t), "--send-interval", "0", "--send-jitter", "0"}})
	link(t, d, f, "shop", accountA)
	return &mediaStack{t: t, f: f, u: u, d: d}
}

// killDaemon SIGKILLs the daemon (its browser dies with it) and starts it
// again on the same data dir, for the rest of the stack's test.
func (s *mediaStack) killDaemon(t *testing.T) {
	t.Helper()
	if err := s.d.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.d.exited
	waitNoBrowsers(t, s.d.dataDir, 10*time.Second)
	s.d = startDaemon(s.t, s.d.opts)
}

// killBrowser SIGKILLs the tenant's Chromium (its process group); the
// daemon restarts it.
func (s *mediaStack) killBrowser(t *testing.T) {
	t.Helper()
	pid := sessionStatus(t, s.d, "shop").GetBrowser().GetPid()
	if pid == 0 {
		t.Fatal("the tenant has no browser pid")
	}
	if err := syscall.Kill(-int(pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// slowUpload is how long an upload lasts while the test waits to kill
// during it: long enough that the kill lands inside it on a busy machine.
const slowUpload = 5 * time.Second

// slowUploads makes fakewa's uploads of a file of file's size last
// slowUpload (Options.UploadPerMiB applies to the uploads that begin
// after the change).
func (s *mediaStack) slowUploads(file mediaFile) {
	perMiB := time.Duration(float64(slowUpload) * (1 << 20) / float64(len(file.data)))
	s.f.SetOptions(func(o *fakewa.Options) { o.UploadPerMiB = perMiB })
}

// worstUploads sets fakewa's uploads back to the worst case's pace.
func (s *mediaStack) worstUploads() {
	s.f.SetOptions(func(o *fakewa.Options) { o.UploadPerMiB = fakewa.WorstCaseOptions().UploadPerMiB })
}

// waitUploadBegins waits until the page has begun more than began uploads.
func (s *mediaStack) waitUploadBegins(t *testing.T, began int, what string) {
	t.Helper()
	waitFor(t, "the page's upload of "+what, 60*time.Second, func() bool {
		n, _ := s.u.counts()
		return n > began
	})
}

// waitSent waits until message id ends SENT, asked through the daemon
// running now, and returns it; FAILED fails the test.
func (s *mediaStack) waitSent(t *testing.T, id, what string) *wapoolv1.Message {
	t.Helper()
	var m *wapoolv1.Message
	waitFor(t, what+" (message "+id+") SENT", 2*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := s.d.client().GetMessage(ctx, &wapoolv1.GetMessageRequest{TenantId: "shop", MessageId: id})
		if err != nil {
			return false // the restarted daemon, for a moment
		}
		if r.GetMessage().GetState() == wapoolv1.MessageState_MESSAGE_STATE_FAILED {
			t.Fatalf("%s: FAILED (%s): %s", what, r.GetMessage().GetErrorReason(), r.GetMessage().GetError())
		}
		m = r.GetMessage()
		return m.GetState() == wapoolv1.MessageState_MESSAGE_STATE_SENT
	})
	return m
}

// uploadsSince returns how many uploads began since began0 and how those
// that ended since ended0 ended, and how many of them fakewa answered.
func (s *mediaStack) uploadsSince(began0 int, ended0 []int) (began int, ended []int, answered int) {
	began, ended = s.u.counts()
	began, ended = began-began0, ended[len(ended0):]
	for _, st := range ended {
		if st == http.StatusOK {
			answered++
		}
	}
	return began, ended, answered
}

// sendThroughKill sends file (WAIT_ACCEPTED) and kills, with kill, either
// while the page uploads it (duringUpload: the upload made to last
// slowUpload, set back to the worst case's pace after the kill) or once
// fakewa has recorded it, before its ack reaches the daemon. Then the
// message must end SENT and the file arrive once, byte for byte. The page
// shows whether the click went out, and the daemon acts on it (DESIGN.md
// "Sends: exactly once"): an upload cut by the kill sent nothing, and the
// file is sent again (a second upload); a file recorded before the kill is
// found in the chat and not sent again (no second upload).
func (s *mediaStack) sendThroughKill(t *testing.T, file mediaFile, duringUpload bool, kill func(*testing.T)) {
	t.Helper()
	began0, ended0 := s.u.counts()
	if duringUpload {
		s.slowUploads(file)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m, err := sendFile(ctx, s.d, "shop", contact1, "kill/"+file.name, file, wapoolv1.Wait_WAIT_ACCEPTED)
	if err != nil {
		t.Fatal(err)
	}
	if duringUpload {
		s.waitUploadBegins(t, began0, file.name)
	} else {
		waitFor(t, "fakewa's record of "+file.name, 60*time.Second, func() bool {
			for _, x := range s.f.Messages(accountA) {
				if x.Media != nil && x.Media.SHA256 == file.sha() {
					if x.Ack > 0 {
						t.Logf("%s was acked (ack %d) before the kill", file.name, x.Ack)
					}
					return true
				}
			}
			return false
		})
	}
	kill(t)
	if duringUpload {
		s.worstUploads()
	}
	final := s.waitSent(t, m.GetId(), file.name)
	checkArrivedOnce(t, s.f, accountA, contact1, file, final)

	began, ended, answered := s.uploadsSince(began0, ended0)
	switch {
	case answered != 1:
		t.Errorf("%s: %d uploads answered (statuses %v), want 1", file.name, answered, ended)
	case duringUpload && (began != 2 || len(ended) != 2 || ended[0] == http.StatusOK):
		t.Errorf("%s: %d uploads (statuses %v), want 2: the first cut by the kill (no answer), then the one sent again", file.name, began, ended)
	case !duringUpload && began != 1:
		t.Errorf("%s: %d uploads (statuses %v), want 1: the file recorded before the kill is not sent again", file.name, began, ended)
	}
	t.Logf("%s: %d attempts; uploads ended with %v", file.name, final.GetAttempts(), ended)
}

// TestMediaDaemonKilled, on fakewa's worst case: the daemon SIGKILLed
// while the page uploads a picture, then right after fakewa recorded a
// document with no caption (before its ack), then while the page uploads
// the first of two identical files (the same bytes and caption, two
// messages); after each restart on the same data dir every message ends
// SENT and its file arrives once, byte for byte.
func TestMediaDaemonKilled(t *testing.T) {
	t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
	s := startMediaStack(t, fakewa.WorstCaseOptions())
	t.Run("during the upload", func(t *testing.T) {
		s.sendThroughKill(t, mediaFile{name: "order-1042.jpg", caption: "Order *1042*: your photo", data: testJPEG(t, 320, 240, 11), mime: "image/jpeg"}, true, s.killDaemon)
	})
	t.Run("after the upload", func(t *testing.T) {
		s.sendThroughKill(t, mediaFile{name: "receipt.pdf", data: testPDF(120<<10, 12), mime: "application/pdf", document: true}, false, s.killDaemon)
	})
	// Two messages that carry the same file (stored once) and the same
	// caption are two messages: the one cut by the kill goes out again,
	// the other after it, each once.
	t.Run("identical files", func(t *testing.T) {
		file := mediaFile{name: "ticket.png", caption: "Your ticket", data: testPNG(t, 160, 90, 13), mime: "image/png"}
		began0, ended0 := s.u.counts()
		s.slowUploads(file)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		var ids []string
		for i := range 2 {
			m, err := sendFile(ctx, s.d, "shop", contact1, fmt.Sprintf("same/%d", i), file, wapoolv1.Wait_WAIT_ACCEPTED)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.GetId())
		}
		s.waitUploadBegins(t, began0, file.name)
		s.killDaemon(t)
		s.worstUploads()
		waIDs := map[string]bool{}
		for _, id := range ids {
			m := s.waitSent(t, id, file.name)
			if md := m.GetMedia(); md.GetSha256() != file.sha() || md.GetFilename() != file.name {
				t.Errorf("message %s holds media %v, want %s (sha256 %.12s…)", id, md, file.name, file.sha())
			}
			waIDs[m.GetWaMessageId()] = true
		}
		var got []fakewa.Message
		for _, x := range fakeMessages(t, s.f, accountA) {
			if x.Media != nil && x.Media.SHA256 == file.sha() {
				got = append(got, x)
			}
		}
		if len(got) != 2 || len(waIDs) != 2 {
			t.Fatalf("fakewa recorded the file %d times (%+v), the daemon has %d WhatsApp ids %v; want 2 of each", len(got), got, len(waIDs), waIDs)
		}
		for _, x := range got {
			if x.Text != file.caption || x.To != contact1 || x.Media.Filename != file.name || x.Media.AsDocument {
				t.Errorf("fakewa recorded %+v (media %+v), want %s to %s with caption %q, as a picture", x, *x.Media, file.name, contact1, file.caption)
			}
			if !waIDs[x.ID] && !waIDs["true_"+contact1+"@c.us_"+x.ID] {
				t.Errorf("fakewa's id %s is none of the daemon's %v", x.ID, waIDs)
			}
		}
		began, ended, answered := s.uploadsSince(began0, ended0)
		if began != 3 || answered != 2 || len(ended) != 3 || ended[0] == http.StatusOK {
			t.Errorf("%d uploads (statuses %v), want 3: the first cut by the kill, then each message's once", began, ended)
		}
	})
	if got := fakeMessages(t, s.f, accountA); len(got) != 4 {
		t.Errorf("fakewa recorded %d messages, want the 4 files: %+v", len(got), got)
	}
}

// TestMediaBrowserKilled, on fakewa's worst case drawn as its 2026 build
// (fact 20): the tenant's Chromium SIGKILLed while the page uploads a
// document, then right after fakewa recorded a picture (before its ack);
// once the daemon has restarted the browser the message ends SENT and its
// file arrives once, byte for byte.
func TestMediaBrowserKilled(t *testing.T) {
	t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
	opts := fakewa.WorstCaseOptions()
	opts.Build = fakewa.Build2026
	s := startMediaStack(t, opts)
	t.Run("during the upload", func(t *testing.T) {
		s.sendThroughKill(t, mediaFile{name: "contract.pdf", caption: "Please sign page 2", data: testPDF(200<<10, 21), mime: "application/pdf", document: true}, true, s.killBrowser)
	})
	t.Run("after the upload", func(t *testing.T) {
		s.sendThroughKill(t, mediaFile{name: "proof.png", caption: "Proof of delivery _signed_ 📦", data: testPNG(t, 120, 90, 22), mime: "image/png"}, false, s.killBrowser)
	})
	if got := fakeMessages(t, s.f, accountA); len(got) != 2 {
		t.Errorf("fakewa recorded %d messages, want the 2 files: %+v", len(got), got)
	}
}
