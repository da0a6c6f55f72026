// wapool console: live tables, the link stream, screenshots.
// No framework and no build step; loaded with "defer" from every page. The
// page says what it is in <body data-page data-tenant data-refresh-ms>, and
// the session's CSRF token is in <meta name="csrf-token">. Text goes into the
// page with textContent only, never as HTML.
(function () {
  'use strict';

  var body = document.body;
  var page = body.dataset.page;
  var tenant = body.dataset.tenant || '';
  var refreshMS = Number(body.dataset.refreshMs) || 1000;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : '';

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function show(e, on) { if (e) e.hidden = !on; }

  // live shows whether the last poll worked.
  function live(ok, msg) {
    var l = $('live');
    if (!l) return;
    l.textContent = ok ? 'live · ' + new Date().toLocaleTimeString() : (msg || 'connection lost');
    l.className = ok ? 'live' : 'live live-lost';
  }

  function getJSON(url) {
    return fetch(url, { headers: { 'Accept': 'application/json' }, cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) {
        if (r.status === 401) {
          location.assign('/login?next=' + encodeURIComponent(location.pathname));
          throw new Error('signed out');
        }
        return r.json().then(function (j) {
          if (!r.ok) throw new Error(j.error || r.statusText);
          return j;
        });
      });
  }

  // every runs fn now and then every refreshMS after the previous run ended.
  function every(fn) {
    function tick() {
      fn().then(function () { live(true); }, function (e) { live(false, String(e.message || e)); })
        .then(function () { setTimeout(tick, refreshMS); });
    }
    tick();
  }

  function setError(msg) {
    var e = $('error');
    if (!e) return;
    e.textContent = msg || '';
    show(e, !!msg);
  }

  // --- Sessions ---

  function sessionRow(s) {
    var tr = el('tr');
    tr.dataset.tenant = s.tenant_id;
    var a = el('a', '', s.tenant_id);
    a.href = '/t/' + encodeURIComponent(s.tenant_id);
    var td = el('td'); td.appendChild(a); tr.appendChild(td);
    td = el('td'); td.appendChild(el('span', s.state_class, s.state)); tr.appendChild(td);
    tr.appendChild(el('td', '', s.phone || '—'));
    tr.appendChild(el('td', 'num', s.queued));
    tr.appendChild(el('td', 'num', s.restarts));
    tr.appendChild(el('td', 'num', s.memory));
    tr.appendChild(el('td', '', s.last_active_text));
    tr.appendChild(el('td', 'lasterror', s.last_error));
    return tr;
  }

  function sessionsPage() {
    var tbody = document.querySelector('#sessions tbody');
    every(function () {
      return getJSON('/api/sessions').then(function (j) {
        setError('');
        var rows = j.sessions.map(sessionRow);
        if (rows.length === 0) {
          var tr = el('tr', 'empty'), td = el('td', '', 'No tenant yet: open one above and link it.');
          td.colSpan = 8; tr.appendChild(td); rows = [tr];
        }
        tbody.replaceChildren.apply(tbody, rows);
      });
    });
  }

  // --- One tenant ---

  function messageRow(m) {
    var tr = el('tr');
    tr.appendChild(el('td', 'mono', m.id));
    tr.appendChild(el('td', '', m.to));
    tr.appendChild(el('td', '', m.file));
    var td = el('td'); td.appendChild(el('span', m.state_class, m.state)); tr.appendChild(td);
    td = el('td', '', m.created_ago); td.title = m.created; tr.appendChild(td);
    tr.appendChild(el('td', '', m.sent));
    tr.appendChild(el('td', 'num', m.attempts));
    tr.appendChild(el('td', '', [m.error_reason, m.error].filter(Boolean).join(': ')));
    return tr;
  }

  function applyTenant(st) {
    var state = $('state');
    if (st.exists) {
      var s = st.session;
      state.textContent = s.state;
      state.className = s.state_class;
      document.querySelectorAll('[data-field]').forEach(function (d) {
        var v = s[d.dataset.field];
        d.textContent = (v === undefined || v === null || v === '') ? '—' : String(v);
      });
    } else {
      state.textContent = 'NEW';
      state.className = 'state';
    }
    show($('new-note'), !st.exists);
    show($('logout-card'), st.exists);
    var tbody = document.querySelector('#messages tbody');
    var rows = st.messages.map(messageRow);
    if (rows.length === 0) {
      var tr = el('tr', 'empty'), td = el('td', '', 'No message yet.');
      td.colSpan = 8; tr.appendChild(td); rows = [tr];
    }
    tbody.replaceChildren.apply(tbody, rows);
  }

  function refreshTenant() {
    return getJSON('/api/tenants/' + encodeURIComponent(tenant)).then(function (st) {
      setError(st.error || '');
      applyTenant(st);
    });
  }

  // The link stream: POST /t/{id}/link answers with one JSON event per line
  // for as long as the attempt lasts. Aborting the fetch ends the attempt.
  var linkAbort = null;

  function linkStatus(msg, isError) {
    var p = $('link-status');
    p.textContent = msg;
    p.className = isError ? 'error' : '';
  }

  function onLinkEvent(ev) {
    var qr = $('qr'), pc = $('pairing-code');
    switch (ev.type) {
      case 'waiting':
        linkStatus('Starting the tenant\'s page and waiting for its code…');
        break;
      case 'qr':
        qr.src = 'data:image/png;base64,' + ev.png;
        qr.dataset.code = ev.code;
        qr.dataset.seq = String(ev.seq);
        show(qr, true); show(pc, false);
        linkStatus('Scan this code with WhatsApp on the phone (code ' + ev.seq + ', valid for about ' +
          Math.round(ev.valid_for_ms / 1000) + ' s; a new one follows when it expires).');
        refreshTenant().catch(function () {});
        break;
      case 'pairing':
        pc.textContent = ev.code;
        pc.dataset.code = ev.code;
        show(pc, true); show(qr, false);
        linkStatus('On the phone: Linked devices → Link a device → Link with phone number instead, then enter this code (valid for about ' +
          Math.round(ev.valid_for_ms / 60000) + ' min).');
        refreshTenant().catch(function () {});
        break;
      case 'linked':
        show(qr, false); show(pc, false);
        qr.removeAttribute('src'); delete qr.dataset.code;
        linkStatus(ev.already_linked ? 'Already linked' + (ev.phone ? ' to ' + ev.phone : '') + '.'
          : 'Linked' + (ev.phone ? ' to ' + ev.phone : '') + '.');
        $('link-view').dataset.result = 'linked';
        refreshTenant().catch(function () {});
        break;
      case 'error':
        show(qr, false); show(pc, false);
        linkStatus(ev.error || 'The link failed.', true);
        $('link-view').dataset.result = 'error';
        break;
    }
  }

  function setLinking(on) {
    document.querySelectorAll('.link-form button').forEach(function (b) { b.disabled = on; });
    $('link-stop').disabled = !on;
  }

  function startLink(form) {
    if (linkAbort) linkAbort.abort();
    var ctl = new AbortController();
    linkAbort = ctl;
    var view = $('link-view');
    delete view.dataset.result;
    show(view, true); show($('qr'), false); show($('pairing-code'), false);
    linkStatus('Starting…');
    setLinking(true);
    var buf = '';
    var dec = new TextDecoder();
    function lines(final) {
      var i;
      while ((i = buf.indexOf('\n')) >= 0) {
        var line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) onLinkEvent(JSON.parse(line));
      }
      if (final && buf.trim()) { onLinkEvent(JSON.parse(buf)); buf = ''; }
    }
    fetch(form.action, {
      method: 'POST',
      body: new URLSearchParams(new FormData(form)),
      headers: { 'X-CSRF-Token': csrf, 'Accept': 'application/x-ndjson' },
      credentials: 'same-origin',
      signal: ctl.signal
    }).then(function (r) {
      if (r.status === 401) { location.assign('/login?next=' + encodeURIComponent(location.pathname)); return; }
      var reader = r.body.getReader();
      function pump() {
        return reader.read().then(function (x) {
          if (x.done) {
            buf += dec.decode(); lines(true);
            if (!view.dataset.result) linkStatus('The link ended before the phone linked: start it again.', true);
            return;
          }
          buf += dec.decode(x.value, { stream: true });
          lines(false);
          return pump();
        });
      }
      return pump();
    }).catch(function (e) {
      if (e.name === 'AbortError') linkStatus('Stopped.');
      else linkStatus('The link stream broke: ' + (e.message || e), true);
    }).then(function () {
      if (linkAbort === ctl) { linkAbort = null; setLinking(false); }
    });
  }

  // The screenshot arrives as a blob: the img shows it through a blob: URL,
  // and an error's text can be read and shown.
  var shotURL = null;

  function takeScreenshot() {
    var btn = $('shot-btn'), img = $('shot'), status = $('shot-status');
    btn.disabled = true;
    status.textContent = 'Taking a screenshot…'; status.className = 'note'; show(status, true);
    fetch(btn.dataset.src, { cache: 'no-store', credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { throw new Error(t || r.statusText); });
      return r.blob();
    }).then(function (b) {
      if (shotURL) URL.revokeObjectURL(shotURL);
      shotURL = URL.createObjectURL(b);
      img.src = shotURL;
      show(img, true);
      status.textContent = 'Taken at ' + new Date().toLocaleTimeString() + '.';
    }).catch(function (e) {
      status.textContent = String(e.message || e);
      status.className = 'error';
    }).then(function () { btn.disabled = false; });
  }

  function tenantPage() {
    // A read-only token's page has no link, screenshot or logout card.
    document.querySelectorAll('form.link-form').forEach(function (f) {
      f.addEventListener('submit', function (e) { e.preventDefault(); startLink(f); });
    });
    if ($('link-stop')) $('link-stop').addEventListener('click', function () { if (linkAbort) linkAbort.abort(); });
    if ($('shot-btn')) $('shot-btn').addEventListener('click', takeScreenshot);
    every(refreshTenant);
  }

  if (page === 'sessions') sessionsPage();
  else if (page === 'tenant') tenantPage();
})();
