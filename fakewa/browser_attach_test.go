package fakewa_test

// Tests of fact 19 in real Chromium: the attach menu, files set on its
// inputs as a driver sets them (DOM.setFileInputFiles), the preview's
// caption box under the late editor of fact 17, Escape and the close
// button, and files that arrive byte for byte, in both builds.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/wapool/wapool/fakewa"
)

// Probes of fact 19, as the contract names things.
const (
	photosAccept = `image/*,video/mp4,video/3gpp,video/quicktime`
	// captionJS is the preview's caption box: a textbox in #main outside footer.
	captionJS = `[...document.querySelectorAll('#main div[contenteditable="true"][role="textbox"]')].find(e => !e.closest('footer'))`
	// previewSendJS is the preview's send button, outside footer.
	previewSendJS = `(() => { const s = [...document.querySelectorAll('#main span[data-icon="send"], #main button[aria-label="Send"], #main [role="button"][aria-label="Send"]')].find(e => !e.closest('footer')); return s ? (s.closest('button, [role="button"]') || s) : null; })()`
	// captionStateJS says what the caption box holds: "none" (no box),
	// "empty", "raw:<text>" (text outside the editor's
	// span[data-lexical-text], typed before it went live) or "held:<text>".
	captionStateJS = `(() => { const e = ` + captionJS + `; if (!e) return 'none'; const t = e.textContent; if (t === '') return 'empty';
		const w = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
		for (let n = w.nextNode(); n; n = w.nextNode()) if (!n.parentElement.closest('span[data-lexical-text="true"]')) return 'raw:' + t;
		return 'held:' + t; })()`
	// inputsJS records every beforeinput in window.__captionInputs with
	// whether the caption's editor was live (the fake's test hook).
	inputsJS = `(() => { if (window.__captionInputs) return 'ok'; window.__captionInputs = [];
		document.addEventListener('beforeinput', (e) => { const p = e.target.closest && e.target.closest('[data-fake-editor-live]');
			if (p && !e.target.closest('footer')) window.__captionInputs.push({data: e.data, live: p.getAttribute('data-fake-editor-live')}); }, true);
		return 'ok'; })()`
)

// onePixelPNG is a valid 1×1 PNG.
const onePixelPNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

// attach opens the attach menu and sets file on the input that accept
// names, as a driver does.
func (b *browser) attach(accept, file string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(contractSelectors["attach_button"])))
	in := `input[type="file"][accept="` + accept + `"]`
	b.wait("the attach menu's inputs", `document.querySelector('input[type="file"][accept="*"]') && document.querySelector('input[type="file"][accept="`+photosAccept+`"]') ? 'yes' : ''`, 5*time.Second)
	if v := b.mustEval(`(() => { const i = document.querySelector(` + strconv.Quote(in) + `); return i.offsetParent === null && getComputedStyle(i).display === 'none' ? 'hidden' : 'shown'; })()`); v != "hidden" {
		b.t.Fatalf("the file input %s is %s", in, v)
	}
	b.do(chromedp.SetUploadFiles(chromedp.CSS(in), []string{file}))
	b.wait("the preview's caption box", `(`+captionJS+`) ? 'yes' : ''`, 5*time.Second)
}

// caption enters text in the preview's caption box once its editor is
// live (fact 17: the fake's hook says when) and checks that the editor
// holds it.
func (b *browser) caption(text string) {
	b.t.Helper()
	b.wait("a live caption editor", `(() => { const e = `+captionJS+`; const p = e && e.closest('[data-fake-editor-live]'); return e && (!p || p.getAttribute('data-fake-editor-live') === 'true') ? 'yes' : ''; })()`, 5*time.Second)
	b.mustEval(`(() => { (` + captionJS + `).focus(); return 'ok'; })()`)
	b.do(b.typeLines(text))
	if v := b.mustEval(captionStateJS); v != "held:"+strings.ReplaceAll(text, "\n", "") {
		b.t.Fatalf("the caption box holds %q, want the editor to hold %q", v, text)
	}
}

// fileMessage waits until the fake has received a message with the file
// name and returns it.
func fileMessage(t *testing.T, fake *fakewa.Server, name string) fakewa.Message {
	t.Helper()
	var found fakewa.Message
	waitUntil(t, "the file "+name, 10*time.Second, func() bool {
		for _, m := range fake.Messages(phoneA) {
			if m.Media != nil && m.Media.Filename == name {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// TestBrowserAttach checks fact 19 in both builds (the 2026 one with the
// late editor on): the attach button's menu holds hidden file inputs; a
// file set on one opens a preview over the chat, outside footer, with a
// caption box that follows facts 7 and 17 (text entered before its editor
// is live vanishes) and a send button; Escape and the close button discard
// it and nothing is sent; a document (sent by the button) and a picture
// (sent by Enter in the caption box) arrive byte for byte with their
// captions, once their upload time (Options.UploadPerMiB) is over, and
// their bubbles show a file card with the name or the picture, the caption
// drawn as fact 18, and msg-time then msg-check.
func TestBrowserAttach(t *testing.T) {
	const perMiB = 100 * time.Millisecond
	dir := t.TempDir()
	doc := make([]byte, 3<<20+17)
	rand.NewChaCha8([32]byte{19}).Read(doc)
	png, _ := base64.StdEncoding.DecodeString(onePixelPNG)
	files := map[string][]byte{"report-07.pdf": doc, "parcel.png": png, "discard.pdf": []byte("%PDF-1.4\n%%EOF\n")}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sum := func(name string) string { h := sha256.Sum256(files[name]); return hex.EncodeToString(h[:]) }

	for _, build := range fakewa.Builds {
		t.Run("build "+fakewa.BuildName(build), func(t *testing.T) {
			o := fastOptions()
			o.Build = build
			o.UploadPerMiB = perMiB
			late := build == fakewa.Build2026
			if late {
				o.EditorDelay = 800 * time.Millisecond
			}
			fake, base := newFake(t, o)
			b := linkedBrowser(t, fake, base)
			b.openChat(base, contact)
			b.mustEval(inputsJS)
			if late {
				b.recordStatus("__trail", `[aria-label=" Pending "], [aria-label=" Sent "], [aria-label=" Delivered "]`, "aria-label")
			} else {
				b.recordStatus("__trail", `[data-icon^="msg-"]`, "data-icon")
			}
			pending, sent := "msg-time", "msg-check"
			if late {
				pending, sent = " Pending ", " Sent "
			}

			if late {
				t.Run("the caption box under the late editor, Escape discards", func(t *testing.T) {
					b.t = t
					// The text must land before the editor goes live; should
					// this machine be too slow for that, the next preview tries again.
					const tries = 4
					for i := 1; ; i++ {
						b.mustEval(`(() => { window.__captionInputs.length = 0; return 'ok'; })()`)
						b.attach("*", filepath.Join(dir, "discard.pdf"))
						b.mustEval(`(() => { (` + captionJS + `).focus(); return 'ok'; })()`)
						b.do(b.insertText("early"))
						b.wait("the caption's editor live", `(() => { const p = (`+captionJS+`).closest('[data-fake-editor-live]'); return p && p.getAttribute('data-fake-editor-live') === 'true' ? 'yes' : ''; })()`, 5*time.Second)
						early := b.mustEval(`(() => { const x = window.__captionInputs.find(x => x.data === 'early'); return x ? x.live : 'none'; })()`)
						if early == "false" {
							if v := b.mustEval(captionStateJS); v != "empty" {
								t.Fatalf("once the caption's editor is live the box holds %q, want it empty", v)
							}
							b.caption("late")
						}
						b.do(chromedp.KeyEvent(kb.Escape))
						b.wait("the preview gone", `(`+captionJS+`) ? '' : 'gone'`, 2*time.Second)
						if early == "false" {
							break
						}
						if i == tries {
							t.Fatalf("in %d previews the text never reached the caption box before its editor went live (last: %s)", tries, early)
						}
						t.Logf("preview %d: the text came after the editor went live (%s); again", i, early)
					}
				})
			}

			t.Run("Escape and the close button discard the preview", func(t *testing.T) {
				b.t = t
				bubbles := b.mustEval(`String(document.querySelectorAll('#main div[data-id]').length)`)
				b.attach("*", filepath.Join(dir, "discard.pdf"))
				if v := b.mustEval(`(` + captionJS + `).matches('[data-lexical-editor="true"]') && (` + previewSendJS + `) ? 'yes' : ''`); v != "yes" {
					t.Fatal("the preview has no Lexical caption box or no send button outside footer")
				}
				b.caption("not sent")
				b.do(chromedp.KeyEvent(kb.Escape))
				b.wait("the preview gone after Escape", `(`+captionJS+`) ? '' : 'gone'`, 2*time.Second)
				b.attach(photosAccept, filepath.Join(dir, "discard.pdf"))
				b.do(chromedp.Click(chromedp.CSS(`#main [role="button"][aria-label="Close"]`)))
				b.wait("the preview gone after Close", `(`+captionJS+`) ? '' : 'gone'`, 2*time.Second)
				if v := b.mustEval(`String(document.querySelectorAll('#main div[data-id]').length)`); v != bubbles {
					t.Fatalf("%s bubbles after the discards, %s before", v, bubbles)
				}
				if v := b.mustEval(`document.querySelector('` + composeSel + `').textContent`); v != "" {
					t.Fatalf("the compose box holds %q", v)
				}
			})

			t.Run("a document with a caption, sent by the button", func(t *testing.T) {
				b.t = t
				b.attach("*", filepath.Join(dir, "report-07.pdf"))
				b.caption("Report *07* is ready")
				clicked := time.Now()
				b.mustEval(`(() => { (` + previewSendJS + `).click(); return 'ok'; })()`)
				b.wait("the preview closed", `(`+captionJS+`) ? '' : 'gone'`, 2*time.Second)
				m := fileMessage(t, fake, "report-07.pdf")
				want := fakewa.Media{Filename: "report-07.pdf", MimeType: "application/pdf", Size: int64(len(doc)), SHA256: sum("report-07.pdf"), AsDocument: true}
				if *m.Media != want || m.Text != "Report *07* is ready" || m.To != contact {
					t.Fatalf("received %+v media %+v, want %+v", m, *m.Media, want)
				}
				if up := perMiB * time.Duration(len(doc)) / (1 << 20); m.At.Sub(clicked) < up {
					t.Fatalf("recorded %v after the click, before its upload time %v", m.At.Sub(clicked), up)
				}
				b.waitAcked(m.ID)
				if d := b.bubbleText(m.ID); d.Rebuilt != m.Text || !strings.Contains(d.Shape, "[*07*]") {
					t.Fatalf("caption drawn %+v, want %q with *07* as strong", d, m.Text)
				}
				card := b.mustEval(fmt.Sprintf(`(() => { const d = [...document.querySelectorAll('#main div[data-id]')].find(d => d.getAttribute('data-id').endsWith(%q));
					const c = d.querySelector('div.copyable-text'); const rest = [...d.children].filter(x => !x.contains(c)).map(x => x.textContent).join(' ');
					return rest + '|' + d.querySelectorAll('img:not([alt])').length; })()`, m.ID))
				if !strings.Contains(card, "report-07.pdf") || !strings.HasSuffix(card, "|0") {
					t.Fatalf("the bubble outside its caption reads %q, want the file's name and no picture", card)
				}
				trail := b.mustEval(fmt.Sprintf(`JSON.stringify(window.__trail[%q] || [])`, bubbleID(build, m.ID)))
				if !strings.HasPrefix(trail, fmt.Sprintf(`[%q,%q`, pending, sent)) {
					t.Fatalf("status trail %s, want %q then %q", trail, pending, sent)
				}
			})

			t.Run("a picture with a caption, sent by Enter", func(t *testing.T) {
				b.t = t
				b.attach(photosAccept, filepath.Join(dir, "parcel.png"))
				b.caption("Your parcel 📦\nis here")
				b.do(rawEnter(false))
				m := fileMessage(t, fake, "parcel.png")
				want := fakewa.Media{Filename: "parcel.png", MimeType: "image/png", Size: int64(len(png)), SHA256: sum("parcel.png")}
				if *m.Media != want || m.Text != "Your parcel 📦\nis here" {
					t.Fatalf("received %+v media %+v, want %+v", m, *m.Media, want)
				}
				b.waitAcked(m.ID)
				if d := b.bubbleText(m.ID); d.Rebuilt != m.Text {
					t.Fatalf("caption drawn %+v, want %q", d, m.Text)
				}
				b.wait("the picture of the file in the bubble, outside its caption", fmt.Sprintf(`(() => { const d = [...document.querySelectorAll('#main div[data-id]')].find(d => d.getAttribute('data-id').endsWith(%q));
					const i = [...d.querySelectorAll('img')].find(i => !i.closest('div.copyable-text')); return i && i.complete && i.naturalWidth === 1 ? 'picture' : ''; })()`, m.ID), 2*time.Second)
				if late {
					if n := b.mustEval(`String(document.querySelectorAll('#main [data-icon]').length)`); n != "0" {
						t.Fatalf("the 2026 build's chat has %s elements with a data-icon", n)
					}
				}
				// Sent after the discarded files, with no shorter an upload:
				// had they gone out, the fake would have them by now.
				for _, m := range fake.Messages(phoneA) {
					if m.Media != nil && m.Media.Filename == "discard.pdf" {
						t.Fatalf("a discarded file was sent: %+v", m)
					}
				}
			})
		})
	}
}

// bubbleID is the data-id of message id's bubble in the chat with contact
// (fact 10; the bare id in the 2026 build).
func bubbleID(build, id string) string {
	if build == fakewa.Build2026 {
		return id
	}
	return "true_" + contact + "@c.us_" + id
}
