package supervisor

import (
	"context"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/sessionstore"
)

// TestFileSendRealBrowser: through the runner, real Chromium and fakewa
// (its late editors on), a document and a picture go out once each with
// their captions, under their names, byte for byte: the browser reads the
// file the runner staged in the tenant's TmpDir, and the staging is gone
// once the sends are over.
func TestFileSendRealBrowser(t *testing.T) {
	opts := fakewa.FastOptions()
	opts.EditorDelay = 300 * time.Millisecond
	media := newFakeMedia(t)
	s := newStack(t, opts, Config{Media: media})
	s.link("t1", phoneA)
	doc := media.put(t, "Invoice 7 (final).pdf", "application/pdf", []byte("%PDF-1.7\n"+string(make([]byte, 40<<10))))
	pic := media.put(t, "photo.png", "image/png", []byte("\x89PNG\r\n\x1a\nnot really a picture"))
	for _, c := range []struct {
		caption string
		md      *sessionstore.Media
		doc     bool
	}{
		{"Your invoice *7*", doc, true},
		{"", pic, false},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		m, err := s.sup.Send(ctx, SendRequest{TenantID: "t1", To: contactA, Text: c.caption, Media: c.md})
		cancel()
		if err != nil || m.State != MessageSent || m.Attempts != 1 {
			t.Fatalf("send %s: %+v, %v", c.md.Filename, m, err)
		}
		var got []fakewa.Message
		for _, x := range s.fake.Messages(phoneA) {
			if x.Media != nil && x.Media.SHA256 == c.md.SHA256 && x.Media.Filename == c.md.Filename {
				got = append(got, x)
			}
		}
		want := fakewa.Media{Filename: c.md.Filename, MimeType: c.md.MimeType, Size: c.md.Size, SHA256: c.md.SHA256, AsDocument: c.doc}
		if len(got) != 1 || got[0].To != contactA || got[0].Text != c.caption || *got[0].Media != want {
			t.Fatalf("send %s: fakewa has %+v, want one to %s with caption %q and %+v", c.md.Filename, got, contactA, c.caption, want)
		}
		if m.WAMessageID != got[0].ID && m.WAMessageID != "true_"+contactA+"@c.us_"+got[0].ID {
			t.Errorf("send %s: wa id %q, fakewa's %q", c.md.Filename, m.WAMessageID, got[0].ID)
		}
	}
	if n := len(s.fake.Messages(phoneA)); n != 2 {
		t.Errorf("fakewa has %d messages, want 2", n)
	}
	waitFor(t, "the staged files removed", 5*time.Second, func() bool { return len(mediaLeft(t, s.store)) == 0 })
}
