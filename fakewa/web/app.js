// fakewa's page: a small stand-in for WhatsApp Web that follows the page
// contract (facts 1-20; draw.js draws bubbles' text and the 2026 build's
// icons). Options.Variant renames parts of the open chat. It talks to its
// server through /_fakeapi/.
'use strict';
(() => {
  const WID_KEY = 'last-wid-md'; // JSON string "<phone>:<device>@c.us", as WhatsApp Web stores it
  const DEVICE = 7;
  // The device token, the login (fact 16): in the profile's IndexedDB, as
  // WhatsApp Web keeps its session; localStorage holds only WID_KEY.
  const IDB_NAME = 'wawc';
  const IDB_STORE = 'user';
  const TOKEN_KEY = 'WAToken1';
  const app = document.getElementById('app');

  // S is the page's state. gen changes with every screen, so late answers
  // for a screen that is gone are dropped.
  const S = {
    sid: '', phone: '', token: '', view: 'boot', gen: 0, pollMs: 1000, pollTimer: 0, build: '', drawing: '',
    timers: [], chat: null, pending: new Set(), bubbles: new Map(),
    beforeUnloadOn: false, clickHandlerOn: false, mainWrap: null, paneSide: null, editor: null,
  };

  // ---- helpers ----
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (v !== false && v != null) e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const k of kids) if (k != null) e.append(k);
    return e;
  }
  async function api(method, path, body) {
    const init = { method, cache: 'no-store', headers: {} };
    if (body instanceof FormData) {
      init.body = body; // multipart/form-data, its boundary set by fetch
    } else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
    const r = await fetch(path, init);
    let data = null;
    try { data = await r.json(); } catch (e) { /* no body */ }
    if (!r.ok) {
      const err = new Error((data && data.error) || r.statusText);
      err.status = r.status;
      throw err;
    }
    return data;
  }
  const q = (path) => path + (path.includes('?') ? '&' : '?') + 'sid=' + encodeURIComponent(S.sid);
  function later(fn, ms) { S.timers.push(setTimeout(fn, ms)); }
  // newScreen starts a screen: timers of the last one stop, late answers drop.
  function newScreen(view) {
    S.timers.forEach(clearTimeout);
    S.timers = [];
    S.gen++;
    S.view = view;
    S.chat = null;
    S.editor = null;
    if (view !== 'main') removeClickHandler();
    return S.gen;
  }
  function hex(n) {
    const b = new Uint8Array(n);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('').toUpperCase();
  }
  // within resolves when p settles or after ms, whichever comes first.
  const within = (p, ms) => Promise.race([p.catch(() => {}), sleep(ms)]);
  function pad2(n) { return String(n).padStart(2, '0'); }
  function prePlain(d) {
    return `[${pad2(d.getHours())}:${pad2(d.getMinutes())}, ${d.getMonth() + 1}/${d.getDate()}/${d.getFullYear()}] You: `;
  }

  // ---- hang switch: block the main thread while the server says "on" ----
  function hangLoop() {
    for (;;) {
      let state = 'off';
      try {
        const x = new XMLHttpRequest();
        x.open('GET', '/_fakeapi/hang', false); // synchronous: the renderer answers nothing meanwhile
        x.send();
        state = x.responseText;
      } catch (e) { state = 'off'; }
      if (state !== 'on') return;
    }
  }

  // ---- the login in IndexedDB (fact 16) ----
  // An IndexedDB transaction's data reaches the profile's files when it
  // completes (a readwrite one is asked for strict durability: flushed to
  // disk), so the page moves on only after that: a browser killed right after
  // the link comes back linked. localStorage would lose it: Chromium commits
  // it seconds late.
  let dbOpen = null;
  function openDB() {
    if (!dbOpen) {
      dbOpen = new Promise((resolve, reject) => {
        const r = indexedDB.open(IDB_NAME, 1);
        r.onupgradeneeded = () => r.result.createObjectStore(IDB_STORE);
        r.onsuccess = () => {
          const db = r.result;
          db.onversionchange = () => { db.close(); dbOpen = null; };
          resolve(db);
        };
        r.onerror = () => reject(r.error);
      });
      dbOpen.catch(() => { dbOpen = null; }); // the next use tries again
    }
    return dbOpen;
  }
  // tokenTx runs fn on the store in a transaction and resolves with the
  // result of fn's request once the transaction has completed.
  async function tokenTx(mode, fn) {
    const db = await openDB();
    return new Promise((resolve, reject) => {
      const tx = mode === 'readwrite' ? db.transaction(IDB_STORE, mode, { durability: 'strict' }) : db.transaction(IDB_STORE, mode);
      const req = fn(tx.objectStore(IDB_STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
    });
  }
  const readToken = () => tokenTx('readonly', (st) => st.get(TOKEN_KEY)).then((v) => (typeof v === 'string' ? v : ''), () => '');
  const saveToken = (token) => tokenTx('readwrite', (st) => st.put(token, TOKEN_KEY));
  const dropToken = () => tokenTx('readwrite', (st) => st.delete(TOKEN_KEY));

  // ---- fact 13: an old or headless browser gets the update page ----
  function showUpdate() {
    document.body.replaceChildren(el('div', { class: 'update-page' },
      el('h1', {}, 'WhatsApp works with Google Chrome 85+'),
      el('p', {}, 'To use WhatsApp, update Chrome or use Mozilla Firefox, Safari, Microsoft Edge or Opera.'),
      el('p', {}, el('a', { href: 'https://www.google.com/chrome' }, 'UPDATE GOOGLE CHROME'))));
  }

  // ---- boot (fact 1) ----
  async function boot() {
    if (/HeadlessChrome/.test(navigator.userAgent)) { showUpdate(); return; }
    const token = await readToken();
    let r;
    for (;;) {
      try { r = await api('POST', '/_fakeapi/boot', { token }); break; } catch (e) { await sleep(1000); }
    }
    S.sid = r.sid;
    S.pollMs = r.poll_ms;
    S.build = r.build || ''; // the page's build for its life (fact 20)
    S.drawing = r.drawing || '';
    addEventListener('pagehide', () => navigator.sendBeacon(q('/_fakeapi/bye')));
    if (r.hang) hangLoop();
    if (!r.linked && token) { localStorage.removeItem(WID_KEY); await within(dropToken(), 2000); }
    S.token = r.linked ? token : '';
    const wait = r.boot_delay_ms - performance.now();
    if (wait > 0) await sleep(wait);
    if (r.linked) {
      S.phone = r.phone;
      showMain();
      deepLink();
    } else {
      showLanding();
    }
    schedulePoll();
  }

  // ---- the poll: link, logout (fact 5), conflict (fact 12), hang ----
  function schedulePoll() {
    clearTimeout(S.pollTimer);
    S.pollTimer = setTimeout(poll, S.pollMs);
  }
  async function poll() {
    let r;
    try { r = await api('GET', q('/_fakeapi/poll')); } catch (e) {
      if (e.status === 404) { location.reload(); return; } // the server forgot this page (it restarted)
      schedulePoll();
      return;
    }
    S.pollMs = r.poll_ms;
    if (r.drawing != null) S.drawing = r.drawing;
    if (r.hang) hangLoop();
    if (r.state === 'logged_out') { loggedOut(); return; }
    if (r.state === 'linked') {
      if (r.token && r.token !== S.token) {
        // A new login: the page moves on once it is on disk. Should the
        // write fail, it moves on all the same and the next poll writes again.
        try { await saveToken(r.token); S.token = r.token; } catch (e) { console.warn('fakewa: the login was not saved', e); }
      }
      // WhatsApp Web keeps the linked account's id in localStorage.
      if (r.phone) localStorage.setItem(WID_KEY, JSON.stringify(r.phone + ':' + DEVICE + '@c.us'));
      S.phone = r.phone;
      if (!r.active) {
        if (S.view !== 'conflict') showConflict();
      } else if (S.view === 'landing' || S.view === 'phone') {
        showMain();
      }
    }
    schedulePoll();
  }
  async function loggedOut() {
    S.token = '';
    localStorage.removeItem(WID_KEY);
    setBeforeUnload(false);
    S.pending.clear();
    await within(dropToken(), 2000); // leaving first could abort the transaction
    location.assign('/?post_logout=1');
  }

  // ---- landing with the QR code (facts 2, 3) ----
  function showLanding() {
    newScreen('landing');
    const qrBox = el('div', { class: 'qr-box' }, el('div', { class: 'spinner' }));
    app.replaceChildren(el('div', { class: 'landing-wrapper' },
      el('div', { class: 'landing-header' }, 'WhatsApp'),
      el('div', { class: 'landing-window' },
        el('div', {},
          el('h1', { class: 'landing-title' }, 'Steps to log in'),
          el('ol', { class: 'landing-steps' },
            el('li', {}, 'Open WhatsApp on your phone'),
            el('li', {}, 'Tap Menu or Settings and select Linked devices'),
            el('li', {}, 'Tap Link a device'),
            el('li', {}, 'Point your phone at this screen to scan the QR code')),
          el('div', { role: 'button', tabindex: '0', class: 'link-phone', onclick: showPhoneForm }, 'Log in with phone number')),
        qrBox)));
    loadQR(qrBox, false, S.gen);
  }
  async function loadQR(box, reload, gen) {
    let r;
    try { r = await api('GET', q('/_fakeapi/qr' + (reload ? '?reload=1' : ''))); } catch (e) {
      if (gen === S.gen) later(() => loadQR(box, reload, gen), 1000);
      return;
    }
    if (gen !== S.gen) return;
    let holder = box.querySelector('[data-ref]');
    if (!holder) {
      holder = el('div', { 'data-ref': r.code });
      box.replaceChildren(holder);
    }
    holder.setAttribute('data-ref', r.code);
    if (r.exhausted) {
      holder.replaceChildren(el('button', { type: 'button', class: 'reload', onclick: () => loadQR(box, true, gen) },
        el('span', { 'data-icon': 'refresh-large' }), el('div', {}, 'Click to reload QR code')));
      return;
    }
    let canvas = holder.querySelector('canvas');
    if (!canvas) {
      canvas = el('canvas', { 'aria-label': 'Scan this QR code to link a device!', role: 'img', width: 264, height: 264 });
      holder.replaceChildren(canvas);
    }
    drawQR(canvas, r.matrix);
    later(() => loadQR(box, false, gen), r.expires_in_ms + 5);
  }
  function drawQR(canvas, rows) {
    const n = rows.length;
    const size = canvas.width;
    const m = Math.floor(size / n);
    const off = Math.floor((size - m * n) / 2);
    const g = canvas.getContext('2d');
    g.fillStyle = '#ffffff';
    g.fillRect(0, 0, size, size);
    g.fillStyle = '#122e31';
    rows.forEach((row, y) => {
      for (let x = 0; x < row.length; x++) if (row[x] === '1') g.fillRect(off + x * m, off + y * m, m, m);
    });
  }

  // ---- link with a phone number (fact 15) ----
  async function showPhoneForm() {
    const gen = newScreen('phone');
    api('POST', q('/_fakeapi/mode'), { mode: 'phone' }).catch(() => {});
    const input = el('input', { type: 'text', 'aria-label': 'Type your phone number.', inputmode: 'tel', autocomplete: 'off', placeholder: '+1 555 000 1111' });
    const error = el('div', { class: 'error', role: 'alert' });
    const next = el('button', { type: 'button', class: 'primary' }, 'Next');
    const go = async () => {
      const phone = input.value.replace(/\D/g, '');
      if (phone.length < 6 || phone.length > 15) { error.textContent = 'Please enter a valid phone number.'; return; }
      error.textContent = '';
      next.disabled = true;
      await showPairCode(phone, gen, error);
      next.disabled = false;
    };
    next.addEventListener('click', go);
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); go(); } });
    app.replaceChildren(el('div', { class: 'landing-wrapper' },
      el('div', { class: 'landing-header' }, 'WhatsApp'),
      el('div', { class: 'landing-window phone-form' },
        el('div', {},
          el('h1', { class: 'landing-title' }, 'Enter phone number'),
          el('p', { class: 'muted' }, 'Select a country and enter your phone number.'),
          input, error, next, el('br'),
          el('div', { role: 'button', tabindex: '0', class: 'link-qr', onclick: backToQR }, 'Log in with QR code')))));
    input.focus();
  }
  async function showPairCode(phone, gen, error) {
    let r;
    try { r = await api('POST', q('/_fakeapi/pairing'), { phone }); } catch (e) {
      if (gen === S.gen && error) error.textContent = e.status === 400 ? 'Please enter a valid phone number.' : 'Something went wrong. Try again.';
      return;
    }
    if (gen !== S.gen) return;
    const chars = r.code.split('');
    const cells = (part) => el('div', { class: 'cells' }, ...part.map((c) => el('span', { class: 'cell' }, c)));
    app.replaceChildren(el('div', { class: 'landing-wrapper' },
      el('div', { class: 'landing-header' }, 'WhatsApp'),
      el('div', { class: 'landing-window' },
        el('div', {},
          el('h1', { class: 'landing-title' }, 'Enter code on phone'),
          el('p', { class: 'muted' }, 'Linking WhatsApp account +' + r.phone),
          el('div', { class: 'link-code', 'data-link-code': chars.join(','), 'aria-details': 'link-device-phone-number-code' },
            cells(chars.slice(0, 4)), el('span', { class: 'dash' }, '-'), cells(chars.slice(4))),
          el('ol', { class: 'landing-steps' },
            el('li', {}, 'Open WhatsApp on your phone'),
            el('li', {}, 'Tap Menu or Settings and select Linked devices'),
            el('li', {}, 'Tap Link a device, then Link with phone number instead'),
            el('li', {}, 'Enter this code on your phone')),
          el('div', { role: 'button', tabindex: '0', class: 'link-qr', onclick: backToQR }, 'Log in with QR code')))));
    later(() => showPairCode(phone, gen, null), r.expires_in_ms + 5);
  }
  async function backToQR() {
    newScreen('phone-leaving');
    try { await api('POST', q('/_fakeapi/mode'), { mode: 'qr' }); } catch (e) { /* the QR fetch retries */ }
    showLanding();
  }

  // ---- main screen (fact 4) ----
  function showMain() {
    newScreen('main');
    const search = el('div', { contenteditable: 'true', role: 'textbox', 'data-tab': '3', title: 'Search input textbox', 'aria-label': 'Search input textbox' });
    search.addEventListener('input', filterChats);
    S.paneSide = el('div', { id: 'pane-side', role: 'grid', 'aria-label': 'Chat list' });
    S.mainWrap = el('div', { class: 'main-wrap' }, intro());
    app.replaceChildren(el('div', { class: 'two' },
      el('div', { id: 'side' },
        el('header', {}, el('span', { title: '+' + S.phone }, 'Chats')),
        el('div', { class: 'search' }, search),
        S.paneSide),
      S.mainWrap));
    installClickHandler();
    loadChats(S.gen);
  }
  function intro() {
    return el('div', { class: 'intro' }, el('h1', {}, 'WhatsApp Web'),
      el('div', {}, 'Send and receive messages without keeping your phone online.'));
  }
  async function loadChats(gen) {
    let chats;
    try { chats = await api('GET', q('/_fakeapi/chats')); } catch (e) { return; }
    if (gen !== S.gen) return;
    S.paneSide.replaceChildren(...chats.map((c) => chatItem(c.phone, c.last_text)));
    if (S.chat) selectChat(S.chat.phone);
    filterChats();
  }
  // A chat list row. The 2026 build names its number only as people read
  // it: no data-phone (fact 20). The row of the open chat has
  // aria-selected="true".
  function chatItem(phone, last) {
    const name = S.build === '2026' ? FakeDraw.phone(phone) : '+' + phone;
    const item = el('div', { role: 'listitem', class: 'chat-item', 'aria-selected': 'false', 'data-phone': S.build === '2026' ? null : phone, onclick: () => openChat(phone, '', 'list') },
      el('span', { title: name, dir: 'auto' }, name),
      el('span', { class: 'last', dir: 'auto' }, (last || '').split('\n')[0]));
    item.fakePhone = phone;
    return item;
  }
  const rowOf = (phone) => [...S.paneSide.children].find((item) => item.fakePhone === phone);
  function bumpChat(phone, last) {
    if (!S.paneSide) return;
    const old = rowOf(phone);
    if (old) old.remove();
    S.paneSide.prepend(chatItem(phone, last));
    if (S.chat) selectChat(S.chat.phone);
    filterChats();
  }
  // selectChat marks the row of the open chat, adding one for a chat the
  // list does not show yet.
  function selectChat(phone) {
    if (!S.paneSide) return;
    if (!rowOf(phone)) S.paneSide.prepend(chatItem(phone, ''));
    for (const item of S.paneSide.children) item.setAttribute('aria-selected', String(item.fakePhone === phone));
  }
  function filterChats() {
    const s = document.querySelector('#side [data-tab="3"]');
    const needle = s ? s.textContent.trim().replace(/\D/g, '') : '';
    for (const item of S.paneSide.children) item.hidden = needle !== '' && !item.fakePhone.includes(needle);
  }

  // ---- deep link (fact 6) ----
  function deepLink() {
    if (location.pathname !== '/send') return;
    const p = new URLSearchParams(location.search);
    const phone = (p.get('phone') || '').replace(/^\+/, '');
    history.replaceState(null, '', '/');
    openChat(/^\d+$/.test(phone) ? phone : '', p.get('text') || '', 'deep');
  }

  // ---- fact 14: chats opened inside the app from links ----
  function parseChatLink(href) {
    let u;
    try { u = new URL(href, location.href); } catch (e) { return null; }
    let phone = null;
    if (u.protocol === 'https:' && u.hostname === 'wa.me') {
      const m = u.pathname.match(/^\/\+?(\d+)\/?$/);
      if (m) phone = m[1];
    } else if ((u.protocol === 'https:' && u.hostname === 'api.whatsapp.com') || u.origin === location.origin) {
      if (/^\/send\/?$/.test(u.pathname)) {
        const m = (u.searchParams.get('phone') || '').match(/^\+?(\d+)$/);
        if (m) phone = m[1];
      }
    }
    return phone ? { phone, text: u.searchParams.get('text') || '' } : null;
  }
  function onWindowClick(e) {
    if (!document.getElementById('pane-side')) return;
    const a = e.target && e.target.closest ? e.target.closest('a[href]') : null;
    if (!a || a.closest('[data-nohandle]')) return;
    const link = parseChatLink(a.href);
    if (!link) return;
    e.preventDefault();
    openChat(link.phone, link.text, 'app');
  }
  function installClickHandler() {
    if (!S.clickHandlerOn) { addEventListener('click', onWindowClick, true); S.clickHandlerOn = true; }
  }
  function removeClickHandler() {
    if (S.clickHandlerOn) { removeEventListener('click', onWindowClick, true); S.clickHandlerOn = false; }
  }

  // ---- dialogs ----
  function showDialog(text) {
    const layer = el('div', { class: 'overlay' });
    layer.append(el('div', { role: 'dialog', 'aria-modal': 'true' },
      el('div', { class: 'dlg-body' }, text),
      el('div', { class: 'dlg-actions' }, el('button', { type: 'button', onclick: () => layer.remove() }, 'OK'))));
    app.append(layer);
    return layer;
  }
  function showConflict() {
    newScreen('conflict');
    const use = el('button', { type: 'button' }, 'Use here');
    use.addEventListener('click', async () => {
      try { await api('POST', q('/_fakeapi/takeover')); } catch (e) { return; }
      showMain();
    });
    app.replaceChildren(el('div', { class: 'conflict-bg' },
      el('div', { role: 'dialog', 'aria-modal': 'true' },
        el('div', { class: 'dlg-body' }, 'WhatsApp is open in another window. Click \u201cUse here\u201d to use WhatsApp in this window.'),
        el('div', { class: 'dlg-actions' }, use))));
  }

  // ---- opening a chat (facts 6, 9, 14) ----
  async function openChat(phone, text, how) {
    const gen = S.gen;
    let popup = null;
    if (how === 'app') {
      popup = el('div', { class: 'overlay' }, el('div', { role: 'dialog', 'aria-label': 'Starting chat' },
        el('div', {}, 'Starting chat'), el('div', { class: 'spinner' })));
      app.append(popup);
    }
    let r = null;
    try {
      if (phone) r = await api('GET', q(`/_fakeapi/open?phone=${phone}&wait=${how === 'app' ? 1 : 0}`));
    } catch (e) {
      if (popup) popup.remove();
      if (gen === S.gen) showDialog('Couldn\u2019t start the chat. Check your connection and try again.');
      return;
    }
    if (popup) popup.remove();
    if (gen !== S.gen) return;
    if (!r || !r.on_whatsapp) {
      showDialog(how === 'deep' || !phone ? 'Phone number shared via url is invalid.' : `The number +${phone} isn't on WhatsApp.`);
      return;
    }
    if (r.drawing != null) S.drawing = r.drawing;
    renderChat({ phone, jid: r.jid || phone + '@c.us', variant: r.variant || '', captionMax: r.caption_editor_max_ms || 0 }, r.messages, text, r.editor_delay_ms || 0);
  }
  // renderChat draws the chat. With delayMs > 0 (the server's
  // Options.EditorDelay, fact 17) the chat and its compose box show at once,
  // its messages after delayMs/2, and its editor takes the box over after
  // delayMs: until then the box is a plain contenteditable that the browser
  // edits (no send button, Enter sends nothing), and what was typed there
  // vanishes when the editor draws its model (empty, or the deep link's
  // text). #main then carries data-fake-editor-delay-ms and
  // data-fake-editor-live ("false", then "true"), hooks for tests only.
  // who is {phone, jid, variant, captionMax}: the jid names the chat's
  // bubbles in the default build (fact 10); the variant (Options.Variant,
  // which the server names when the chat opens) renames what a WhatsApp
  // build renames; captionMax is Options.EditorDelay in ms, from which each
  // file preview picks the delay of its caption's editor (fact 19).
  function renderChat(who, messages, text, delayMs) {
    const { phone, variant } = who;
    const msgs = el('div', { class: 'msgs', role: 'application' });
    const box = composeBox();
    const sendSlot = el('div', { class: 'send-slot' });
    const header = S.build === '2026'
      ? el('header', {}, el('div', { class: 'chat-title' }, el('span', { dir: 'auto' }, FakeDraw.phone(phone))))
      : el('header', {}, el('span', { title: '+' + phone, dir: 'auto' }, '+' + phone));
    // The attach button (fact 19) opens the attach menu.
    const attach = variant === 'attach-icon'
      ? el('button', { type: 'button', class: 'attach', 'aria-label': 'Attach', onmousedown: keepFocus, onclick: toggleMenu }, icon('wds-ic-plus-filled', 'wds-ic-plus-filled'))
      : el('button', { type: 'button', class: 'attach', 'aria-label': 'Attach', title: 'Attach', onmousedown: keepFocus, onclick: toggleMenu }, icon('plus-rounded', 'wds-ic-plus-rounded'));
    const barKids = [attach, el('div', { class: 'compose' }, box), sendSlot];
    const bar = variant === 'compose-wrapper'
      ? el('div', { class: 'compose-bar', 'data-testid': 'compose-panel' }, ...barKids)
      : el('footer', { class: 'compose-bar' }, ...barKids);
    const main = el('div', { id: 'main' }, header, msgs, bar);
    const chat = { ...who, msgs, main, box, menu: null, preview: null };
    S.chat = chat;
    S.editor = null;
    S.bubbles.clear();
    selectChat(phone);
    // The send button shows while the box has text (fact 8), the voice
    // button otherwise.
    const sendButton = () => (variant === 'send-icon'
      ? el('div', { role: 'button', tabindex: '0', 'aria-label': 'Send message', onmousedown: keepFocus, onclick: sendNow }, icon('wds-ic-send-filled-2', 'wds-ic-send-filled-2'))
      : el('button', { type: 'button', 'aria-label': 'Send', onmousedown: keepFocus, onclick: sendNow }, icon('send', 'wds-ic-send-filled')));
    let shown = '';
    const updateButton = (has) => {
      if (has && shown !== 'send') {
        shown = 'send';
        sendSlot.replaceChildren(sendButton());
      } else if (!has && shown !== 'voice') {
        shown = 'voice';
        sendSlot.replaceChildren(el('button', { type: 'button', 'aria-label': 'Voice message' }, icon('ptt', 'wds-ic-mic-filled')));
      }
    };
    updateButton(false);
    const openedAt = performance.now();
    main.__fakeOpenedAt = openedAt; // for tests: the open's timers start now
    const loadMessages = () => {
      if (S.chat !== chat) return; // another chat opened meanwhile
      const late = performance.now() - openedAt;
      for (const m of messages) addBubble(late > 0 ? aged(m, late) : m);
      msgs.scrollTop = msgs.scrollHeight;
    };
    const goLive = () => {
      if (S.chat !== chat) return;
      const editor = makeEditor(text, box);
      editor.onChange = () => updateButton(editor.text().trim() !== '');
      editor.onEnter = sendNow;
      S.editor = editor;
      editor.onChange();
      if (delayMs > 0) main.setAttribute('data-fake-editor-live', 'true');
    };
    if (delayMs > 0) {
      main.setAttribute('data-fake-editor-delay-ms', String(delayMs));
      main.setAttribute('data-fake-editor-live', 'false');
    }
    S.mainWrap.replaceChildren(main);
    for (const m of messages) trackAcks(m); // the page follows their acks from now, drawn or not
    if (delayMs > 0) {
      later(loadMessages, delayMs / 2);
      later(goLive, delayMs);
    } else {
      loadMessages();
      goLive();
    }
    box.focus();
  }
  // aged is m as the server's answer would give it ms later.
  function aged(m, ms) {
    const check = Math.max(0, m.check_in_ms - ms);
    const dbl = Math.max(0, m.dblcheck_in_ms - ms);
    const ack = Math.max(m.ack, dbl === 0 ? 2 : check === 0 ? 1 : 0);
    return { ...m, ack, check_in_ms: check, dblcheck_in_ms: dbl };
  }

  // icon is an icon as the build draws it: span[data-icon] in the default
  // build, an svg marked by its title in the 2026 build (fact 20).
  function icon(dataIcon, svgTitle) {
    return S.build === '2026'
      ? el('span', { 'aria-hidden': 'true' }, FakeDraw.icon(svgTitle, 24))
      : el('span', { 'data-icon': dataIcon });
  }
  const keepFocus = (e) => e.preventDefault(); // a click on a button leaves the caret where it is

  // ---- attaching files (fact 19) ----
  const MAX_UPLOAD = 100 * 1024 * 1024; // fakewa.MaxUpload
  const PHOTOS_ACCEPT = 'image/*,video/mp4,video/3gpp,video/quicktime';
  // toggleMenu opens the attach menu of the open chat, or closes it. Its
  // items hold hidden file inputs; files set on one (a click on the item
  // opens the system's dialog; CDP sets them with no dialog) open the
  // preview and close the menu. A click outside it or Escape closes it.
  function toggleMenu() {
    const chat = S.chat;
    if (!chat) return;
    if (chat.menu) { closeMenu(chat); return; }
    const item = (label, dataIcon, svgTitle, accept, asDocument) => {
      const input = el('input', { type: 'file', accept, multiple: true, style: 'display: none' });
      input.addEventListener('change', () => {
        const files = [...input.files];
        closeMenu(chat);
        if (files.length) openPreview(chat, files, asDocument);
      });
      return el('li', { role: 'button', tabindex: '0', class: 'menu-item', onclick: (e) => { if (e.target !== input) input.click(); } },
        icon(dataIcon, svgTitle), el('span', { dir: 'auto' }, label), input);
    };
    const menu = el('div', { class: 'attach-menu', role: 'application' }, el('ul', {},
      item('Document', 'document-refreshed', 'wds-ic-document', '*', true),
      item('Photos & videos', 'media-refreshed', 'wds-ic-photos', PHOTOS_ACCEPT, false)));
    const outside = (e) => { if (!menu.contains(e.target) && !e.target.closest('#main .attach')) closeMenu(chat); };
    chat.menu = { node: menu, outside };
    document.addEventListener('mousedown', outside, true);
    chat.main.append(menu);
  }
  function closeMenu(chat) {
    if (!chat.menu) return;
    document.removeEventListener('mousedown', chat.menu.outside, true);
    chat.menu.node.remove();
    chat.menu = null;
  }
  // kindOf says how a file goes out: 'document' (a file card) when set on
  // the documents input or neither a picture nor a video, else 'image' or
  // 'video'.
  function kindOf(type, asDocument) {
    if (asDocument) return 'document';
    if (/^image\//.test(type)) return 'image';
    if (/^video\//.test(type)) return 'video';
    return 'document';
  }
  const typeOf = (f) => f.type || 'application/octet-stream';
  // openPreview shows files over the chat (outside footer) with a caption
  // box, a send button and a close button. The caption box is drawn at
  // once and its editor takes it over after a delay picked from
  // chat.captionMax as a chat open's is (fact 17; at once when the knob is
  // off): text entered before vanishes. Enter in the live box or the send
  // button sends, the caption going with the first file; Escape or the close
  // button discards.
  function openPreview(chat, files, asDocument) {
    if (S.chat !== chat) return;
    if (files.some((f) => f.size > MAX_UPLOAD)) {
      showDialog('The file you tried adding is larger than the 100 MB limit.');
      return;
    }
    closePreview(chat);
    const items = files.map((f) => {
      const kind = kindOf(typeOf(f), asDocument);
      return { file: f, kind, url: kind === 'document' ? '' : URL.createObjectURL(f) };
    });
    const box = el('div', {
      contenteditable: 'true', role: 'textbox', 'data-lexical-editor': 'true', 'aria-label': 'Add a caption',
      'aria-placeholder': 'Add a caption', 'aria-multiline': 'true', spellcheck: 'true', dir: 'auto', tabindex: '0',
    });
    const first = items[0];
    const node = el('div', { class: 'media-preview' },
      el('div', { class: 'preview-head' },
        el('div', { role: 'button', tabindex: '0', 'aria-label': 'Close', class: 'preview-close', onclick: () => closePreview(chat) }, icon('x', 'wds-ic-close')),
        el('span', { dir: 'auto', class: 'preview-name' }, first.file.name)),
      el('div', { class: 'preview-body' }, mediaView({ filename: first.file.name, mime_type: typeOf(first.file), size: first.file.size, kind: first.kind }, first.url),
        items.length > 1 ? el('div', { class: 'preview-more' }, `${items.length} files`) : null),
      el('div', { class: 'preview-foot' },
        el('div', { class: 'caption' }, box),
        el('button', { type: 'button', 'aria-label': 'Send', class: 'preview-send', onmousedown: keepFocus, onclick: () => sendPreview(chat) }, icon('send', 'wds-ic-send-filled'))));
    const p = { node, items, editor: null };
    chat.preview = p;
    const goLive = () => {
      if (chat.preview !== p) return;
      p.editor = makeEditor('', box);
      p.editor.onEnter = () => sendPreview(chat);
      if (delay > 0) node.setAttribute('data-fake-editor-live', 'true');
    };
    const delay = chat.captionMax > 0 ? pickDelay(chat.captionMax) : 0;
    if (delay > 0) {
      node.setAttribute('data-fake-editor-delay-ms', String(delay));
      node.setAttribute('data-fake-editor-live', 'false');
    }
    chat.main.append(node);
    if (delay > 0) later(goLive, delay);
    else goLive();
    box.focus();
  }
  // pickDelay picks an editor delay as the server does for a chat open:
  // uniformly in [limit/4, limit] in whole milliseconds, at least 1.
  function pickDelay(limit) {
    const lo = Math.max(1, Math.floor(limit / 4));
    const hi = Math.max(lo, Math.floor(limit));
    return lo + Math.floor(Math.random() * (hi - lo + 1));
  }
  // closePreview removes the preview; with sent false (a discard) it lets
  // go of its files.
  function closePreview(chat, sent) {
    const p = chat.preview;
    if (!p) return;
    chat.preview = null;
    p.node.remove();
    if (!sent) p.items.forEach((it) => { if (it.url) URL.revokeObjectURL(it.url); });
    if (S.chat === chat) chat.box.focus();
  }
  // sendPreview sends each file of the preview as a message, the caption
  // (what the caption's editor holds, trimmed: nothing while it is not
  // live) with the first.
  function sendPreview(chat) {
    const p = chat.preview;
    if (!p || S.chat !== chat) return;
    const caption = p.editor ? p.editor.text().trim() : '';
    closePreview(chat, true);
    p.items.forEach((it, i) => sendFile(it, i === 0 ? caption : ''));
  }
  addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || !S.chat) return;
    if (S.chat.preview) { e.preventDefault(); closePreview(S.chat); } else if (S.chat.menu) { e.preventDefault(); closeMenu(S.chat); }
  }, true);
  const mediaLabel = (md) => (md.kind === 'document' ? md.filename : md.kind === 'video' ? 'Video' : 'Photo');
  function sendFile(it, caption) {
    const f = it.file;
    const media = { filename: f.name, mime_type: typeOf(f), size: f.size, as_document: it.kind === 'document', kind: it.kind };
    const m = { id: '3EB0' + hex(8), to: S.chat.phone, text: caption, ack: 0, at_ms: Date.now(), media, url: it.url };
    addBubble(m);
    S.pending.add(m.id);
    setBeforeUnload(true);
    bumpChat(m.to, caption || mediaLabel(media));
    postUpload(m, f);
  }
  // postUpload reads the file's bytes (WhatsApp reads them to encrypt
  // them) and posts them with the message; the server answers once the
  // upload is over (Options.UploadPerMiB). Retried as postSend is; a file
  // the page can no longer read leaves the clock.
  async function postUpload(m, file) {
    let body;
    try {
      const bytes = await file.arrayBuffer();
      body = new FormData();
      body.append('meta', JSON.stringify({ id: m.id, to: m.to, caption: m.text, filename: m.media.filename, mime_type: m.media.mime_type, as_document: m.media.as_document }));
      body.append('file', new Blob([bytes], { type: m.media.mime_type }), m.media.filename);
    } catch (e) {
      console.warn('fakewa: the file cannot be read', e);
      return;
    }
    let r;
    try { r = await api('POST', q('/_fakeapi/upload'), body); } catch (e) {
      if (!e.status || e.status >= 500 || e.status === 409) setTimeout(() => postUpload(m, file), 1000);
      return;
    }
    body = null;
    if (r.drawing != null) S.drawing = r.drawing;
    const bubble = S.bubbles.get(m.id);
    if (bubble) drawText(bubble);
    trackAcks(r);
  }
  // mediaView draws a message's file: a file card with its name for a
  // document, else the picture (img) or the video. url is the file's
  // object URL while the page holds it; a chat drawn again from the server
  // shows a placeholder (the server keeps no bytes).
  function mediaView(md, url) {
    const kind = md.kind || (md.as_document ? 'document' : kindOf(md.mime_type, false));
    if (kind === 'image') return el('div', { class: 'media' }, el('img', { class: 'media-img', src: url || PLACEHOLDER, draggable: 'false' }));
    if (kind === 'video') return el('div', { class: 'media' }, url ? el('video', { class: 'media-img', src: url, preload: 'metadata', muted: true }) : el('img', { class: 'media-img', src: PLACEHOLDER, draggable: 'false' }));
    const ext = (md.filename.match(/\.([A-Za-z0-9]{1,8})$/) || [])[1];
    return el('div', { class: 'file-card' }, icon('document', 'wds-ic-document'),
      el('div', { class: 'file-info' },
        el('span', { class: 'file-name', title: md.filename, dir: 'auto' }, md.filename),
        el('span', { class: 'file-meta' }, (ext ? ext.toUpperCase() + ' \u2022 ' : '') + sizeText(md.size))));
  }
  function sizeText(n) {
    if (n < 1024) return n + ' B';
    if (n < 1024 * 1024) return Math.round(n / 1024) + ' kB';
    return (n / 1024 / 1024).toFixed(1) + ' MB';
  }
  const PLACEHOLDER = 'data:image/svg+xml,' + encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" width="240" height="160"><rect width="240" height="160" fill="#d1d7db"/></svg>');

  // ---- bubbles and acks (facts 10, 11, 18, 20) ----
  // addBubble draws an outgoing message. The default build names it
  // "true_<jid>_<id>" and marks its state by a data-icon; the 2026 build
  // names it by its bare id and marks its state only by its status
  // element's aria-label, over an svg (fact 20). Its text is drawn as fact
  // 18 says, or in the unknown drawing: as S.drawing (Options.Drawing, which
  // the page learns from its server's answers) says. In the chat's
  // bubble-text variant its div.copyable-text carries data-pre-plain-text-v2
  // instead of data-pre-plain-text. A message with a file (fact 19) shows
  // it above its caption; one with no caption has no text element.
  function addBubble(m) {
    if (!S.chat || S.chat.phone !== m.to) return;
    const at = new Date(m.at_ms);
    const b26 = S.build === '2026';
    const status = el('span', {});
    drawStatus(status, m.ack);
    let textEl = null;
    if (m.text !== '') textEl = b26 ? el('span', { class: 'msg-text', dir: 'auto' }) : el('span', { class: 'selectable-text copyable-text', dir: 'auto' });
    const bubble = { status, ack: m.ack, textEl, text: m.text, drawing: null };
    S.bubbles.set(m.id, bubble);
    drawText(bubble);
    S.chat.msgs.append(el('div', { role: 'row', class: 'msg-row' },
      el('div', { class: 'message-out', 'data-id': b26 ? m.id : `true_${S.chat.jid}_${m.id}` },
        m.media ? mediaView(m.media, m.url) : null,
        textEl ? el('div', { class: 'copyable-text', [S.chat.variant === 'bubble-text' ? 'data-pre-plain-text-v2' : 'data-pre-plain-text']: prePlain(at) }, el('div', {}, textEl)) : null,
        el('div', { class: 'meta' }, el('span', {}, `${pad2(at.getHours())}:${pad2(at.getMinutes())}`), status))));
    S.chat.msgs.scrollTop = S.chat.msgs.scrollHeight;
  }
  const ackIcon = (a) => (a >= 2 ? 'msg-dblcheck' : a === 1 ? 'msg-check' : 'msg-time');
  const ackLabel = (a) => (a >= 2 ? ' Delivered ' : a === 1 ? ' Sent ' : ' Pending ');
  const ackSvg = (a) => (a >= 2 ? 'wds-ic-double-check' : a === 1 ? 'wds-ic-check' : 'wds-ic-clock');
  // drawText draws a bubble's text in the drawing in force, if it is not
  // drawn so yet.
  function drawText(bubble) {
    if (!bubble.textEl || bubble.drawing === S.drawing) return;
    bubble.drawing = S.drawing;
    bubble.textEl.replaceChildren(...(S.drawing === 'unknown' ? FakeDraw.unknownText(bubble.text) : FakeDraw.text(bubble.text)));
  }
  function drawStatus(e, ack) {
    e.setAttribute('aria-label', ackLabel(ack));
    if (S.build === '2026') e.replaceChildren(FakeDraw.icon(ackSvg(ack), 16));
    else e.setAttribute('data-icon', ackIcon(ack));
  }
  function setAck(id, ack) {
    if (ack >= 1) S.pending.delete(id);
    setBeforeUnload(S.pending.size > 0);
    const b = S.bubbles.get(id);
    if (b && b.ack < ack) {
      b.ack = ack;
      drawStatus(b.status, ack);
    }
  }
  // trackAcks schedules the acks the server announced for m.
  function trackAcks(m) {
    if (m.ack < 1) {
      S.pending.add(m.id);
      setBeforeUnload(true);
      setTimeout(() => setAck(m.id, 1), m.check_in_ms);
    }
    if (m.ack < 2) setTimeout(() => setAck(m.id, 2), m.dblcheck_in_ms);
  }
  function onBeforeUnload(e) { e.preventDefault(); e.returnValue = ''; return ''; }
  function setBeforeUnload(on) {
    if (on && !S.beforeUnloadOn) addEventListener('beforeunload', onBeforeUnload);
    if (!on && S.beforeUnloadOn) removeEventListener('beforeunload', onBeforeUnload);
    S.beforeUnloadOn = on;
  }
  function sendNow() {
    const ed = S.editor;
    if (!ed || !S.chat) return;
    const text = ed.text().trim();
    if (!text) return;
    ed.set('');
    const m = { id: '3EB0' + hex(8), to: S.chat.phone, text, ack: 0, at_ms: Date.now() };
    addBubble(m);
    S.pending.add(m.id);
    setBeforeUnload(true);
    bumpChat(m.to, text);
    postSend(m);
    ed.node.focus();
  }
  async function postSend(m) {
    let r;
    try { r = await api('POST', q('/_fakeapi/send'), { id: m.id, to: m.to, text: m.text }); } catch (e) {
      if (!e.status || e.status >= 500 || e.status === 409) setTimeout(() => postSend(m), 1000); // retried until the server has it
      return; // other refusals: the clock stays
    }
    // The server names the drawing in force: a change since the bubble was
    // drawn shows in it before its first ack.
    if (r.drawing != null) S.drawing = r.drawing;
    const bubble = S.bubbles.get(m.id);
    if (bubble) drawText(bubble);
    trackAcks(r);
  }

  // ---- the compose box (fact 7): a Lexical-like editor ----
  // composeBox is the box as drawn, before an editor owns it: a plain
  // contenteditable.
  function composeBox() {
    return el('div', {
      contenteditable: 'true', role: 'textbox', 'data-lexical-editor': 'true', 'data-tab': '10', tabindex: '10',
      'aria-label': 'Type a message', 'aria-placeholder': 'Type a message', 'aria-multiline': 'true', spellcheck: 'true', dir: 'auto',
    });
  }
  // makeEditor takes node (a composeBox) over, like Lexical its root element:
  // it draws its model (initial) over whatever node holds. The model (text
  // and caret) changes only through beforeinput events and Enter/Shift+Enter
  // keydowns; the DOM is drawn from the model, and any other change to the
  // DOM (textContent = ...) is drawn over.
  function makeEditor(initial, node) {
    const model = { text: initial || '', caret: (initial || '').length };
    const ed = { node, onChange: () => {}, onEnter: () => {}, text: () => model.text };
    let rendering = false;
    let swallowBreak = false; // the char event CDP sends after an Enter keyDown that sent
    const observer = new MutationObserver(() => { if (!rendering) render(); });

    function render() {
      rendering = true;
      const p = el('p', { class: 'selectable-text copyable-text', dir: 'auto' });
      model.text.split('\n').forEach((line, i) => {
        if (i > 0) p.append(el('br'));
        if (line) p.append(el('span', { 'data-lexical-text': 'true' }, line));
      });
      if (model.text === '' || model.text.endsWith('\n')) p.append(el('br', { 'data-trail': '1' }));
      node.replaceChildren(p);
      if (document.activeElement === node) placeCaret();
      observer.takeRecords();
      rendering = false;
    }
    // toOffset maps a DOM point inside the editor to a model offset, or null.
    function toOffset(n, off) {
      const p = node.firstChild;
      if (!p) return null;
      if (n === node) return off === 0 ? 0 : model.text.length;
      let acc = 0;
      for (let i = 0; i < p.childNodes.length; i++) {
        const c = p.childNodes[i];
        if (n === p && off === i) return acc;
        const br = c.nodeName === 'BR';
        const len = br ? (c.dataset.trail ? 0 : 1) : c.textContent.length;
        if (c === n || c.contains(n)) {
          if (n.nodeType === Node.TEXT_NODE) return acc + Math.min(off, len);
          return acc + (off > 0 ? len : 0);
        }
        acc += len;
      }
      return n === p ? acc : null;
    }
    function toDom(o) {
      const p = node.firstChild;
      let acc = 0;
      for (let i = 0; i < p.childNodes.length; i++) {
        const c = p.childNodes[i];
        if (c.nodeName === 'BR') {
          if (o === acc) return [p, i];
          if (!c.dataset.trail) acc += 1;
          continue;
        }
        const len = c.textContent.length;
        if (o <= acc + len) return [c.firstChild, o - acc];
        acc += len;
      }
      return [p, p.childNodes.length];
    }
    function placeCaret() {
      const [n, off] = toDom(Math.min(model.caret, model.text.length));
      const sel = getSelection();
      if (sel) sel.setBaseAndExtent(n, off, n, off);
    }
    function rangeFrom(r) {
      if (!r) return null;
      const a = toOffset(r.startContainer, r.startOffset);
      const b = toOffset(r.endContainer, r.endOffset);
      return a == null || b == null ? null : [Math.min(a, b), Math.max(a, b)];
    }
    function selectionRange() {
      const sel = getSelection();
      return (sel && sel.rangeCount && rangeFrom(sel.getRangeAt(0))) || [model.caret, model.caret];
    }
    function apply([a, b], s) {
      model.text = model.text.slice(0, a) + s + model.text.slice(b);
      model.caret = a + s.length;
      render();
      ed.onChange();
    }
    // One code point (a surrogate pair counts as one) before or after o.
    function prevPoint(o) {
      if (o <= 0) return 0;
      const c = model.text.charCodeAt(o - 1);
      return c >= 0xdc00 && c <= 0xdfff && o >= 2 ? o - 2 : o - 1;
    }
    function nextPoint(o) {
      if (o >= model.text.length) return o;
      const c = model.text.charCodeAt(o);
      return c >= 0xd800 && c <= 0xdbff ? o + 2 : o + 1;
    }

    node.addEventListener('beforeinput', (e) => {
      e.preventDefault();
      const t = e.inputType;
      const targets = e.getTargetRanges ? e.getTargetRanges() : [];
      const range = (targets.length && rangeFrom(targets[0])) || selectionRange();
      if (t === 'insertParagraph' || t === 'insertLineBreak') {
        if (swallowBreak) { swallowBreak = false; return; }
        apply(range, '\n');
      } else if (t.startsWith('insert')) {
        let data = e.data;
        if (data == null && e.dataTransfer) data = e.dataTransfer.getData('text/plain');
        if (data) apply(range, data.replace(/\r\n?/g, '\n'));
      } else if (t.startsWith('delete')) {
        let [a, b] = range;
        if (a === b) {
          if (/Backward$/.test(t)) a = prevPoint(a);
          else if (/Forward$/.test(t)) b = nextPoint(b);
        }
        if (a !== b) apply([a, b], '');
      }
      // formatting and history inputs change nothing
    });
    node.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter' || e.isComposing) return;
      e.preventDefault();
      if (e.shiftKey) { apply(selectionRange(), '\n'); return; } // like Lexical: the line break is made on keydown
      swallowBreak = true;
      ed.onEnter();
    });
    node.addEventListener('keyup', (e) => { if (e.key === 'Enter') swallowBreak = false; });
    node.addEventListener('focus', () => placeCaret());
    // syncCaret follows the caret the user moves (arrows, clicks).
    ed.syncCaret = () => {
      if (rendering || document.activeElement !== node) return;
      const sel = getSelection();
      if (!sel || !sel.rangeCount || !sel.isCollapsed) return;
      const o = toOffset(sel.focusNode, sel.focusOffset);
      if (o != null) model.caret = o;
    };
    observer.observe(node, { childList: true, subtree: true, characterData: true });
    ed.set = (text) => { model.text = text; model.caret = text.length; render(); ed.onChange(); };
    render();
    return ed;
  }

  document.addEventListener('selectionchange', () => {
    if (S.editor) S.editor.syncCaret();
    const p = S.chat && S.chat.preview;
    if (p && p.editor) p.editor.syncCaret();
  });
  boot();
})();
