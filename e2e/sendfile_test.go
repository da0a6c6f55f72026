package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/wapool/wapool/internal/wapooldtest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// streamFile sends file through d's SendFile in chunks of chunk bytes.
func streamFile(ctx context.Context, d *daemon, tenant, to, key string, file mediaFile, chunk int, wait wapoolv1.Wait) (*wapoolv1.Message, error) {
	return wapooldtest.SendFile(ctx, d.client(), &wapoolv1.SendRequest{
		TenantId: tenant, To: to, Text: file.caption, IdempotencyKey: key, Wait: wait,
		Media: &wapoolv1.Media{Filename: file.name, MimeType: file.mime, AsDocument: file.asDocument}}, file.data, chunk)
}

// TestSendFileArrivesOnce: a 3 MiB PDF and a picture streamed through
// SendFile in chunks go out through the real browser once each, byte for
// byte, with their caption, name and kind; the same key again, through
// SendFile or through Send, answers the same message and sends nothing.
func TestSendFileArrivesOnce(t *testing.T) {
	t.Parallel() // mostly waits on the page: runs beside another (see harness_test.go)
	f, d := startStack(t)
	link(t, d, f, "shop", accountA)
	files := []mediaFile{
		{name: "statement-2026-11.pdf", caption: "Your statement", data: testPDF(3<<20, 11), mime: "application/pdf", document: true},
		{name: "parcel.png", caption: "Your parcel", data: testPNG(t, 60, 40, 12), mime: "image/png"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i, file := range files {
		key := "stream-" + file.name
		m, err := streamFile(ctx, d, "shop", contact1, key, file, 256<<10, wapoolv1.Wait_WAIT_SENT)
		if err != nil {
			t.Fatalf("%s: %v", file.name, err)
		}
		checkArrivedOnce(t, f, accountA, contact1, file, m)
		again, err := streamFile(ctx, d, "shop", contact1, key, file, 100<<10, wapoolv1.Wait_WAIT_SENT)
		if err != nil || again.GetId() != m.GetId() {
			t.Fatalf("%s: the same key through SendFile = %v, %v; want message %s", file.name, again, err, m.GetId())
		}
		unary, err := sendFile(ctx, d, "shop", contact1, key, file, wapoolv1.Wait_WAIT_SENT)
		if err != nil || unary.GetId() != m.GetId() {
			t.Fatalf("%s: the same key through Send = %v, %v; want message %s", file.name, unary, err, m.GetId())
		}
		if got := fakeMessages(t, f, accountA); len(got) != i+1 {
			t.Fatalf("fakewa recorded %d messages after %d files, want one each: %+v", len(got), i+1, got)
		}
	}
}
