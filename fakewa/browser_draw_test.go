package fakewa_test

// Tests of how the page draws its bubbles in real Chromium: the text as fact
// 18 says, the 2026 build of fact 20, the @lid chats of fact 10 and the
// unknown drawing (Options.Drawing).

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
)

// textElJS returns the JavaScript of the text element of the bubble whose
// data-id is id (default build: it ends with _<id>) as the contract finds
// it: span.selectable-text, else the span[dir] inside
// div.copyable-text[data-pre-plain-text] (facts 10 and 20).
func textElJS(id string) string {
	return fmt.Sprintf(`(() => { const d = [...document.querySelectorAll('#main div[data-id]')].find(d => { const x = d.getAttribute('data-id'); return x === %[1]q || x.endsWith('_' + %[1]q); });
		const c = d && d.querySelector('div.copyable-text[data-pre-plain-text]'); return c && (c.querySelector('span.selectable-text') || c.querySelector('span[dir]')); })()`, id)
}

// rebuildJS is a function that rebuilds the text sent from a bubble's text
// element as fact 18 says: each element with data-app-text-template as its
// template around its rebuilt content, each img as its alt.
const rebuildJS = `(function rebuild(n) {
	if (n.nodeType === Node.TEXT_NODE) return n.data;
	if (n.nodeType !== Node.ELEMENT_NODE) return '';
	if (n.nodeName === 'IMG') return n.alt || '';
	if (n.nodeName === 'BR') return '\n';
	const inner = [...n.childNodes].map(rebuild).join('');
	const tpl = n.getAttribute('data-app-text-template');
	return tpl ? tpl.replace('${appText}', () => inner) : inner;
})`

// shapeJS is a function that describes a drawn text element compactly: a
// template element as its markers in brackets around its content ("[*bold*]"
// for <strong data-app-text-template="*${appText}*">bold</strong>), or as
// "[?tag:template content]" when tag and template do not go together; an img
// as {img:alt}; a link as {a:href|content}; any other element as
// <tag>content</tag>; text as it is.
const shapeJS = `(function shape(n) {
	if (n.nodeType === Node.TEXT_NODE) return n.data;
	const inner = [...n.childNodes].map(shape).join('');
	const tag = n.nodeName.toLowerCase();
	const tpl = n.getAttribute('data-app-text-template');
	const marks = {strong: '*', em: '_', del: '~', code: '` + "```" + `'};
	if (tpl !== null) return marks[tag] && tpl === marks[tag] + '${appText}' + marks[tag] ? '[' + marks[tag] + inner + marks[tag] + ']' : '[?' + tag + ':' + tpl + ' ' + inner + ']';
	if (tag === 'img') return '{img:' + n.alt + '}';
	if (tag === 'a') return '{a:' + n.getAttribute('href') + '|' + inner + '}';
	return '<' + tag + '>' + inner + '</' + tag + '>';
})`

// drawn is what a bubble's text element shows.
type drawn struct {
	Shape, Rebuilt, InnerText string
}

// bubbleText waits for the bubble of message id and returns its drawing.
func (b *browser) bubbleText(id string) drawn {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const e = %s; return e ? JSON.stringify({Shape: [...e.childNodes].map(%s).join(''), Rebuilt: %s(e), InnerText: e.innerText}) : ''; })()`, textElJS(id), shapeJS, rebuildJS)
	var d drawn
	if err := json.Unmarshal([]byte(b.wait("the bubble of "+id, js, 5*time.Second)), &d); err != nil {
		b.t.Fatal(err)
	}
	return d
}

// send types text in the open chat's compose box as the driver does
// (Input.insertText per line, Shift+Enter between lines, Enter) and returns
// the message the fake recorded.
func (b *browser) send(fake *fakewa.Server, text string) fakewa.Message {
	b.t.Helper()
	b.wait("an empty compose box", `(() => { const e = document.querySelector('`+composeSel+`'); return e && e.innerText.replace(/\n$/, '') === '' ? 'yes' : ''; })()`, 5*time.Second)
	b.caretAtEnd(composeSel)
	b.do(b.typeLines(text), rawEnter(false))
	m := waitMessage(b.t, fake, phoneA, text)
	b.waitAcked(m.ID)
	return m
}

// ackedSel finds an acked status, in either build (facts 10 and 20).
const ackedSel = `[data-icon="msg-check"], [data-icon="msg-dblcheck"], [aria-label=" Sent "], [aria-label=" Delivered "], [aria-label=" Read "]`

// waitAcked waits until the bubble of message id shows that the server has
// it, so that the page may be left (fact 11).
func (b *browser) waitAcked(id string) {
	b.t.Helper()
	b.wait("the ack of "+id, fmt.Sprintf(`(() => { const d = [...document.querySelectorAll('#main div[data-id]')].find(d => { const x = d.getAttribute('data-id'); return x === %[1]q || x.endsWith('_' + %[1]q); });
		return d && d.querySelector(%[2]q) ? 'yes' : ''; })()`, id, ackedSel), 5*time.Second)
}

// linkedBrowser starts a browser on a fresh profile and links it to phoneA.
func linkedBrowser(t *testing.T, fake *fakewa.Server, base string) *browser {
	t.Helper()
	b := startBrowser(t, t.TempDir())
	b.nav(base + "/")
	code := b.wait("QR code", qrJS, 10*time.Second)
	if err := fake.Scan(code, phoneA); err != nil {
		t.Fatalf("scan: %v", err)
	}
	b.wait("#pane-side", paneSideJS, 5*time.Second)
	return b
}

// openChat opens phone's chat by deep link and waits for its compose box.
func (b *browser) openChat(base, phone string) {
	b.t.Helper()
	b.nav(base + "/send?phone=" + phone)
	b.wait("the compose box of +"+phone, `document.querySelector('`+composeSel+`') && document.querySelector('#main header') ? 'yes' : ''`, 10*time.Second)
}

// TestBrowserTextDrawing checks fact 18 in both builds: every format, nested
// formats, markers only at word edges, emoji as whole grapheme clusters,
// links and newlines; the fake records the text as sent and the compose box
// held it as typed.
func TestBrowserTextDrawing(t *testing.T) {
	cases := []struct {
		name, text, shape string
		innerText         string // "" when not checked
	}{
		{"every format", "*bold* _italic_ ~strike~ ```mono```", "[*bold*] [_italic_] [~strike~] [```mono```]", "bold italic strike mono"},
		{"nested formats", "*bold _both_ more* and _*x*_ ~*_all_*~", "[*bold [_both_] more*] and [_[*x*]_] [~[*[_all_]*]~]", ""},
		{"monospace holds no other format", "```*a* _b_```", "[```*a* _b_```]", ""},
		{"markers only at word edges", "2*3*4 snake_case_name x_y *open only, *spaced * _a_b a*b ~", "2*3*4 snake_case_name x_y *open only, *spaced * _a_b a*b ~", ""},
		{"the nearest closing marker at a word edge closes", "*a*b* c*", "[*a*b*] c*", ""},
		{"punctuation is an edge", "(*paren*) end.*x*, \"_quoted_\"!", "([*paren*]) end.[*x*], \"[_quoted_]\"!", ""},
		{"formats end at the line's end; monospace does not", "*not\nbold* ```one\ntwo```", "*not\nbold* [```one\ntwo```]", "*not\nbold* one\ntwo"},
		{"emoji as whole grapheme clusters", "flag 🇫🇷 family 👨‍👩‍👧 thumbs 👍🏽 keycap 1️⃣ heart ❤️ party🎉! plain 1 # ©",
			"flag {img:🇫🇷} family {img:👨‍👩‍👧} thumbs {img:👍🏽} keycap {img:1️⃣} heart {img:❤️} party{img:🎉}! plain 1 # ©", "flag  family  thumbs  keycap  heart  party! plain 1 # ©"},
		{"an emoji before a marker", "🎉*yes* ❤️_too_", "{img:🎉}[*yes*] {img:❤️}[_too_]", ""},
		{"links", "see https://example.com/a_b_c*d* and www.example.org/x, (https://wa.me/15550002222). *https://bold.example*",
			"see {a:https://example.com/a_b_c*d|https://example.com/a_b_c*d}* and {a:http://www.example.org/x|www.example.org/x}, ({a:https://wa.me/15550002222|https://wa.me/15550002222}). [*{a:https://bold.example|https://bold.example}*]", ""},
		{"no link inside a word", "xhttps://example.com", "xhttps://example.com", ""},
		{"newlines", "line one\n\nline *three*\n👍", "line one\n\nline [*three*]\n{img:👍}", "line one\n\nline three\n"},
		{"markers around emoji and signs", "*🎉* _$5_ ~-1~", "[*{img:🎉}*] [_$5_] [~-1~]", ""},
	}
	for _, build := range []string{fakewa.BuildDefault, fakewa.Build2026} {
		t.Run("build "+cmp(build, "default"), func(t *testing.T) {
			o := fastOptions()
			o.Build = build
			fake, base := newFake(t, o)
			b := linkedBrowser(t, fake, base)
			b.t = t
			b.openChat(base, contact)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					b.t = t
					m := b.send(fake, c.text) // the fake has the text exactly as sent, markers included
					d := b.bubbleText(m.ID)
					if d.Shape != c.shape {
						t.Errorf("drawn as\n%q\nwant\n%q", d.Shape, c.shape)
					}
					if d.Rebuilt != c.text {
						t.Errorf("rebuilt as %q, want the text sent %q", d.Rebuilt, c.text)
					}
					if c.innerText != "" && d.InnerText != c.innerText {
						t.Errorf("innerText %q, want %q", d.InnerText, c.innerText)
					}
				})
			}
			t.Run("the compose box holds the text as typed", func(t *testing.T) {
				b.t = t
				const typed = "*not drawn* 🎉 here"
				b.caretAtEnd(composeSel)
				b.do(b.insertText(typed))
				if v := b.mustEval(`document.querySelector('` + composeSel + `').textContent`); v != typed {
					t.Fatalf("the box holds %q, want %q", v, typed)
				}
				if v := b.mustEval(`document.querySelector('` + composeSel + `').querySelector('strong, em, del, code, img, a') ? 'drawn' : ''`); v != "" {
					t.Fatal("the compose box draws the formats")
				}
				b.do(rawEnter(false))
				waitMessage(t, fake, phoneA, typed)
			})
		})
	}
}

func cmp(s, ifEmpty string) string {
	if s == "" {
		return ifEmpty
	}
	return s
}

// TestBrowserBuild2026 checks the drawing of fact 20: bare ids, no jid in
// the DOM, the chat named by its header and its selected row, svg icons
// marked by their title, the send button and the status element by their
// aria-label, and the text element without selectable-text.
func TestBrowserBuild2026(t *testing.T) {
	o := fastOptions()
	o.Build = fakewa.Build2026
	fake, base := newFake(t, o)
	b := linkedBrowser(t, fake, base)
	const lidPhone = "15550003377" // a @lid chat in the default build

	t.Run("the chat is named by its header and its selected row", func(t *testing.T) {
		b.t = t
		b.openChat(base, contact)
		if v := b.mustEval(`document.querySelector('#main header').textContent`); v != "+1 555-000-2222" {
			t.Fatalf("#main header reads %q, want +1 555-000-2222", v)
		}
		b.wait("the selected row", `(() => { const s = document.querySelectorAll('#pane-side [aria-selected="true"]'); return s.length === 1 && s[0].textContent.includes('+1 555-000-2222') ? 'yes' : ''; })()`, 2*time.Second)
		b.openInApp("15550004444") // fact 14
		b.wait("the chat opened in the app", `(() => { const s = document.querySelectorAll('#pane-side [aria-selected="true"]'); const h = document.querySelector('#main header');
			return h && h.textContent === '+1 555-000-4444' && s.length === 1 && s[0].textContent.includes('+1 555-000-4444') ? 'yes' : ''; })()`, 5*time.Second)
	})

	var sent []fakewa.Message
	t.Run("bare ids, a status element labelled Pending, Sent, Delivered", func(t *testing.T) {
		b.t = t
		b.openChat(base, contact)
		b.recordStatus("__labels", `[aria-label=" Pending "], [aria-label=" Sent "], [aria-label=" Delivered "], [aria-label=" Read "]`, "aria-label")
		m := b.send(fake, "hello *2026* 🎉")
		sent = append(sent, m)
		seq := b.wait("Delivered", fmt.Sprintf(`(() => { const a = window.__labels[%q] || []; return a.includes(' Delivered ') ? JSON.stringify(a) : ''; })()`, m.ID), 5*time.Second)
		if seq != `[" Pending "," Sent "," Delivered "]` {
			t.Fatalf("labels of %s: %s", m.ID, seq)
		}
		sent = append(sent, b.send(fake, "second"))
		ids := b.mustEval(`JSON.stringify([...document.querySelectorAll('#main div[data-id]')].map(d => d.getAttribute('data-id')))`)
		var got []string
		json.Unmarshal([]byte(ids), &got)
		if len(got) != 2 || got[0] != sent[0].ID || got[1] != sent[1].ID || got[0] == got[1] {
			t.Fatalf("data-ids %v, want the bare ids %s and %s", got, sent[0].ID, sent[1].ID)
		}
		for _, id := range got {
			if !regexp.MustCompile(`^[0-9A-F]{20}$`).MatchString(id) {
				t.Fatalf("data-id %q: want 20 uppercase hex characters", id)
			}
		}
		status := b.mustEval(fmt.Sprintf(`(() => { const s = document.querySelector('div[data-id=%q] [aria-label=" Delivered "]');
			return JSON.stringify({attrs: s.getAttributeNames(), svg: [...s.children].map(c => c.nodeName.toLowerCase() + ':' + (c.querySelector('title') || {}).textContent)}); })()`, m.ID))
		if status != `{"attrs":["aria-label"],"svg":["svg:wds-ic-double-check"]}` {
			t.Fatalf("status element %s, want only an aria-label, holding one svg with a title", status)
		}
	})

	t.Run("the send button is aria-label Send holding the svg titled wds-ic-send-filled", func(t *testing.T) {
		b.t = t
		b.caretAtEnd(composeSel)
		b.do(b.insertText("by the button"))
		btn := b.wait("the send button", `(() => { const x = document.querySelector('#main footer button[aria-label="Send"]'); const t = x && x.querySelector('svg > title');
			return t ? JSON.stringify([t.textContent, x.querySelectorAll('[data-icon]').length]) : ''; })()`, 2*time.Second)
		if btn != `["wds-ic-send-filled",0]` {
			t.Fatalf("send button: %s", btn)
		}
		b.mustEval(`(() => { document.querySelector('#main footer button[aria-label="Send"]').click(); return 'ok'; })()`)
		sent = append(sent, waitMessage(t, fake, phoneA, "by the button"))
		b.waitAcked(sent[2].ID)
	})

	t.Run("the text element is span[dir] without selectable-text, drawn as fact 18 says", func(t *testing.T) {
		b.t = t
		d := b.bubbleText(sent[0].ID)
		if d.Shape != "hello [*2026*] {img:🎉}" || d.Rebuilt != "hello *2026* 🎉" {
			t.Fatalf("bubble drawn %+v", d)
		}
		if v := b.mustEval(`(() => { const e = ` + textElJS(sent[0].ID) + `; return e.nodeName + ' ' + e.hasAttribute('dir') + ' ' + (document.querySelectorAll('#main div[data-id] .selectable-text').length); })()`); v != "SPAN true 0" {
			t.Fatalf("text element: %s, want a SPAN with dir and no .selectable-text in a bubble", v)
		}
	})

	t.Run("no jid and no data-icon in the DOM, also for a @lid number", func(t *testing.T) {
		b.t = t
		b.openChat(base, lidPhone)
		m := b.send(fake, "to a lid number")
		b.bubbleText(m.ID)
		b.nav(base + "/")
		b.wait("the chat list", `document.querySelectorAll('#pane-side [role="listitem"]').length === 2 ? 'yes' : ''`, 10*time.Second)
		b.rowClick("+1 555-000-3377")
		b.wait("the chat's bubbles", `document.querySelectorAll('#main div[data-id]').length === 1 ? 'yes' : ''`, 5*time.Second)
		html := b.mustEval(`document.documentElement.outerHTML`)
		for _, bad := range []string{"@c.us", "@lid", "true_", "false_", "data-phone", "data-icon", "15550003377", "15550002222"} {
			if strings.Contains(html, bad) {
				t.Errorf("the DOM holds %q", bad)
			}
		}
		if !strings.Contains(html, m.ID) {
			t.Fatal("the DOM does not hold the bubble's id: the check above looked at the wrong page")
		}
	})
}

// rowClick clicks the chat list's row that shows name.
func (b *browser) rowClick(name string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const r = [...document.querySelectorAll('#pane-side [role="listitem"]')].find(r => r.textContent.includes(%q)); if (!r) return 'none'; r.click(); return 'ok'; })()`, name)
	if v := b.mustEval(js); v != "ok" {
		b.t.Fatalf("no chat list row shows %q", name)
	}
}

// TestBrowserLidChats checks the @lid rule of fact 10 in the default build:
// the bubbles of a number ending with Options.LidSuffix are named
// true_<LID(number)>@lid_<id>, others true_<digits>@c.us_<id>, and the
// control API moves the rule.
func TestBrowserLidChats(t *testing.T) {
	fake, base := newFake(t, fastOptions())
	b := linkedBrowser(t, fake, base)
	const lidPhone = "15550001277"
	dataIDs := func() []string {
		var ids []string
		json.Unmarshal([]byte(b.mustEval(`JSON.stringify([...document.querySelectorAll('#main div[data-id]')].map(d => d.getAttribute('data-id')))`)), &ids)
		return ids
	}
	var lidMsg, cusMsg fakewa.Message

	t.Run("a number ending in 77 is a @lid chat", func(t *testing.T) {
		b.t = t
		b.openChat(base, lidPhone)
		lidMsg = b.send(fake, "to a lid")
		lid := fakewa.LID(lidPhone)
		if !regexp.MustCompile(`^[1-9][0-9]{14}$`).MatchString(lid) || lid == lidPhone {
			t.Fatalf("LID(%s) = %q", lidPhone, lid)
		}
		want := "true_" + lid + "@lid_" + lidMsg.ID
		b.wait("the bubble "+want, fmt.Sprintf(`document.querySelector('#main div[data-id=%q]') ? 'yes' : ''`, want), 5*time.Second)
		if html := b.mustEval(`document.querySelector('#main').outerHTML`); strings.Contains(html, lidPhone+"@") {
			t.Fatal("the @lid chat names the number in a jid")
		}
		if d := b.bubbleText(lidMsg.ID); d.Rebuilt != "to a lid" {
			t.Fatalf("bubble %+v", d)
		}
	})

	t.Run("another number is a @c.us chat", func(t *testing.T) {
		b.t = t
		b.openChat(base, contact)
		cusMsg = b.send(fake, "to a c.us")
		want := "true_" + contact + "@c.us_" + cusMsg.ID
		b.wait("the bubble "+want, fmt.Sprintf(`document.querySelector('#main div[data-id=%q]') ? 'yes' : ''`, want), 5*time.Second)
	})

	t.Run("lid_suffix moves the rule at the next open", func(t *testing.T) {
		b.t = t
		if c := postConfig(t, base, `{"lid_suffix": "2222"}`); c["lid_suffix"] != "2222" {
			t.Fatalf("POST answer: lid_suffix %v", c["lid_suffix"])
		}
		b.openChat(base, contact)
		b.wait("the bubbles", `document.querySelector('#main div[data-id]') ? 'yes' : ''`, 5*time.Second)
		if got, want := dataIDs(), []string{"true_" + fakewa.LID(contact) + "@lid_" + cusMsg.ID}; !slices.Equal(got, want) {
			t.Fatalf("data-ids %v, want %v", got, want)
		}
		b.openChat(base, lidPhone)
		b.wait("the bubbles", `document.querySelector('#main div[data-id]') ? 'yes' : ''`, 5*time.Second)
		if got, want := dataIDs(), []string{"true_" + lidPhone + "@c.us_" + lidMsg.ID}; !slices.Equal(got, want) {
			t.Fatalf("data-ids %v, want %v", got, want)
		}
	})
}

// TestBrowserUnknownDrawing checks Options.Drawing "unknown" in both builds:
// the text rebuilt by the contract differs from the text sent, in the
// documented way, while the bubble keeps its data-id, text element and
// status; the fake still records the text as sent; a change of the knob
// shows in the next message sent, with no chat open in between; a chat
// opened again draws its bubbles in the drawing in force.
func TestBrowserUnknownDrawing(t *testing.T) {
	const text = "Code *42* 🎉 at https://x.example"
	const rebuilt = "\u200bCode \u200b42  \u200bat \u200bhttps://x.example"
	for _, build := range []string{fakewa.BuildDefault, fakewa.Build2026} {
		t.Run("build "+cmp(build, "default"), func(t *testing.T) {
			o := fastOptions()
			o.Build = build
			o.Drawing = fakewa.DrawingUnknown
			fake, base := newFake(t, o)
			b := linkedBrowser(t, fake, base)
			b.t = t
			// Polls stop after the next one, so a change of the knob reaches
			// the page only through the answer to a send (or a chat open).
			fake.SetOptions(func(o *fakewa.Options) { o.LogoutPoll = time.Hour })
			b.openChat(base, contact)
			var first fakewa.Message
			for i, c := range []struct{ text, rebuilt string }{{text, rebuilt}, {"hello", "\u200bhello"}, {"🎉", ""}, {"**", "\u200b**"}} {
				m := b.send(fake, c.text) // acked: the status shows as the build draws it
				if m.Text != c.text {
					t.Fatalf("the fake recorded %q, want %q", m.Text, c.text)
				}
				if i == 0 {
					first = m
				}
				if d := b.bubbleText(m.ID); d.Rebuilt == c.text || d.Rebuilt != c.rebuilt {
					t.Fatalf("%q rebuilt by fact 18 as %q, want %q", c.text, d.Rebuilt, c.rebuilt)
				}
			}
			v := b.mustEval(`(() => { const e = ` + textElJS(first.ID) + `; const w = e.children;
				return JSON.stringify([w.length, w[0].nodeName, !!e.querySelector('strong'), e.querySelectorAll('[data-app-text-template], img, a').length,
					(e.querySelector('[role="img"]') || {}).ariaLabel]); })()`)
			if v != `[1,"SPAN",true,0,"🎉"]` {
				t.Fatalf("unknown drawing %s, want one wrapper span, a strong, no template, img or a, the emoji in an aria-label", v)
			}

			// The knob changes while the chat stays open.
			if c := postConfig(t, base, `{"drawing": ""}`); c["drawing"] != "" {
				t.Fatalf("POST answer: drawing %v", c["drawing"])
			}
			m := b.send(fake, "back to *18*")
			if d := b.bubbleText(m.ID); d.Rebuilt != "back to *18*" {
				t.Fatalf("after drawing \"\" a message sent rebuilds as %q", d.Rebuilt)
			}
			postConfig(t, base, `{"drawing": "unknown"}`)
			m = b.send(fake, "unknown *again*")
			if d := b.bubbleText(m.ID); d.Rebuilt != "\u200bunknown \u200bagain" {
				t.Fatalf("after drawing \"unknown\" a message sent rebuilds as %q", d.Rebuilt)
			}

			postConfig(t, base, `{"drawing": ""}`)
			b.openChat(base, contact)
			if d := b.bubbleText(first.ID); d.Rebuilt != text {
				t.Fatalf("the chat opened again with drawing \"\": the bubble rebuilds as %q, want %q", d.Rebuilt, text)
			}
		})
	}
}
