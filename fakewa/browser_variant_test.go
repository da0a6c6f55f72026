package fakewa_test

// Tests of Options.Variant in real Chromium: each variant hides its element
// from the driver's default selectors, in both builds, and the override of
// fakewa.VariantSelectors finds it again, and a message sent through what
// the override finds arrives once.

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/wapool/wapool/fakewa"
)

// contractSelectors are the driver's default selectors for what the
// variants rename (waweb.DefaultSelectors, and fact 19's attach button),
// written out here: fakewa does not import waweb.
var contractSelectors = map[string]string{
	"compose":       `footer div[contenteditable="true"][role="textbox"]`,
	"send_button":   `footer button span[data-icon="send"], footer span[data-icon="wds-ic-send-filled"], footer button[aria-label="Send"], footer [role="button"][aria-label="Send"]`,
	"bubble_text":   `div.copyable-text[data-pre-plain-text] span.selectable-text, div.copyable-text[data-pre-plain-text] span[dir]`,
	"attach_button": `footer span[data-icon="plus-rounded"], footer span[data-icon="plus"], footer span[data-icon="attach-menu-plus"], footer span[data-icon="clip"], footer [title="Attach"]`,
}

// overrideOf parses fakewa.VariantSelectors[v].
func overrideOf(t *testing.T, v string) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(fakewa.VariantSelectors[v]), &m); err != nil {
		t.Fatalf("VariantSelectors[%q]: %v", v, err)
	}
	return m
}

// found says what the first element sel matches in the page is, as a
// driver would use it: "compose" (the chat's compose box), "send:<label>"
// (inside the send button, whose aria-label is label), "attach" (inside
// the attach button), "none", or "other:<html>".
func (b *browser) found(sel string) string {
	b.t.Helper()
	return b.mustEval(`(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); if (!e) return 'none';
		if (e.matches('#main [contenteditable="true"][role="textbox"][data-tab="10"]')) return 'compose';
		const btn = e.closest('button, [role="button"]');
		if (btn && btn.closest('#main .send-slot') && btn.getAttribute('aria-label') !== 'Voice message') return 'send:' + btn.getAttribute('aria-label');
		if (btn && btn.matches('#main .attach')) return 'attach';
		return 'other:' + e.outerHTML.slice(0, 120); })()`)
}

// textIn returns "text:<textContent>" of the first element sel matches
// inside the bubble of message id, or "none".
func (b *browser) textIn(id, sel string) string {
	b.t.Helper()
	return b.mustEval(fmt.Sprintf(`(() => { const d = [...document.querySelectorAll('#main div[data-id]')].find(d => { const x = d.getAttribute('data-id'); return x === %[1]q || x.endsWith('_' + %[1]q); });
		if (!d) return 'no bubble'; const e = d.querySelector(%[2]q); return e ? 'text:' + e.textContent : 'none'; })()`, id, sel))
}

// readyBox waits until the compose box that sel finds is live (fact 17:
// with Options.EditorDelay on, #main says when) and empty.
func (b *browser) readyBox(sel string) {
	b.t.Helper()
	b.wait("a live, empty compose box", `(() => { const m = document.querySelector('#main'), e = document.querySelector(`+strconv.Quote(sel)+`);
		return m && e && m.getAttribute('data-fake-editor-live') !== 'false' && e.innerText.replace(/\n$/, '') === '' ? 'yes' : ''; })()`, 10*time.Second)
}

// countSent is how many messages with text phoneA sent.
func countSent(fake *fakewa.Server, text string) int {
	n := 0
	for _, m := range fake.Messages(phoneA) {
		if m.Text == text {
			n++
		}
	}
	return n
}

// TestBrowserVariants checks Options.Variant in both builds (the 2026 one
// with the late editor of fact 17 on): without a variant the default
// selectors and every override find the compose box, the send button
// (only while the box has text), the attach button and a bubble's text;
// with each variant the default selector of what it renames finds nothing
// and the override finds it; a text typed and sent by a click on what the
// override finds (or by Enter) arrives once; the attach button that the
// override finds opens the attach menu (fact 19) and sends nothing. A page takes the variant when it opens a chat: the chat open
// keeps its drawing when the knob changes, and SetOptions(Variant: "")
// then a reload draws the default again.
func TestBrowserVariants(t *testing.T) {
	for _, build := range []string{fakewa.BuildDefault, fakewa.Build2026} {
		t.Run("build "+cmp(build, "default"), func(t *testing.T) {
			o := fastOptions()
			o.Build = build
			if build == fakewa.Build2026 {
				o.EditorDelay = 400 * time.Millisecond
			}
			fake, base := newFake(t, o)
			b := linkedBrowser(t, fake, base)
			rowName := "+" + contact
			if build == fakewa.Build2026 {
				rowName = "+1 555-000-2222"
			}
			def := contractSelectors

			// typeText types text in the box that compose finds, once live.
			typeText := func(compose, text string) {
				b.t.Helper()
				b.readyBox(compose)
				b.caretAtEnd(compose)
				b.do(b.insertText(text))
			}
			// clickSend clicks what send finds and returns the message of
			// text, checked to arrive once, with the box empty and no send
			// button after.
			clickSend := func(t *testing.T, compose, send, text string) fakewa.Message {
				t.Helper()
				b.wait("the send button", `document.querySelector(`+strconv.Quote(send)+`) ? 'yes' : ''`, 2*time.Second)
				b.do(chromedp.Click(chromedp.CSS(send)))
				m := waitMessage(t, fake, phoneA, text)
				b.waitAcked(m.ID)
				if n := countSent(fake, text); n != 1 {
					t.Fatalf("%q arrived %d times", text, n)
				}
				if v := b.mustEval(`document.querySelector(` + strconv.Quote(compose) + `).textContent`); v != "" {
					t.Fatalf("the box holds %q after the send", v)
				}
				if v := b.found(send); v != "none" {
					t.Fatalf("with an empty box the send selector finds %s", v)
				}
				return m
			}

			t.Run("no variant: the defaults and every override match", func(t *testing.T) {
				b.t = t
				b.openChat(base, contact)
				b.readyBox(def["compose"])
				for _, sel := range append([]string{def["send_button"]}, sendSelectors()...) {
					if v := b.found(sel); v != "none" {
						t.Fatalf("with an empty box %s finds %s", sel, v)
					}
				}
				typeText(def["compose"], "no variant")
				b.wait("the send button", `document.querySelector(`+strconv.Quote(def["send_button"])+`) ? 'yes' : ''`, 2*time.Second)
				want := map[string]string{"compose": "compose", "send_button": "send:Send", "attach_button": "attach"}
				for _, v := range append([]string{""}, fakewa.Variants...) {
					sels := def
					if v != "" {
						sels = overrideOf(t, v)
					}
					for key, sel := range sels {
						if w, ok := want[key]; ok {
							if got := b.found(sel); got != w {
								t.Errorf("variant %q's %s finds %s, want %s", v, key, got, w)
							}
						}
					}
				}
				m := clickSend(t, def["compose"], def["send_button"], "no variant")
				for _, sel := range append([]string{def["bubble_text"]}, overrideOf(t, fakewa.VariantBubbleText)["bubble_text"]) {
					if got := b.textIn(m.ID, sel); got != "text:no variant" {
						t.Errorf("%s in the bubble finds %s", sel, got)
					}
				}
			})

			for _, v := range fakewa.Variants {
				t.Run(v, func(t *testing.T) {
					b.t = t
					ov := overrideOf(t, v)
					sels := maps.Clone(def)
					maps.Copy(sels, ov)

					// The chat open keeps its drawing; the next open takes the variant.
					fake.SetOptions(func(o *fakewa.Options) { o.Variant = v })
					if got := b.found(def["compose"]); got != "compose" {
						t.Fatalf("the chat open before the change: the default compose finds %s", got)
					}
					b.nav(base + "/send?phone=" + contact)
					b.readyBox(sels["compose"])

					for _, key := range []string{"compose", "attach_button"} {
						if _, ok := ov[key]; !ok {
							continue
						}
						want := map[string]string{"compose": "compose", "attach_button": "attach"}[key]
						if got := b.found(def[key]); got != "none" {
							t.Errorf("the default %s finds %s", key, got)
						}
						if got := b.found(ov[key]); got != want {
							t.Errorf("the override's %s finds %s, want %s", key, got, want)
						}
					}
					if got := b.found(sels["send_button"]); got != "none" {
						t.Fatalf("with an empty box the send selector finds %s", got)
					}

					text := v + " sent by a click"
					typeText(sels["compose"], text)
					if _, ok := ov["attach_button"]; ok {
						// The attach button opens the menu, sends nothing and leaves the text.
						before := b.mustEval(`String(document.querySelectorAll('#main div[data-id]').length)`)
						b.do(chromedp.Click(chromedp.CSS(ov["attach_button"])))
						b.wait("the attach menu", `document.querySelector('input[type="file"][accept="*"]') ? 'yes' : ''`, 2*time.Second)
						if got := b.mustEval(`String(document.querySelectorAll('#main div[data-id]').length) + ' ' + document.querySelector(` + strconv.Quote(sels["compose"]) + `).textContent`); got != before+" "+text {
							t.Fatalf("after a click on the attach button: bubbles and box %q, want %q", got, before+" "+text)
						}
						b.do(chromedp.Click(chromedp.CSS(ov["attach_button"]))) // closes it
						b.wait("the attach menu closed", `document.querySelector('input[type="file"]') ? '' : 'closed'`, 2*time.Second)
					}
					if _, ok := ov["send_button"]; ok {
						label := map[string]string{fakewa.VariantSendIcon: "send:Send message", fakewa.VariantComposeWrapper: "send:Send"}[v]
						b.wait("the send button", `document.querySelector(`+strconv.Quote(ov["send_button"])+`) ? 'yes' : ''`, 2*time.Second)
						if got := b.found(ov["send_button"]); got != label {
							t.Fatalf("the override's send_button finds %s, want %s", got, label)
						}
						if got := b.found(def["send_button"]); got != "none" {
							t.Fatalf("the default send_button finds %s", got)
						}
					}
					m := clickSend(t, sels["compose"], sels["send_button"], text)

					if _, ok := ov["bubble_text"]; ok {
						if got := b.textIn(m.ID, def["bubble_text"]); got != "none" {
							t.Errorf("the default bubble_text finds %s", got)
						}
					}
					if got := b.textIn(m.ID, sels["bubble_text"]); got != "text:"+text {
						t.Errorf("bubble_text finds %s, want the text", got)
					}

					// Enter sends too.
					entered := v + " sent by Enter"
					b.caretAtEnd(sels["compose"])
					b.do(b.insertText(entered), rawEnter(false))
					m = waitMessage(t, fake, phoneA, entered)
					b.waitAcked(m.ID)
					if n := countSent(fake, entered); n != 1 {
						t.Fatalf("%q arrived %d times", entered, n)
					}

					// SetOptions(Variant: "") then a reload: the chat is drawn as the contract says.
					fake.SetOptions(func(o *fakewa.Options) { o.Variant = fakewa.VariantNone })
					b.do(chromedp.Reload())
					b.wait("the chat list", `document.querySelector('#pane-side [role="listitem"]') ? 'yes' : ''`, 10*time.Second)
					b.rowClick(rowName)
					b.readyBox(def["compose"])
					if got := b.found(def["attach_button"]); got != "attach" {
						t.Fatalf("after the reload the default attach_button finds %s", got)
					}
					b.wait("the bubble's text by the default", fmt.Sprintf(`(() => { const d = [...document.querySelectorAll('#main div[data-id]')].find(d => d.getAttribute('data-id').endsWith(%q));
						const e = d && d.querySelector(%q); return e && e.textContent === %q ? 'yes' : ''; })()`, m.ID, def["bubble_text"], entered), 5*time.Second)
					typeText(def["compose"], v+" then back to the default")
					clickSend(t, def["compose"], def["send_button"], v+" then back to the default")
				})
			}
		})
	}
}

// sendSelectors are the send_button selectors of every override.
func sendSelectors() []string {
	var out []string
	for _, v := range slices.Sorted(maps.Keys(fakewa.VariantSelectors)) {
		var m map[string]string
		json.Unmarshal([]byte(fakewa.VariantSelectors[v]), &m)
		if s, ok := m["send_button"]; ok {
			out = append(out, s)
		}
	}
	return out
}
