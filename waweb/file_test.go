package waweb_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/waweb"
)

// testFile writes data to dir/name and returns its path and SHA-256.
func testFile(t *testing.T, dir, name string, data []byte) (string, string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return p, hex.EncodeToString(sum[:])
}

// randomBytes gives n bytes from a seeded generator.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// pngBytes is a w×h PNG picture, noisy so that it is not tiny.
func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	noise := randomBytes(w*h, 7)
	for y := range h {
		for x := range w {
			v := noise[y*w+x]
			img.Set(x, y, color.NRGBA{R: v, G: byte(x), B: byte(y), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// receivedFile waits until fakewa's account holds a message to to with a
// file whose SHA-256 is sum, and returns it.
func (e *env) receivedFile(t *testing.T, account, to, sum string) fakewa.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range e.fake.Messages(account) {
			if m.To == to && m.Media != nil && m.Media.SHA256 == sum {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("fakewa never received the file %s… to %s; it has %+v", sum[:12], to, e.fake.Messages(account))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// files counts fakewa's messages of account that carry a file.
func (e *env) files(account string) int {
	n := 0
	for _, m := range e.fake.Messages(account) {
		if m.Media != nil {
			n++
		}
	}
	return n
}

// previewShows tells whether a file's preview is open: a caption box
// outside footer (as fakewa draws fact 19).
func (e *env) previewShows(t *testing.T) bool {
	t.Helper()
	v, err := chromedp.Run(e.tab, chromedp.Evaluate[bool](`!![...document.querySelectorAll('div[contenteditable="true"][role="textbox"]')].find(x => !x.closest('footer') && !x.closest('#side'))`))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSendFileOnBothBuilds: on fakewa's older build and its 2026 build, with
// the late editor (the chat's and the preview caption's, fact 17), a
// document and a picture go out once each with their captions (formatted,
// two lines, empty), byte for byte, the document as a file card and the
// picture as a picture; WaitAck takes each one's new bubble, its caption
// matching; a lookup (PrepareFile, as after a crash) finds them among the
// chat's outgoing bubbles; with a drawing the driver does not know, a file
// goes out once and WaitAck takes its bubble, with Match false.
func TestSendFileOnBothBuilds(t *testing.T) {
	for _, build := range fakewa.Builds {
		t.Run(fakewa.BuildName(build), func(t *testing.T) {
			e, ctx := linkedOnBuild(t, build, 600*time.Millisecond)
			dir := t.TempDir()
			docPath, docSum := testFile(t, dir, "Invoice 42 (final).pdf", randomBytes(300<<10, 1))
			picPath, picSum := testFile(t, dir, "photo.png", pngBytes(t, 96, 64))
			cases := []struct {
				name, caption, sum string
				f                  waweb.File
			}{
				{"document", "Your invoice *42* 🧾\nsecond line", docSum, waweb.File{Path: docPath, MimeType: "application/pdf", Document: true}},
				{"picture", "_the_ photo", picSum, waweb.File{Path: picPath, MimeType: "image/png"}},
				{"picture without caption", "", picSum, waweb.File{Path: picPath, MimeType: "image/png"}},
			}
			var ids []string
			for i, c := range cases {
				d, err := e.page.PrepareFile(ctx, alice, c.caption, c.f)
				if err != nil {
					t.Fatalf("%s: PrepareFile: %v", c.name, err)
				}
				t.Logf("%s: caption entered %d times", c.name, d.Entries)
				if d.File == nil || d.Text != c.caption || len(d.Noted) != i {
					t.Fatalf("%s: draft %+v, want the file, the caption and %d noted bubbles", c.name, d, i)
				}
				if clicked, err := e.page.Click(ctx, d); !clicked || err != nil {
					t.Fatalf("%s: Click: %v, %v", c.name, clicked, err)
				}
				b, err := e.page.WaitAck(ctx, d)
				if err != nil {
					t.Fatalf("%s: WaitAck: %v", c.name, err)
				}
				if !b.Match || !b.Acked {
					t.Errorf("%s: bubble %+v, want acked and its caption matched", c.name, b)
				}
				var m fakewa.Message
				for _, x := range e.fake.Messages(account) {
					if x.Media != nil && (x.ID == b.ID || len(b.ID) > len(x.ID) && b.ID[len(b.ID)-len(x.ID):] == x.ID) {
						m = x
					}
				}
				if m.Media == nil {
					t.Fatalf("%s: no file message of fakewa has the id %s: %+v", c.name, b.ID, e.fake.Messages(account))
				}
				sameID(t, b.ID, m)
				want := fakewa.Media{Filename: filepath.Base(c.f.Path), MimeType: c.f.MimeType, Size: m.Media.Size, SHA256: c.sum, AsDocument: c.f.Document}
				if st, _ := os.Stat(c.f.Path); m.To != alice || m.Text != c.caption || *m.Media != want || m.Media.Size != st.Size() {
					t.Errorf("%s: fakewa got %+v (media %+v), want to %s caption %q media %+v", c.name, m, *m.Media, alice, c.caption, want)
				}
				ids = append(ids, b.ID)
			}
			if n := e.files(account); n != len(cases) {
				t.Errorf("fakewa received %d files, want %d", n, len(cases))
			}
			if e.previewShows(t) {
				t.Error("a preview shows after the sends")
			}
			// A lookup, as after a crash: the document's bubble is there,
			// noted, its caption matching.
			d, err := e.page.PrepareFile(ctx, alice, cases[0].caption, cases[0].f)
			if err != nil {
				t.Fatal(err)
			}
			if got := matching(d); len(d.Noted) != len(cases) || len(got) != 1 || got[0].ID != ids[0] {
				t.Errorf("lookup: noted %v, matching %+v; want %v noted, [%s] matching", d.Noted, got, ids, ids[0])
			}
			if err := e.page.Discard(ctx); err != nil {
				t.Fatal(err)
			}
			if e.previewShows(t) {
				t.Error("Discard left the preview open")
			}
			if n := e.files(account); n != len(cases) {
				t.Errorf("fakewa received %d files after the lookup, want %d", n, len(cases))
			}

			// A caption drawn in a way the driver does not know: the file
			// still goes out once, and WaitAck takes its new bubble, the
			// caption not matched.
			e.fake.SetOptions(func(o *fakewa.Options) { o.Drawing = fakewa.DrawingUnknown })
			d, err = e.page.PrepareFile(ctx, alice, "Drawn *oddly* 🔐", cases[0].f)
			if err != nil {
				t.Fatal(err)
			}
			clickUnmatched(t, ctx, e.page, d)
			if n := e.files(account); n != len(cases)+1 {
				t.Errorf("fakewa received %d files, want %d", n, len(cases)+1)
			}
		})
	}
}

// TestFilePreviewLeftOpen: a preview left open (a PrepareFile never
// clicked, as by a crash between the phases) is discarded before the next
// send, of a file or of a text: the left file never goes out, nor joins
// the next one.
func TestFilePreviewLeftOpen(t *testing.T) {
	opts := fastOptions()
	opts.EditorDelay = 300 * time.Millisecond
	e := newEnv(t, opts, waweb.DefaultSelectors())
	e.link(t, account)
	ctx := ctxFor(t, 90*time.Second)
	dir := t.TempDir()
	leftPath, leftSum := testFile(t, dir, "left.bin", randomBytes(10<<10, 2))
	nextPath, nextSum := testFile(t, dir, "next.bin", randomBytes(20<<10, 3))
	left := waweb.File{Path: leftPath, MimeType: "application/octet-stream", Document: true}

	if _, err := e.page.PrepareFile(ctx, alice, "left open", left); err != nil {
		t.Fatal(err)
	}
	if !e.previewShows(t) {
		t.Fatal("no preview after PrepareFile")
	}
	id, err := e.page.SendFile(ctx, alice, "next one", waweb.File{Path: nextPath, MimeType: "application/octet-stream", Document: true})
	if err != nil {
		t.Fatal(err)
	}
	m := e.receivedFile(t, account, alice, nextSum)
	sameID(t, id, m)
	if m.Text != "next one" {
		t.Errorf("caption %q, want %q", m.Text, "next one")
	}

	// Left open in another chat, then a text to that one.
	if _, err := e.page.PrepareFile(ctx, bob, "", left); err != nil {
		t.Fatal(err)
	}
	if _, err := e.page.Send(ctx, bob, "a text after a preview"); err != nil {
		t.Fatal(err)
	}
	e.received(t, account, bob, "a text after a preview")
	if e.previewShows(t) {
		t.Error("the preview still shows after a text went out")
	}
	for _, m := range e.fake.Messages(account) {
		if m.Media != nil && m.Media.SHA256 == leftSum {
			t.Errorf("the file left in a preview went out: %+v", m)
		}
	}
	if n := e.files(account); n != 1 {
		t.Errorf("fakewa received %d files, want 1", n)
	}
}

// TestPrepareFileContract: an attach button, a file input or a preview send
// button that no selector finds is a *ContractError naming its key, and
// nothing is sent.
func TestPrepareFileContract(t *testing.T) {
	dir := t.TempDir()
	path, _ := testFile(t, dir, "a.pdf", randomBytes(4<<10, 4))
	cases := []struct {
		check string
		set   func(*waweb.Selectors)
	}{
		{"attach_button", func(s *waweb.Selectors) { s.AttachButton = `footer [data-icon="no-such-attach"]` }},
		{"file_input_document", func(s *waweb.Selectors) { s.FileInputDocument = `input[type="file"][accept="nothing/at-all"]` }},
		{"preview_send_button", func(s *waweb.Selectors) { s.PreviewSendButton = `[data-icon="no-such-send"]` }},
	}
	for _, c := range cases {
		t.Run(c.check, func(t *testing.T) {
			sel := waweb.DefaultSelectors()
			c.set(&sel)
			e := newEnv(t, fastOptions(), sel)
			e.page.SetLimits(waweb.Limits{Control: time.Second})
			e.link(t, account)
			ctx := ctxFor(t, 60*time.Second)
			_, err := e.page.PrepareFile(ctx, alice, "caption", waweb.File{Path: path, Document: true})
			var ce *waweb.ContractError
			if !errors.As(err, &ce) || ce.Check != c.check || !errors.Is(err, waweb.ErrPageContract) {
				t.Fatalf("PrepareFile: %v, want a contract error on %s", err, c.check)
			}
			if n := len(e.fake.Messages(account)); n != 0 {
				t.Errorf("fakewa received %d messages", n)
			}
		})
	}
}

func TestUploadAllowance(t *testing.T) {
	l := waweb.Limits{Ack: time.Minute, UploadPerMiB: 2 * time.Second}
	for size, want := range map[int64]time.Duration{
		0: time.Minute, 1: time.Minute + 2*time.Second, 1 << 20: time.Minute + 2*time.Second,
		1<<20 + 1: time.Minute + 4*time.Second, 16 << 20: time.Minute + 32*time.Second,
	} {
		if got := l.AckFor(size); got != want {
			t.Errorf("AckFor(%d) = %v, want %v", size, got, want)
		}
	}
	if got := (waweb.Limits{}).UploadAllowance(3 << 20); got != 3*waweb.DefaultLimits().UploadPerMiB {
		t.Errorf("zero Limits: UploadAllowance(3 MiB) = %v", got)
	}
}
