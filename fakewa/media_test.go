package fakewa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// uploadBody is a page's upload: the part meta, then the part file.
func uploadBody(t *testing.T, meta uploadMeta, data io.Reader) (io.Reader, string) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() { // the request reads it as it is written, as a browser streams it
		m, _ := json.Marshal(meta)
		err := mw.WriteField("meta", string(m))
		if err == nil {
			var w io.Writer
			if w, err = mw.CreateFormFile("file", meta.Filename); err == nil {
				_, err = io.Copy(w, data)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, mw.FormDataContentType()
}

// upload posts a file as the page does and returns the status and answer;
// status 0 when the server wrote no answer.
func (p *page) upload(ctx context.Context, meta uploadMeta, data []byte) (int, pageMessage) {
	p.t.Helper()
	body, ct := uploadBody(p.t, meta, bytes.NewReader(data))
	req := httptest.NewRequestWithContext(ctx, "POST", "/_fakeapi/upload?sid="+p.sid, body)
	req.Header.Set("Content-Type", ct)
	rec := httptest.NewRecorder()
	p.s.ServeHTTP(rec, req)
	var a pageMessage
	if rec.Body.Len() == 0 {
		return 0, a // no answer: the page left
	}
	if rec.Code == 200 {
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			p.t.Fatalf("upload answer %q: %v", rec.Body.String(), err)
		}
	}
	return rec.Code, a
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(b)
	return b
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// TestUploadRecordsFiles checks /_fakeapi/upload: the file's hash, size,
// name and type as received, the caption as the text, the upload time
// (Options.UploadPerMiB, at least a quarter of it), a retry that is not a
// second message, a file too large, and the media in /_fake/messages, in
// the chat's history and in the chat list.
func TestUploadRecordsFiles(t *testing.T) {
	const perMiB = 100 * time.Millisecond
	s, clk := newTestServer(t, Options{AckDelay: 400 * time.Millisecond, UploadPerMiB: perMiB})
	p, _ := link(t, s, "15550001111")
	ctx := context.Background()

	doc := randomBytes(2<<20 + 123)
	start := time.Now()
	st, a := p.upload(ctx, uploadMeta{ID: "3EB0000000000000000A", To: "15550002222", Caption: "Invoice *1042*", Filename: "invoice.pdf", MimeType: "application/pdf", AsDocument: true}, doc)
	took := time.Since(start)
	if st != 200 || a.ID != "3EB0000000000000000A" || a.Ack != 0 || a.CheckInMS != 400 || a.Media == nil || a.Media.Filename != "invoice.pdf" {
		t.Fatalf("upload: %d %+v", st, a)
	}
	if want := uploadTime(perMiB, int64(len(doc))); took < want || want < 2*perMiB {
		t.Fatalf("a %d-byte file uploaded in %v, want at least %v", len(doc), took, want)
	}
	start = time.Now()
	png := []byte("\x89PNG\r\n\x1a\n tiny")
	if st, _ := p.upload(ctx, uploadMeta{ID: "3EB0000000000000000B", To: "15550002222", Filename: "parcel.png", MimeType: "image/png"}, png); st != 200 {
		t.Fatalf("picture: %d", st)
	}
	if took := time.Since(start); took < perMiB/4 {
		t.Fatalf("a tiny file uploaded in %v, want at least %v", took, perMiB/4)
	}
	if st, _ := p.upload(ctx, uploadMeta{ID: "3EB0000000000000000C", To: "15550002222", Filename: "notes", MimeType: ""}, []byte("x")); st != 200 {
		t.Fatalf("a file without a type: %d", st)
	}
	if st, _ := p.upload(ctx, uploadMeta{ID: "3EB0000000000000000A", To: "15550002222", Caption: "Invoice *1042*", Filename: "invoice.pdf", MimeType: "application/pdf", AsDocument: true}, doc); st != 200 {
		t.Fatalf("retry: %d", st)
	}
	for _, bad := range []uploadMeta{{ID: "nope", To: "15550002222"}, {ID: "3EB0000000000000000D", To: "15550100000"}, {ID: "3EB0000000000000000E", To: "+1555"}} {
		if st, _ := p.upload(ctx, bad, []byte("x")); st != 400 {
			t.Fatalf("upload %+v: %d, want 400", bad, st)
		}
	}
	s.maxUpload = 1 << 20
	body, ct := uploadBody(t, uploadMeta{ID: "3EB0000000000000000F", To: "15550002222", Filename: "big.bin"}, io.LimitReader(zeros{}, s.maxUpload+1))
	req := httptest.NewRequest("POST", "/_fakeapi/upload?sid="+p.sid, body)
	req.Header.Set("Content-Type", ct)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a file one byte over the limit: %d, want 413", rec.Code)
	}
	req = httptest.NewRequest("POST", "/_fakeapi/upload?sid="+p.sid, bytes.NewReader(nil))
	req.ContentLength = 3 << 20 // a body that says it is over the limit is refused unread
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a body of 3 MiB: %d, want 413", rec.Code)
	}
	s.maxUpload = MaxUpload

	var got []Message
	do(t, s, "GET", "/_fake/messages?account=15550001111", nil, &got)
	want := []Media{
		{Filename: "invoice.pdf", MimeType: "application/pdf", Size: int64(len(doc)), SHA256: sum(doc), AsDocument: true},
		{Filename: "parcel.png", MimeType: "image/png", Size: int64(len(png)), SHA256: sum(png)},
		{Filename: "notes", MimeType: "application/octet-stream", Size: 1, SHA256: sum([]byte("x")), AsDocument: true}, // neither a picture nor a video
	}
	if len(got) != len(want) || got[0].Text != "Invoice *1042*" || got[1].Text != "" {
		t.Fatalf("/_fake/messages = %+v", got)
	}
	for i, w := range want {
		if got[i].Media == nil || *got[i].Media != w {
			t.Fatalf("message %d media %+v, want %+v", i, got[i].Media, w)
		}
	}
	var raw []map[string]any
	do(t, s, "GET", "/_fake/messages?account=15550001111", nil, &raw)
	if m, _ := raw[0]["media"].(map[string]any); m["sha256"] != sum(doc) || m["mime_type"] != "application/pdf" || m["filename"] != "invoice.pdf" || m["size"] != float64(len(doc)) || m["as_document"] != true {
		t.Fatalf("media as JSON: %v", raw[0]["media"])
	}
	if _, ok := raw[0]["media"]; !ok {
		t.Fatal("no media key")
	}

	clk.Advance(400 * time.Millisecond)
	var open struct {
		Messages []pageMessage `json:"messages"`
	}
	do(t, s, "GET", "/_fakeapi/open?sid="+p.sid+"&phone=15550002222", nil, &open)
	if len(open.Messages) != 3 || open.Messages[0].Ack != 1 || open.Messages[1].Media == nil || open.Messages[1].Media.MimeType != "image/png" || open.Messages[1].Media.AsDocument {
		t.Fatalf("the chat's history: %+v", open.Messages)
	}
	var chats []struct {
		LastText string `json:"last_text"`
	}
	do(t, s, "GET", "/_fakeapi/chats?sid="+p.sid, nil, &chats)
	if len(chats) != 1 || chats[0].LastText != "notes" {
		t.Fatalf("chat list: %+v, want the last file's name", chats)
	}
}

// TestUploadLeftMidway: a page that leaves while its file uploads has sent
// nothing; Close ends an upload's wait at once.
func TestUploadLeftMidway(t *testing.T) {
	s, _ := newTestServer(t, Options{UploadPerMiB: time.Hour})
	p, _ := link(t, s, "15550001111")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		st, _ := p.upload(ctx, uploadMeta{ID: "3EB0000000000000000A", To: "15550002222", Filename: "a.pdf"}, []byte("%PDF"))
		done <- st
	}()
	cancel()
	select {
	case st := <-done:
		if st != 0 {
			t.Fatalf("the server answered %d to a page that left", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the upload did not end when its page left")
	}
	if m := s.Messages("15550001111"); len(m) != 0 {
		t.Fatalf("a page that left mid-upload sent %+v", m)
	}

	go func() {
		st, _ := p.upload(context.Background(), uploadMeta{ID: "3EB0000000000000000B", To: "15550002222", Filename: "b.pdf"}, []byte("%PDF"))
		done <- st
	}()
	s.Close()
	select {
	case st := <-done:
		if st != 200 {
			t.Fatalf("upload after Close: %d", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the upload's wait")
	}
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

func TestUploadPerMiBKnob(t *testing.T) {
	if o := WorstCaseOptions(); o.UploadPerMiB != time.Second {
		t.Fatalf("worst case UploadPerMiB %v", o.UploadPerMiB)
	}
	s, _ := newTestServer(t, Options{})
	if o := s.Options(); o.UploadPerMiB != 50*time.Millisecond {
		t.Fatalf("default UploadPerMiB %v", o.UploadPerMiB)
	}
	var c map[string]any
	if st := do(t, s, "POST", "/_fake/config", map[string]any{"upload_per_mib": "2s"}, &c); st != 200 || c["upload_per_mib"] != "2s" {
		t.Fatalf("POST config: %d %v", st, c)
	}
	if o := s.Options(); o.UploadPerMiB != 2*time.Second {
		t.Fatalf("UploadPerMiB %v after POST", o.UploadPerMiB)
	}
	for size, want := range map[int64]time.Duration{0: 500 * time.Millisecond, 16 << 20: 32 * time.Second, 1 << 19: time.Second} {
		if got := uploadTime(2*time.Second, size); got != want {
			t.Errorf("uploadTime(2s, %d) = %v, want %v", size, got, want)
		}
	}
}
