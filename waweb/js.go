package waweb

// The driver talks to the page with small JavaScript functions, each run by
// one Runtime.evaluate. Every script starts with jsPrelude, which defines
// helpers over S, the Selectors as JSON (see (*Page).script). A script is an
// arrow function of one argument, A, that the driver passes as JSON.
//
// Page marks the driver sets: window.__wawebChat holds the digits of the chat
// the driver opened (a page load drops it, so a reload is noticed even
// without Watch); the attribute data-waweb-stale marks the previous chat's
// elements while a new chat opens inside the app.

const jsPrelude = `
const q = (sel, root) => (root || document).querySelector(sel);
const qa = (sel, root) => Array.from((root || document).querySelectorAll(sel));
const str = s => (s === null || s === undefined) ? '' : String(s);
// norm compares visible texts: collapsed white space, plain apostrophes.
const norm = s => str(s).replace(/[\u2018\u2019\u02bc]/g, "'").replace(/\s+/g, ' ').trim();
// cmp compares message texts the way the app sends them: trimmed, plain newlines.
const cmp = s => str(s).replace(/\r\n?/g, '\n').replace(/\u00a0/g, ' ').trim();
// textOf rebuilds the text an element draws (fact 18): an element carrying
// the text template attribute stands for its template around its own rebuilt
// content (formats nest), an image for its alt text (emoji), a link for its
// text; <br> and block elements are line breaks. A bubble's "Read more"
// control is left out.
const textOf = el => {
  let out = '';
  for (const c of el.childNodes) {
    if (c.nodeType === 3) { out += c.nodeValue; continue; }
    if (c.nodeType !== 1) continue;
    const tag = c.tagName;
    if (tag === 'BR') { out += '\n'; continue; }
    if (tag === 'IMG') { out += c.getAttribute('alt') || ''; continue; }
    if (c.matches(S.clickable) && tag !== 'A' && readMoreEl(c)) continue;
    const inner = textOf(c);
    const tpl = c.getAttribute(S.text_template_attr);
    if (tpl && tpl.includes('${appText}')) { out += tpl.split('${appText}').join(inner); continue; }
    if ((tag === 'P' || tag === 'DIV' || tag === 'LI') && out !== '' && !out.endsWith('\n')) out += '\n';
    out += inner;
  }
  return out;
};
const readMoreEl = e => norm(e.textContent) === norm(S.read_more_text);
const visibleText = el => el ? (el.innerText || el.textContent || '') : '';
// byText finds the clickable element whose text is one of texts, in the
// order of texts; else a leaf element with that text, or its clickable ancestor.
const byText = (texts, root) => {
  const want = texts.map(norm);
  const els = qa(S.clickable, root);
  for (const w of want) {
    const e = els.find(e => norm(visibleText(e)) === w);
    if (e) return e;
  }
  const leaves = qa('span, div, p', root).filter(e => e.children.length === 0);
  for (const w of want) {
    const e = leaves.find(e => norm(e.textContent) === w);
    if (e) return e.closest(S.clickable) || e;
  }
  return null;
};
const dialogs = () => qa(S.dialog);
const invalidDialog = () => dialogs().find(d => {
  const t = norm(visibleText(d));
  return S.invalid_texts.some(x => t.includes(norm(x)));
}) || null;
const useHereButton = () => {
  for (const d of dialogs()) {
    const b = byText([S.use_here_text], d);
    if (b) return b;
  }
  return null;
};
const okButton = d => byText([S.ok_text], d) || q('button', d) || q(S.clickable, d);
let updateRE = null;
try { updateRE = new RegExp(S.update_browser_pattern, 'i'); } catch (e) {}
const state = () => {
  if (useHereButton()) return 'conflict';
  if (q(S.pane_side)) return 'main';
  if (q(S.landing)) return 'landing';
  if (q(S.progress)) return 'booting';
  if (updateRE && document.body && updateRE.test(document.body.innerText || '')) return 'update';
  if (q(S.app)) return 'booting';
  return 'unknown';
};
const qrInfo = () => {
  const land = q(S.landing);
  if (!land) return {code: '', expired: false};
  const c = q(S.qr_canvas, land);
  const holder = c ? c.closest(S.qr_ref) : null;
  const code = holder ? str(holder.getAttribute(S.qr_ref_attr)) : '';
  return {code: code, expired: !c && !!q(S.qr_reload_button)};
};
const linkCode = () => {
  const e = q(S.link_code);
  return e ? str(e.getAttribute(S.link_code_attr)).replace(/[,\s]/g, '') : '';
};
const snapshot = () => {
  const qr = qrInfo();
  return {state: state(), code: qr.code, expired: qr.expired, pairing: linkCode()};
};
const bubbleId = b => str(b.getAttribute(S.bubble_id_attr));
const chatBubbles = () => qa(S.bubble, q(S.main) || document).filter(b => bubbleId(b) !== '');
// ackOf: 2 delivered or read, 1 sent (server ack), 0 pending, -1 no status
// element (an icon of the older drawing, or a state label of fact 20).
const ackOf = b => q(S.msg_dblcheck, b) ? 2 : q(S.msg_check, b) ? 1 : q(S.msg_time, b) ? 0 : -1;
const acked = b => ackOf(b) >= 1;
// outgoing: the driver opened the chat (fact 14), so an outgoing bubble is
// one with a true_ id, or, where ids are bare (fact 20), one with a status
// element; incoming bubbles have neither. Its jid is never needed.
const outgoing = b => {
  const id = bubbleId(b);
  if (id.startsWith('true_')) return true;
  if (id.startsWith('false_')) return false;
  return ackOf(b) >= 0;
};
const outBubbles = () => chatBubbles().filter(outgoing);
// jidOf gives the jid of "true_<jid>_<msgid>", '' for a bare id.
const jidOf = id => {
  if (!/^(true|false)_/.test(id)) return '';
  const r = id.slice(id.indexOf('_') + 1), i = r.indexOf('_');
  return i < 0 ? r : r.slice(0, i);
};
// phoneLike: a text that is a phone number formatted for people.
const phoneLike = t => /^\+?[0-9][0-9\s().\-\u00a0\u2011]{5,}[0-9]$/.test(t) && t.replace(/[^0-9]/g, '').length >= 7;
// foreign: #main shows another chat than the one with digits. Only what the
// page shows is used, in either drawing: a bubble id naming another phone
// number (older drawing), or a header naming a phone number that is not
// digits (fact 20). A header with a contact's name says nothing.
const foreign = digits => {
  if (chatBubbles().some(b => { const j = jidOf(bubbleId(b)); return j.endsWith('@c.us') && j !== digits + '@c.us'; })) return true;
  const h = q(S.chat_header, q(S.main) || document);
  if (!h) return false;
  const nums = qa('span, div', h).filter(e => e.children.length === 0).map(e => norm(e.textContent)).filter(phoneLike);
  return nums.length > 0 && !nums.some(t => t.replace(/[^0-9]/g, '') === digits);
};
const readMore = b => qa(S.clickable, b).some(readMoreEl) || norm(visibleText(b)).endsWith(norm(S.read_more_text));
// bubbleText: the bubble's text rebuilt (fact 18), null without a text element.
const bubbleText = b => { const te = q(S.bubble_text, b); return te ? cmp(textOf(te)) : null; };
// sameText: the bubble shows text (a long one may show a prefix and "Read
// more"); null when it has no text element.
const sameText = (b, text) => {
  const want = cmp(text);
  const a = bubbleText(b);
  if (a === null) return null;
  if (a === want) return true;
  if (readMore(b)) {
    const rm = norm(S.read_more_text);
    let p = a.endsWith(rm) ? a.slice(0, -rm.length) : a;
    p = p.trim().replace(/(\u2026|\.\.\.)$/, '').trim();
    if (p.length >= 20 && want.startsWith(p)) return true;
  }
  return false;
};
// matches: the bubble shows text; a file's bubble (file) with an empty
// caption shows no text, or an empty one.
const matches = (b, text, file) => {
  if (file && cmp(text) === '') { const t = bubbleText(b); return t === null || t === ''; }
  return sameText(b, text) === true;
};
// outInfo describes an outgoing bubble for the driver: id, acked, and
// whether it shows text (the caption of a file's bubble, with file).
const outInfo = (b, text, file) => ({id: bubbleId(b), acked: acked(b), match: matches(b, text, !!file)});
// buttonOf gives the button an element is part of, or the element.
const buttonOf = e => e ? (e.closest('button, [role="button"]') || e) : null;
// near finds the element matching sel closest around el: inside el's
// nearest ancestor that holds one.
const near = (el, sel) => {
  for (let a = el; a; a = a.parentElement) { const e = q(sel, a); if (e) return e; }
  return null;
};
// captionBox is the caption box of a file's preview (fact 19): never the
// compose box.
const captionBox = () => {
  const c = q(S.compose);
  return qa(S.preview_caption).find(e => e !== c && !(c && (c.contains(e) || e.contains(c)))) || null;
};
const previewSend = () => { const c = captionBox(); return c ? near(c, S.preview_send_button) : null; };
// previewOpen: a file's preview shows, its caption box and its send button.
const previewOpen = () => !!previewSend();
// boxOf and sendOf give the box a draft is entered in and its send button:
// the compose box's (A.file false), or the preview's of a file (fact 19).
const boxOf = A => (A && A.file) ? captionBox() : q(S.compose);
const sendOf = A => (A && A.file) ? previewSend() : q(S.send_button);
// editorHolds: the box holds text, all of it in the editor's own text
// elements (fact 17: text outside them was typed before the editor went
// live, and vanishes). An empty text is held by an empty box.
const editorHolds = (c, text) => {
  const lex = 'span[data-lexical-text="true"]';
  const w = document.createTreeWalker(c, NodeFilter.SHOW_TEXT);
  for (let n = w.nextNode(); n; n = w.nextNode()) {
    if (n.nodeValue.trim() !== '' && !(n.parentElement && n.parentElement.closest(lex))) return false;
  }
  return cmp(textOf(c)) === cmp(text) && (cmp(text) === '' || qa(lex, c).length > 0);
};
// waitFor resolves with the first truthy check() or null after ms; it
// re-checks on every DOM change and every 50 ms.
const waitFor = (check, ms) => new Promise(resolve => {
  const safe = () => { try { return check(); } catch (e) { return null; } };
  const v0 = safe();
  if (v0) { resolve(v0); return; }
  let done = false, obs = null, iv = 0, to = 0;
  const finish = v => {
    if (done) return;
    done = true;
    if (obs) obs.disconnect();
    clearInterval(iv);
    clearTimeout(to);
    resolve(v);
  };
  const tick = () => { const v = safe(); if (v) finish(v); };
  obs = new MutationObserver(tick);
  obs.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  iv = setInterval(tick, 50);
  to = setTimeout(() => finish(null), ms);
});
`

// jsState classifies the page.
const jsState = `() => state()`

// jsSnapshot reads state, QR and pairing code at once.
const jsSnapshot = `() => snapshot()`

// jsSnapshotChanged: a snapshot that differs from A, else null.
const jsSnapshotChanged = `(A) => {
  const s = snapshot();
  return (s.state !== A.state || s.code !== A.code || s.expired !== A.expired || s.pairing !== A.pairing) ? s : null;
}`

// jsBooted: the state once the app is past booting, else null.
const jsBooted = `() => { const s = state(); return (s === 'booting' || s === 'unknown') ? null : s; }`

// jsPrepare: state, and whether the chat with A.digits is open as the driver left it.
const jsPrepare = `(A) => {
  const st = state();
  const open = A.known && st === 'main' && window.__wawebChat === A.digits &&
    !!q(S.compose) && !invalidDialog() && !foreign(A.digits);
  return {state: st, open: !!open};
}`

// jsClickChat opens a chat inside the app (fact 14): it marks the open chat's
// elements stale, then appends an anchor, clicks it and removes it. A click
// nobody prevented (the app did not take it over) is stopped by a listener
// that runs last, and reported as "unhandled".
const jsClickChat = `(A) => {
  if (!q(S.pane_side)) return {r: 'not-main', state: state()};
  for (const d of dialogs()) {
    if (S.invalid_texts.some(x => norm(visibleText(d)).includes(norm(x)))) { const b = okButton(d); if (b) b.click(); }
  }
  delete window.__wawebChat;
  const m = q(S.main);
  let had = 0;
  if (m) {
    m.setAttribute('data-waweb-stale', A.token);
    for (const b of qa(S.bubble, m)) { b.setAttribute('data-waweb-stale', A.token); had++; }
  }
  let unhandled = false;
  const a = document.createElement('a');
  a.href = A.href;
  a.textContent = '\u200b';
  a.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;opacity:0;';
  const guard = e => { if (e.target === a && !e.defaultPrevented) { unhandled = true; e.preventDefault(); } };
  window.addEventListener('click', guard, false);
  try {
    document.body.appendChild(a);
    a.click();
  } finally {
    window.removeEventListener('click', guard, false);
    a.remove();
  }
  return {r: unhandled ? 'unhandled' : 'clicked', hadMain: !!m, hadBubbles: had > 0};
}`

// jsChatOpened: "invalid" when the not-on-WhatsApp dialog shows, "open" once
// the chat with A.digits shows its compose box, else null. With A.hadMain,
// the previous chat (marked stale with A.token) must be gone first: its #main
// replaced, or its bubbles gone.
const jsChatOpened = `(A) => {
  if (invalidDialog()) return 'invalid';
  if (!q(S.compose)) return null;
  if (A.hadMain) {
    const m = q(S.main);
    const staleMain = m && m.getAttribute('data-waweb-stale') === A.token;
    const staleBubbles = qa(S.bubble, m || document).some(b => b.getAttribute('data-waweb-stale') === A.token);
    if (staleMain && !(A.hadBubbles && !staleBubbles)) return null;
    if (staleBubbles) return null;
  }
  if (foreign(A.digits)) return null;
  window.__wawebChat = A.digits;
  return 'open';
}`

// jsDismissInvalid clicks the OK button of the not-on-WhatsApp dialog.
const jsDismissInvalid = `() => {
  const d = invalidDialog();
  if (!d) return false;
  const b = okButton(d);
  if (b) b.click();
  return !!b;
}`

// jsFocusCompose focuses the compose box (with A.file the preview's caption
// box) and returns the length of its text, -1 without a box.
const jsFocusCompose = `(A) => {
  const c = boxOf(A);
  if (!c) return -1;
  c.focus();
  return Math.max(cmp(textOf(c)).length, cmp(c.innerText).length);
}`

// jsSelectCompose selects the compose box's (with A.file the caption box's)
// content through the DOM, for a second try at clearing it.
const jsSelectCompose = `(A) => {
  const c = boxOf(A);
  if (!c) return false;
  c.focus();
  const s = window.getSelection();
  s.removeAllRanges();
  const r = document.createRange();
  r.selectNodeContents(c);
  s.addRange(r);
  return true;
}`

// jsDraft reads the compose box (with A.file the preview's caption box)
// after the text A.text was entered: "ready" when it holds the text and the
// send button shows (the app's editor has it; a caption box has no send
// button of its own that shows with text, so its editor must hold all of
// it), with the chat's outgoing bubbles, oldest first (out: id, acked, and
// whether it shows the text); "lost" when it does not hold the text (the
// editor redrew it, fact 17); "nobox" without a box; null while it holds
// the text but its editor does not yet, or no send button shows yet.
const jsDraft = `(A) => {
  const want = cmp(A.text);
  const c = boxOf(A);
  if (!c) return {r: 'nobox'};
  if (!(cmp(textOf(c)) === want || cmp(c.innerText) === want)) return {r: 'lost', got: cmp(c.innerText).length};
  if (A.file && !editorHolds(c, A.text)) return null;
  if (!sendOf(A)) return null;
  return {r: 'ready', out: outBubbles().map(b => outInfo(b, A.text, A.file))};
}`

// jsHeld: the compose box (with A.file the caption box) holds A.text in the
// editor's own text elements (fact 17: the editor has it, so the send
// button must show, facts 8 and 19).
const jsHeld = `(A) => { const c = boxOf(A); return !!c && editorHolds(c, A.text); }`

// jsChatShown: #main shows a chat (not the stale one A.token marked) with
// its header, but no compose box matches: the chat opened and the compose
// selector no longer finds its box.
const jsChatShown = `(A) => {
  const m = q(S.main);
  if (!m || m.getAttribute('data-waweb-stale') === A.token || invalidDialog()) return false;
  return !!q(S.chat_header, m) && !q(S.compose) && !!q('[contenteditable="true"]', m);
}`

// jsClickSend clicks the send button (fact 8; with A.file the preview's,
// fact 19) when the box still holds A.text (a caption: in its editor's own
// text elements) and the chat's outgoing bubbles are still A.noted.
const jsClickSend = `(A) => {
  const want = cmp(A.text);
  const c = boxOf(A);
  if (!c) return {r: 'nobox'};
  if (!(cmp(textOf(c)) === want || cmp(c.innerText) === want)) return {r: 'mismatch', got: cmp(c.innerText).length};
  if (A.file && !editorHolds(c, A.text)) return {r: 'mismatch', got: cmp(c.innerText).length};
  const btn = buttonOf(sendOf(A));
  if (!btn) return {r: 'nobutton'};
  const now = outBubbles().map(bubbleId);
  const noted = A.noted || [];
  if (now.length !== noted.length || now.some((id, i) => id !== noted[i])) return {r: 'changed'};
  btn.click();
  return {r: 'clicked'};
}`

// jsOutgoing finds the chat's new outgoing bubble: one not in A.before (the
// bubbles noted before the click). Its text is a check, not the way to find
// it: among new bubbles the oldest showing A.text is taken, else the oldest.
// With A.any it reports it acked or not, else only once it is acked.
const jsOutgoing = `(A) => {
  const before = new Set(A.before || []);
  const fresh = outBubbles().filter(b => !before.has(bubbleId(b)));
  if (!fresh.length) return null;
  const b = fresh.find(b => matches(b, A.text, !!A.file)) || fresh[0];
  const o = outInfo(b, A.text, A.file);
  return (o.acked || A.any) ? o : null;
}`

// jsPreviewOpen: a file's preview shows (fact 19).
const jsPreviewOpen = `() => previewOpen()`

// jsPreviewGone: true once no file's preview shows, else null.
const jsPreviewGone = `() => previewOpen() ? null : true`

// jsClickPreviewClose clicks the close button of the open preview (the one
// nearest its caption box); false when none matches.
const jsClickPreviewClose = `() => {
  const c = captionBox();
  const b = c ? buttonOf(near(c, S.preview_close_button)) : null;
  if (!b) return false;
  b.click();
  return true;
}`

// jsOpenAttach opens the open chat's attach menu (fact 19) unless its
// input for A.doc (documents, else photos and videos) shows already:
// "menu" when it shows, "clicked" after a click on the attach button,
// "noattach" when no attach button matches in #main.
const jsOpenAttach = `(A) => {
  if (q(A.doc ? S.file_input_document : S.file_input_media)) return 'menu';
  const m = q(S.main);
  const b = m ? buttonOf(q(S.attach_button, m)) : null;
  if (!b) return 'noattach';
  b.click();
  return 'clicked';
}`

// jsFileInput gives the attach menu's input for A.doc (documents, else
// photos and videos), or null; jsFileInputShown waits for it.
const jsFileInput = `(A) => q(A.doc ? S.file_input_document : S.file_input_media)`
const jsFileInputShown = `(A) => !!q(A.doc ? S.file_input_document : S.file_input_media) || null`

// jsPreviewShown: "open" once the preview's caption box shows (fact 19),
// "dialog" when a dialog shows instead (the app refused the file: it is
// closed by its OK button), else null.
const jsPreviewShown = `() => {
  if (captionBox()) return 'open';
  const d = dialogs()[0];
  if (!d) return null;
  const b = okButton(d);
  if (b) b.click();
  return 'dialog';
}`

// jsBubbleAcked: true once the bubble with data-id A.id shows msg-check or
// msg-dblcheck.
const jsBubbleAcked = `(A) => chatBubbles().some(b => bubbleId(b) === A.id && acked(b)) || null`

// jsClickText clicks the clickable element with one of A.texts.
const jsClickText = `(A) => { const e = byText(A.texts); if (!e) return null; e.click(); return 'ok'; }`

// jsClickSel clicks the first element matching A.sel.
const jsClickSel = `(A) => { const e = q(A.sel); if (!e) return null; e.click(); return 'ok'; }`

// jsFocusInput focuses the element A.sel and selects its value.
const jsFocusInput = `(A) => {
  const e = q(A.sel);
  if (!e) return null;
  e.focus();
  if (typeof e.select === 'function') e.select();
  return str(e.value).length + 1;
}`

// jsInputValue reads the value of the element A.sel.
const jsInputValue = `(A) => { const e = q(A.sel); return e ? str(e.value) : null; }`

// jsUseHere clicks the conflict dialog's "Use here".
const jsUseHere = `() => { const b = useHereButton(); if (!b) return null; b.click(); return 'ok'; }`

// jsWids reads the localStorage entries that name the linked account.
const jsWids = `() => { const out = []; try { for (const k of S.linked_phone_keys) out.push(str(localStorage.getItem(k))); } catch (e) {} return out; }`

// jsQRRect gives the document-relative box of the landing's QR canvas.
const jsQRRect = `() => {
  const land = q(S.landing);
  const c = land ? q(S.qr_canvas, land) : null;
  if (!c) return null;
  c.scrollIntoView({block: 'center', inline: 'center'});
  const e = c.getBoundingClientRect(), d = document.documentElement.getBoundingClientRect();
  return {x: e.left - d.left, y: e.top - d.top, width: e.width, height: e.height};
}`

// skeleton draws el and its descendants to depth as tags and attributes:
// the values of attributes that cannot hold message text, names or numbers
// (safeAttrs), digits masked; other attributes by name only; no text.
const jsSkeletonLib = `
const safeAttrs = ['role', 'data-icon', 'data-tab', 'contenteditable', 'data-lexical-editor', 'type', 'data-testid', 'accept', 'class', 'dir', 'tabindex', 'aria-multiline'];
const skeleton = (el, depth) => {
  if (!el) return '';
  const tag = el.tagName.toLowerCase();
  const attrs = Array.from(el.attributes).map(a => safeAttrs.includes(a.name) ? a.name + '="' + a.value.replace(/[0-9]/g, '#').slice(0, 60) + '"' : a.name);
  let inner = '';
  if (depth > 0) {
    const kids = Array.from(el.children);
    inner = kids.slice(0, 6).map(c => skeleton(c, depth - 1)).join('') + (kids.length > 6 ? '…' : '');
  } else if (el.children.length) {
    inner = '…';
  }
  return '<' + tag + (attrs.length ? ' ' + attrs.join(' ') : '') + '>' + inner + '</' + tag + '>';
};
// where gives the element around which key's element should be.
const where = key => {
  const m = q(S.main);
  switch (key) {
    case 'compose': case 'send_button': case 'attach_button': case 'file_input_media': case 'file_input_document': {
      const ed = m && q('[contenteditable="true"]', m);
      let e = ed;
      for (let i = 0; e && i < 3 && e.parentElement && e.parentElement !== m; i++) e = e.parentElement;
      return [e || (m && m.lastElementChild) || m, 5];
    }
    case 'bubble_text': case 'msg_time': case 'msg_check': case 'msg_dblcheck': case 'bubble': {
      const bs = chatBubbles();
      return [bs.length ? bs[bs.length - 1] : m, 6];
    }
    case 'chat_header': return [m, 2];
  }
  return [q(S.app) || document.body, 3];
};
const skeletonOf = key => { const [e, d] = where(key); return e ? skeleton(e, d).slice(0, 2000) : ''; };
`

// jsSkeleton: the skeleton around where the element of Selectors key A should be.
const jsSkeleton = `(A) => skeletonOf(A)`

// jsDiagnose runs the plain doctor's probes (read-only) and says which
// drawing the chat's bubbles use.
const jsDiagnose = `() => {
  const checks = [];
  const add = (name, ok, detail, selector) => {
    const c = {name: name, ok: !!ok, selector: selector === undefined ? (S[name] === undefined ? '' : String(S[name])) : selector, detail: detail || ''};
    if (!c.ok && c.selector) c.detail += (c.detail ? '; ' : '') + 'around it: ' + skeletonOf(name);
    checks.push(c);
  };
  const st = state();
  const says = {
    main: 'the main screen: linked (fact 4)',
    landing: 'the landing (QR code): the tenant is not linked (facts 2, 5)',
    booting: 'the app is still booting (fact 1)',
    conflict: 'another window uses the account: "Use here" (fact 12)',
    update: 'the page asks to update the browser (fact 13)',
    unknown: 'none of the known screens (facts 1-5): #app, its progress, the landing and the chat list all missing',
  };
  add('page_state', st === 'main', says[st] || st, '');
  let drawing = '';
  if (st === 'landing') {
    const land = q(S.landing);
    const c = land && q(S.qr_canvas, land);
    if (c) {
      add('qr_canvas', true, 'the QR code shows (fact 2)');
      const h = c.closest(S.qr_ref);
      add('qr_ref', !!h && str(h.getAttribute(S.qr_ref_attr)).split(',').length >= 4, h ? 'the QR text has its parts (fact 2)' : 'no ancestor of the QR canvas carries the QR text (fact 2)');
    } else {
      add('qr_reload_button', !!q(S.qr_reload_button), 'no QR canvas: the codes ran out, a reload button must show (fact 3)');
    }
  }
  if (st === 'main') {
    add('pane_side', true, 'the chat list shows (fact 4)');
    const m = q(S.main);
    if (m) {
      add('compose', !!q(S.compose), 'the open chat\'s compose box (fact 7)');
      add('attach_button', !!q(S.attach_button, m), 'the open chat\'s attach button (fact 19)');
      const bs = chatBubbles();
      const older = bs.some(b => /^(true|false)_/.test(bubbleId(b)));
      const bare = bs.some(b => !/^(true|false)_/.test(bubbleId(b)));
      const icons = !!q('[data-icon^="msg-"]', m);
      const labels = !!q('[aria-label=" Pending "], [aria-label=" Sent "], [aria-label=" Delivered "], [aria-label=" Read "]', m);
      if (bs.length) {
        drawing = older && !bare ? 'older' : bare && !older ? '2026' : 'mixed';
        add('drawing', true, (older ? 'true_<jid>_ ids' : 'bare ids') + ', ' + (icons ? 'data-icon ticks' : labels ? 'state labels' : 'no status element seen') + (drawing === 'older' ? ': the older drawing (fact 10)' : drawing === '2026' ? ': the 2026 drawing (fact 20)' : ''), '');
      }
      const out = bs.filter(outgoing).slice(-10);
      if (out.length) {
        const noText = out.filter(b => bubbleText(b) === null).length;
        add('bubble_text', noText === 0, noText ? noText + ' of the last ' + out.length + ' outgoing bubbles have no text element (facts 10, 18, 20)' : 'every one of the last ' + out.length + ' outgoing bubbles has its text element');
        const noState = out.filter(b => ackOf(b) < 0).length;
        add('msg_check', noState === 0, noState ? noState + ' of the last ' + out.length + ' outgoing bubbles show no state (icons or labels)' : 'every outgoing bubble shows its state (facts 10, 20)');
      } else if (bs.length) {
        add('bubble', false, bs.length + ' bubbles, none recognized as outgoing: no true_ id and no status element (facts 10, 20)');
      }
    }
  }
  return {state: st, drawing: drawing, checks: checks};
}`
