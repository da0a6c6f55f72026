// fakewa's drawing of a bubble's text (fact 18) and its unknown drawing
// (Options.Drawing "unknown"), and what the 2026 build draws differently
// (fact 20): icons as svg elements and numbers formatted for people. app.js
// uses FakeDraw; the const is shared by the page's scripts, not a property
// of window.
'use strict';
const FakeDraw = (() => {
  // WhatsApp's formatting markers. ``` comes first: its marker starts with
  // no other's. Monospace may span lines and holds no other format.
  const FORMATS = [
    { mark: '```', tag: 'code', tpl: '```${appText}```', lines: true, plain: true },
    { mark: '*', tag: 'strong', tpl: '*${appText}*' },
    { mark: '_', tag: 'em', tpl: '_${appText}_' },
    { mark: '~', tag: 'del', tpl: '~${appText}~' },
  ];
  // EDGE is what may stand before an opening marker and after a closing one,
  // besides the start and the end of the text: white space, punctuation and
  // symbols (the markers among them, so that formats nest: `*_a_*`), and
  // the marks that end an emoji (so `❤️*a*` is bold, as `🎉*a*` is).
  // Letters and digits may not: `2*3*4` and `snake_case_name` stay as typed.
  const EDGE = /^[\s\p{P}\p{S}\uFE0F\u200D\u20E3]$/u;
  const SPACE = /^\s$/u;
  // A link starts with http://, https:// or www. after the start of the
  // text or a character that is no letter or digit, and runs to the next
  // white space; trailing punctuation and markers are not part of it.
  const LINK = /(?:https?:\/\/|www\.)[^\s<>]+/giu;
  const LINK_TAIL = /[.,;:!?'"*_~`]$/u;
  const SEGMENTER = new Intl.Segmenter('en', { granularity: 'grapheme' });
  const RGI = /^\p{RGI_Emoji}$/v;

  // cpBefore and cpAt return the code point that ends before s[i] and the
  // one that starts at s[i] ('' at the edges of s).
  function cpBefore(s, i) {
    if (i <= 0) return '';
    const c = s.charCodeAt(i - 1);
    return c >= 0xdc00 && c <= 0xdfff && i >= 2 ? s.slice(i - 2, i) : s[i - 1];
  }
  const cpAt = (s, i) => (i < s.length ? String.fromCodePoint(s.codePointAt(i)) : '');

  // isEmoji: a whole grapheme cluster that WhatsApp draws as an emoji image:
  // an RGI emoji (ZWJ sequences, skin tones, flags, keycaps included), or a
  // sequence this browser's tables do not know yet that is plainly one.
  function isEmoji(g) {
    return RGI.test(g) ||
      (/\p{Extended_Pictographic}/u.test(g) && /[\u200d\ufe0f\u{1f3fb}-\u{1f3ff}]/u.test(g)) ||
      /^\p{Regional_Indicator}{2}$/u.test(g) || /^[0-9#*]\ufe0f?\u20e3$/u.test(g);
  }

  function findLinks(s) {
    const out = [];
    for (const m of s.matchAll(LINK)) {
      if (m.index > 0 && /[\p{L}\p{N}]/u.test(cpBefore(s, m.index))) continue;
      let t = m[0];
      for (;;) {
        if (LINK_TAIL.test(t)) { t = t.slice(0, -1); continue; }
        const last = t[t.length - 1];
        const open = { ')': '(', ']': '[' }[last];
        if (open && t.split(last).length > t.split(open).length) { t = t.slice(0, -1); continue; }
        break;
      }
      if (/^(?:https?:\/\/|www\.)./iu.test(t)) out.push({ start: m.index, end: m.index + t.length });
    }
    return out;
  }

  // parse reads s into a tree: {text}, {emoji}, {link} and {f, kids} (a
  // format and what it holds). Markers count only at word edges: an opening
  // one after the start, white space or punctuation and before a character
  // that is not white space; the nearest closing one after a character that
  // is not white space and before the end, white space or punctuation. A
  // format other than monospace ends at the line's end. Markers inside a
  // link do not count.
  function parse(s) {
    const links = findLinks(s);
    const linkAt = (i) => links.find((l) => l.start <= i && i < l.end);
    const opens = (f, i) => s.startsWith(f.mark, i) && (i === 0 || EDGE.test(cpBefore(s, i))) &&
      i + f.mark.length < s.length && !SPACE.test(cpAt(s, i + f.mark.length));
    const closes = (f, j) => s.startsWith(f.mark, j) && !SPACE.test(cpBefore(s, j)) &&
      (j + f.mark.length === s.length || EDGE.test(cpAt(s, j + f.mark.length)));
    function closer(f, from, to) {
      for (let j = from + 1; j + f.mark.length <= to; j++) {
        if (!f.lines && s[j] === '\n') return -1;
        const l = linkAt(j);
        if (l) { j = l.end - 1; continue; }
        if (closes(f, j)) return j;
      }
      return -1;
    }
    // plain adds s[a:b] to out as text, emoji and (withLinks) links.
    function plain(a, b, out, withLinks) {
      let i = a;
      while (i < b) {
        const link = withLinks ? links.find((l) => l.start >= i && l.start < b) : null;
        const end = link ? link.start : b;
        for (const { segment: g } of SEGMENTER.segment(s.slice(i, end))) {
          const last = out[out.length - 1];
          if (isEmoji(g)) out.push({ emoji: g });
          else if (last && last.text != null) last.text += g;
          else out.push({ text: g });
        }
        if (!link) break;
        out.push({ link: s.slice(link.start, link.end) });
        i = link.end;
      }
      return out;
    }
    function inline(from, to) {
      const out = [];
      let lit = from;
      let i = from;
      outer: while (i < to) {
        const l = linkAt(i);
        if (l) { i = l.end; continue; }
        for (const f of FORMATS) {
          if (!opens(f, i)) continue;
          const a = i + f.mark.length;
          const j = closer(f, a, to);
          if (j < 0) continue;
          plain(lit, i, out, true);
          out.push({ f, kids: f.plain ? plain(a, j, [], false) : inline(a, j) });
          i = lit = j + f.mark.length;
          continue outer;
        }
        i++;
      }
      plain(lit, to, out, true);
      return out;
    }
    return inline(0, s.length);
  }

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    e.append(...kids);
    return e;
  }
  // emojiImage is an image of the emoji g, as WhatsApp draws its own.
  function emojiImage(g) {
    return 'data:image/svg+xml,' + encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 20 20">' +
      '<text x="10" y="16" font-size="16" text-anchor="middle">' + g + '</text></svg>');
  }
  const href = (t) => (/^www\./i.test(t) ? 'http://' + t : t);

  // draw renders a tree as fact 18 says: formats as elements that hold
  // their text without the markers and carry them in
  // data-app-text-template, emoji as img[alt], links as a elements holding
  // the link's text; newlines stay in the text (the bubble's white-space is
  // pre-wrap, so innerText keeps them).
  function draw(nodes) {
    return nodes.map((n) => {
      if (n.text != null) return document.createTextNode(n.text);
      if (n.emoji) return el('img', { alt: n.emoji, src: emojiImage(n.emoji), draggable: 'false', class: 'emoji' });
      if (n.link) return el('a', { href: href(n.link), title: href(n.link), target: '_blank', rel: 'noopener noreferrer' }, n.link);
      return el(n.f.tag, { 'data-app-text-template': n.f.tpl }, ...draw(n.kids));
    });
  }

  // drawUnknown renders a tree in a way the contract does not describe
  // (Options.Drawing "unknown"): formats as elements with no template, emoji
  // as span[role=img][aria-label] drawn by a background image, links as
  // plain text, and every run of other characters between white space,
  // formats and emoji as its own span preceded by a U+200B text node.
  function drawUnknown(nodes) {
    const out = [];
    for (const n of nodes) {
      const t = n.text != null ? n.text : n.link;
      if (t != null) {
        for (const part of t.split(/(\s+)/u)) {
          if (!part) continue;
          if (/^\s+$/u.test(part)) out.push(document.createTextNode(part));
          else out.push(document.createTextNode('\u200b'), el('span', {}, part));
        }
      } else if (n.emoji) {
        out.push(el('span', { role: 'img', 'aria-label': n.emoji, class: 'emoji-bg', style: `background-image: url("${emojiImage(n.emoji)}")` }));
      } else {
        out.push(el(n.f.tag, {}, ...drawUnknown(n.kids)));
      }
    }
    return out;
  }

  // Icons of the 2026 build: inline svg elements whose only mark is their
  // title (fact 20). The status icons name their glyph, not the state.
  const PATHS = {
    'wds-ic-send-filled': 'M3 20.5 21 12 3 3.5V10l12 2-12 2z',
    'wds-ic-send-filled-2': 'M2.5 21 22 12 2.5 3 4.6 10.5 14 12l-9.4 1.5z',
    'wds-ic-plus-rounded': 'M12 4.5a1.25 1.25 0 0 1 1.25 1.25v5h5a1.25 1.25 0 0 1 0 2.5h-5v5a1.25 1.25 0 0 1-2.5 0v-5h-5a1.25 1.25 0 0 1 0-2.5h5v-5A1.25 1.25 0 0 1 12 4.5z',
    'wds-ic-plus-filled': 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 5v4h4v2h-4v4h-2v-4H7v-2h4V7z',
    'wds-ic-mic-filled': 'M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1a7 7 0 0 0 6-6.9z',
    'wds-ic-close': 'M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12 19 6.4 17.6 5 12 10.6z',
    'wds-ic-document': 'M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V9h5.5z',
    'wds-ic-photos': 'M4 4h16a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm0 13h16l-5-6.5-4 5-2.5-3z',
    'wds-ic-clock': 'M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zm0 1.5a5 5 0 1 1 0 10A5 5 0 0 1 8 3zm-.75 1.5v4l3 2 .8-1.2-2.3-1.6V4.5z',
    'wds-ic-check': 'M5.8 11.2 2.4 7.8l-1 1 4.4 4.4 8.8-8.8-1-1z',
    'wds-ic-double-check': 'M.5 8.3l1-1 3.4 3.4 7.6-7.6 1 1-8.6 8.6zm6.6 2.4 1 1 7.4-7.4-1-1z',
  };
  function icon(name, size) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    const vb = /^wds-ic-(send|mic|plus|close|document|photos)/.test(name) ? 24 : 16;
    for (const [k, v] of Object.entries({ viewBox: `0 0 ${vb} ${vb}`, width: size, height: size, preserveAspectRatio: 'xMidYMid meet', fill: 'none' })) svg.setAttribute(k, v);
    const title = document.createElementNS(ns, 'title');
    title.textContent = name;
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', PATHS[name]);
    path.setAttribute('fill', 'currentColor');
    svg.append(title, path);
    return svg;
  }

  // Country calling codes of two digits (one: 1 and 7; the rest: three).
  const CC2 = new Set(('20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 ' +
    '60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98').split(' '));
  // phone formats a number's digits for people, as the 2026 build's header
  // shows it: "15550002222" → "+1 555-000-2222", "447700900123" →
  // "+44 770 090 0123".
  function phone(d) {
    if (/^1\d{10}$/.test(d)) return `+1 ${d.slice(1, 4)}-${d.slice(4, 7)}-${d.slice(7)}`;
    const n = d[0] === '7' ? 1 : CC2.has(d.slice(0, 2)) ? 2 : 3;
    const cc = d.slice(0, n);
    let rest = d.slice(n);
    const groups = [];
    while (rest.length > 4) { groups.push(rest.slice(0, 3)); rest = rest.slice(3); }
    if (rest) groups.push(rest);
    return `+${cc} ${groups.join(' ')}`;
  }

  return {
    // text returns the nodes of a bubble's text as fact 18 draws it.
    text: (s) => draw(parse(s)),
    // unknownText returns the nodes of the unknown drawing: one new span
    // wrapping drawUnknown's nodes.
    unknownText: (s) => [el('span', { class: 'rt' }, ...drawUnknown(parse(s)))],
    icon,
    phone,
  };
})();
