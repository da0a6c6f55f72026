package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// send --file: the file's bytes under its base name, the type its extension
// declares, the rest of the words its caption (none is fine); --as-document.
func TestSendFile(t *testing.T) {
	fake := newFakeService(t)
	addr := serve(t, fake)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pdf := write("invoice 1042.pdf", []byte("%PDF-1.7 an invoice"))
	png := write("parcel.png", []byte("\x89PNG\r\n\x1a\n a parcel"))

	r := runCtl(t, addr, "send", "shop1", "+4915100000001", "--file", pdf, "--key", "inv-1042")
	r.want(t, 0, []string{"file", "invoice 1042.pdf (19 bytes, application/pdf, document)", "SENT"}, nil)
	r = runCtl(t, addr, "send", "shop1", "+4915100000001", "Your", "parcel", "--file", png)
	r.want(t, 0, []string{"parcel.png (17 bytes, image/png, picture)"}, nil)
	r = runCtl(t, addr, "send", "--file", png, "--as-document", "shop1", "+4915100000001", "as it is")
	r.want(t, 0, []string{"parcel.png (17 bytes, image/png, document)"}, nil)

	fake.mu.Lock()
	sends, chunks := fake.sends, fake.chunks
	fake.mu.Unlock()
	if chunks != 3 {
		t.Errorf("%d chunks streamed through SendFile, want one per file", chunks)
	}
	want := []*wapoolv1.SendRequest{
		{TenantId: "shop1", To: "+4915100000001", IdempotencyKey: "inv-1042",
			Media: &wapoolv1.Media{Filename: "invoice 1042.pdf", MimeType: "application/pdf", Data: []byte("%PDF-1.7 an invoice")}},
		{TenantId: "shop1", To: "+4915100000001", Text: "Your parcel",
			Media: &wapoolv1.Media{Filename: "parcel.png", MimeType: "image/png", Data: []byte("\x89PNG\r\n\x1a\n a parcel")}},
		{TenantId: "shop1", To: "+4915100000001", Text: "as it is",
			Media: &wapoolv1.Media{Filename: "parcel.png", MimeType: "image/png", Data: []byte("\x89PNG\r\n\x1a\n a parcel"), AsDocument: true}},
	}
	if len(sends) != len(want) {
		t.Fatalf("%d sends, want %d", len(sends), len(want))
	}
	for i := range want {
		if got := sends[i]; got.GetText() != want[i].GetText() || got.GetIdempotencyKey() != want[i].GetIdempotencyKey() ||
			got.GetMedia().GetFilename() != want[i].GetMedia().GetFilename() || got.GetMedia().GetMimeType() != want[i].GetMedia().GetMimeType() ||
			!bytes.Equal(got.GetMedia().GetData(), want[i].GetMedia().GetData()) || got.GetMedia().GetAsDocument() != want[i].GetMedia().GetAsDocument() {
			t.Errorf("send %d: got %v, want %v", i, got, want[i])
		}
	}

	// Mistakes: no file, a directory, --as-document alone, no text nor file.
	r = runCtl(t, addr, "send", "shop1", "+4915100000001", "--file", filepath.Join(dir, "missing.pdf"))
	r.want(t, 1, nil, []string{"--file", "no such file"})
	r = runCtl(t, addr, "send", "shop1", "+4915100000001", "--file", dir)
	r.want(t, 1, nil, []string{"not a regular file"})
	r = runCtl(t, addr, "send", "shop1", "+4915100000001", "hi", "--as-document")
	r.want(t, 2, nil, []string{"--as-document goes with --file"})
	r = runCtl(t, addr, "send", "shop1", "+4915100000001")
	r.want(t, 2, nil, []string{"send needs 3 argument(s), got 2"})

	// The daemon's refusals, in words: over its limit, empty, and past the
	// gRPC receive limit (the fake's: gRPC's default 4 MiB).
	r = runCtl(t, addr, "send", "shop1", "+4915100000001", "--file", write("big.pdf", make([]byte, fakeMaxMedia+1)))
	r.want(t, 1, nil, []string{"big.pdf is larger than the daemon takes", "1001 bytes", "--max-media-bytes"})
	r = runCtl(t, addr, "send", "shop1", "+4915100000001", "--file", write("empty.pdf", nil))
	r.want(t, 1, nil, []string{"the daemon refused the file", "empty.pdf", "is empty"})
	r = runCtl(t, addr, "send", "shop1", "+4915100000001", "--file", write("huge.pdf", make([]byte, 5<<20)))
	r.want(t, 1, nil, []string{"huge.pdf is larger than the daemon takes", "--max-media-bytes"})
}

// watch names a message's file and its size, never more.
func TestWatchNamesTheFile(t *testing.T) {
	ev := &wapoolv1.Event{TenantId: "shop1", Kind: &wapoolv1.Event_Message{Message: &wapoolv1.MessageEvent{Message: &wapoolv1.Message{
		Id: "m1", To: "4915100001234", State: wapoolv1.MessageState_MESSAGE_STATE_QUEUED,
		Media: &wapoolv1.MessageMedia{Filename: "invoice.pdf", MimeType: "application/pdf", Size: 2 << 20, Sha256: "ab"},
	}}}}
	if got, want := eventWhat(ev), `message m1 QUEUED to …1234 with file "invoice.pdf" (2.0 MiB)`; got != want {
		t.Fatalf("eventWhat = %q, want %q", got, want)
	}
}

// oldDaemon is a daemon from before SendFile.
type oldDaemon struct{ *fakeService }

func (oldDaemon) SendFile(grpc.ClientStreamingServer[wapoolv1.SendFileRequest, wapoolv1.SendFileResponse]) error {
	return status.Error(codes.Unimplemented, "unknown method SendFile for service wapool.v1.SessionService")
}

// A daemon without SendFile gets the file through Send.
func TestSendFileToAnOldDaemon(t *testing.T) {
	fake := newFakeService(t)
	addr := serve(t, oldDaemon{fake})
	p := filepath.Join(t.TempDir(), "invoice.pdf")
	if err := os.WriteFile(p, []byte("%PDF-1.7 an invoice"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCtl(t, addr, "send", "shop1", "+4915100000001", "--file", p)
	r.want(t, 0, []string{"invoice.pdf (19 bytes, application/pdf, document)", "SENT"}, nil)
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.sends) != 1 || !bytes.Equal(fake.sends[0].GetMedia().GetData(), []byte("%PDF-1.7 an invoice")) {
		t.Fatalf("sends %v, want the file through Send", fake.sends)
	}
}
