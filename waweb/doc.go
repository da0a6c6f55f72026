// Package waweb drives one WhatsApp Web tab through chromedp: it classifies
// the page, reads the QR and pairing codes, sends text messages and files
// (with a caption) and watches for logouts, crashes and JavaScript dialogs.
// It relies only on the page contract (facts 1-20 of the design), in both
// drawings the contract lists (the older true_<jid>_ ids and data-icon
// ticks, and the 2026 builds' bare ids, svg icons and state labels); every
// selector and text it uses is in a Selectors value that operators can
// override from a JSON file.
//
// Lifecycle of the page, as State reports it:
//
//	Open ──▶ booting ──▶ landing ──(QR scanned / pairing code entered)──▶ main
//	            │           ▲                                              │
//	            │           └──────────(logout: post_logout=1)─────────────┤
//	            ├──▶ update-browser (HeadlessChrome user agent)            │
//	            └──▶ conflict (another window) ──(UseHere)─────────────────┘
//
// Send on the main screen:
//
//	chat open? ──yes──────────────────────────────┐
//	   │no                                         ▼
//	   ├─▶ click a link the app takes over ──▶ compose box ──▶ clear, insertText,
//	   │      │ not taken over / 5 s               ▲          read back until the
//	   │      ▼                                    │          editor keeps it (Prepare)
//	   └─▶ deep link (page load) ─────────────────┘                 │
//	          either way: invalid-number dialog ──▶ ErrRecipientNotOnWhatsApp
//	   the caller records the Draft ──▶ Click ──▶ WaitAck: the new bubble is acked ──▶ id
//
// A file (PrepareFile) goes the same way, through the attach menu and the
// file's preview (fact 19): its caption is entered in the preview's caption
// box, Click clicks the preview's send button, and WaitAck gives the new
// bubble more time as the file is larger (Limits.AckFor). A preview left
// open is discarded first (Escape, else its close button), by Prepare too.
//
// Send is the three in a row. A caller that must never send twice records
// the Draft (its noted bubbles) durably between Prepare and Click; after a
// crash, a Prepare lists the chat's outgoing bubbles (Draft.Out), to tell
// whether the earlier click went out: by a bubble that was not noted.
//
// The driver names its own bubbles by what it did, not by how the page draws
// them: it opened the chat, an outgoing bubble is one with a "true_" id or a
// status element, and the new one is the one not noted before the click. A
// bubble's text is rebuilt from its drawing (fact 18: formatting elements
// with their templates, emoji images as their alt text) and serves as a
// check (Bubble.Match), never as the way to find it.
//
// Ownership and concurrency: the caller owns the browser and the tab; a Page
// never starts or closes either. A Page serves one caller goroutine (the
// tenant's runner) for every method except Watch, which runs on a goroutine
// of its own, owned by the same caller, next to the runner's calls: it
// answers JavaScript dialogs so that none of those calls hangs, and it reports
// events. The only state the two share is the chat the Page opened last, which
// a mutex (Page.mu) guards; the Page also leaves a mark in the document
// (window.__wawebChat), so a reload is noticed even without Watch. Every
// method takes the caller's context and returns when it ends; internal waits
// have their own bounds (Limits). Waits run inside the page (a
// MutationObserver re-checks a condition on every DOM change), so they end
// within a frame of the change, not at the next poll.
package waweb
