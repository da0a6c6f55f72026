// Package fakewa is a faithful local stand-in for WhatsApp Web: an
// http.Handler that serves the page contract of the design (facts 1-20) to
// a real browser, and a control API that plays the phone and the network
// for tests and the demo.
//
// # Concurrency and ownership
//
// One mutex (Server.mu) guards all server state: page sessions, QR and
// pairing codes, accounts, device tokens, messages, options and the hang
// switch. Methods and handlers take it for short, non-blocking sections;
// helpers that need it held end in Locked. The fake starts no goroutine of
// its own: every goroutine that runs its code is an HTTP request of the
// server that serves it. Three kinds of request wait: the chat lookup
// (Options.LookupDelay), a hung page's long poll (at most a second) and a
// file's upload (Options.UploadPerMiB); Close wakes them all, so call it
// before shutting the HTTP server down.
//
// # The page
//
// Each load of / or /send is a page instance with its own session id. The
// page is plain HTML and JavaScript (embedded from web/). It reaches its
// server through /_fakeapi/ (not part of the contract) and polls it every
// Options.LogoutPoll. Its life:
//
//	load ──► boot: #app progress (BootDelay)
//	           │ token in IndexedDB valid?
//	     no ◄──┴──► yes
//	     │           │
//	     ▼           ▼
//	  landing ──scan──► main screen (#pane-side) ◄──"Use here"── conflict dialog
//	  QR codes          │   ▲                                        ▲
//	  │ "Log in with     │   └── chat: #main, compose box, bubbles    │
//	  │  phone number"   │                                            │
//	  ▼                  ├── the account opens in another page ───────┘
//	  phone form ──Next──► pairing code ──/_fake/pair──► main screen
//	                     │
//	                     └── remote logout ──► /?post_logout=1 ──► landing
//
// Login persists as WhatsApp's does (fact 16): linking gives the page a
// device token that it keeps in the profile's IndexedDB (database "wawc",
// object store "user", key "WAToken1") and shows the server at every boot; a
// fresh profile has none. The page writes the token in a readwrite
// transaction and moves to the main screen only once that transaction has
// completed, so a browser SIGKILLed as soon as #pane-side shows comes back
// linked on the same profile. A logout, and a boot the server answers "not
// linked", delete the token. localStorage holds only "last-wid-md" (the JSON
// string "<phone>:7@c.us"). A remote logout invalidates the account's
// tokens. Accounts, tokens and messages live in memory: a restarted fake
// knows no one.
//
// The account's active page is the one that booted, linked or clicked
// "Use here" last; every other live page of the same account (another
// browser, a copy of the profile, another device linked to the same phone)
// shows the conflict dialog (fact 12) at its next poll.
//
// A user agent containing HeadlessChrome gets an "update Chrome" page
// instead of the app (fact 13), from the server and from the script.
//
// # The late editor
//
// Options.EditorDelay (zero: off, the default) plays fact 17: the compose
// box shows before it takes input. While it is on, every chat open (in the
// app, from the chat list, or by deep link) gets its own delay d from the
// server's answer to the open, uniform in [EditorDelay/4, EditorDelay]. The
// chat, its footer and its compose box show at once; the chat's messages
// after d/2; the editor takes the box over after d. Before that the box is a
// plain contenteditable: the browser edits it, no send button shows and
// Enter sends nothing. When the editor goes live it draws its own content
// (empty, or the deep link's text) over whatever the box held, as Lexical
// does, and from then on behaves as with the knob off. For tests, #main
// carries data-fake-editor-delay-ms="<d>" and data-fake-editor-live
// ("false", then "true") while the knob is on; they are not part of the
// page contract, and a driver must not use them.
//
// # How the page draws
//
// A bubble draws its text as fact 18 says (draw.js): *bold*, _italic_,
// ~strike~ and ```mono``` as strong, em, del and code elements that hold
// the text without its markers and carry them in data-app-text-template;
// formats nest (monospace holds none); markers count only at word edges (an
// opening one after the start, white space or punctuation and before a
// character that is not white space, a closing one the other way round;
// only monospace spans lines); emoji, whole grapheme clusters, as img
// elements with the emoji in alt; http(s):// and www. links as a elements
// holding the link's text; newlines as they are, in a pre-wrap span. The
// compose box holds the text as typed and the server records it as sent.
// The fake draws no incoming messages.
//
// Options.Build picks how the rest is drawn: the default build as facts 8
// and 10 say (ids "true_<jid>_<msgid>", with a @lid for the numbers that
// Options.LidSuffix names), or "2026" as fact 20 says (bare ids, no jid in
// the DOM, svg icons, states in aria-labels). A page keeps the build it
// loaded with. Options.Drawing "unknown" draws bubbles' text in a way the
// contract does not describe, for tests of a driver that meets a drawing
// it does not know; a message sent after a change shows the new drawing
// before its first ack. Options.Variant renames a part of the open chat
// (the send button, the attach button's icon, the attribute that marks a
// bubble's text, or footer), as a WhatsApp build does, so that the
// driver's default selectors miss it; VariantSelectors holds a selectors
// override for each variant. A page takes the variant when it opens a
// chat.
//
// # Attaching a file
//
// The open chat's footer holds an attach button (fact 19:
// span[data-icon="plus-rounded"] inside button[title="Attach"]; in the 2026
// build an svg titled "wds-ic-plus-rounded"). A click opens a menu of two
// items, each holding a hidden input[type="file"][multiple]: "Document"
// (accept="*") and "Photos & videos"
// (accept="image/*,video/mp4,video/3gpp,video/quicktime"). Files set on one
// (DOM.setFileInputFiles, or the system's dialog) close the menu and open a
// preview over the chat, inside #main and outside footer: the first file
// (its picture, or a file card with its name), a close button
// ([role="button"][aria-label="Close"]), a caption box
// (div[contenteditable="true"][role="textbox"][data-lexical-editor="true"],
// aria-label "Add a caption") and a send button (button[aria-label="Send"]
// holding span[data-icon="send"], or in the 2026 build the svg titled
// "wds-ic-send-filled"). The caption box follows facts 7 and 17 as the
// compose box does: while Options.EditorDelay is on, each preview picks its
// own delay in [EditorDelay/4, EditorDelay], its editor takes the box over
// after it (text entered before vanishes), and the preview carries the
// same test hooks as #main. Enter in the live box or the send button sends
// every file of the preview, each as its own message, the caption (what the
// editor holds, trimmed; nothing before it is live) with the first; Escape
// or the close button discards the preview and sends nothing. A file over
// MaxUpload (100 MiB) gets a dialog instead of a preview.
//
// Sending reads each file's bytes in the page and posts them with the
// message (multipart) to the server, which hashes them as they arrive and
// keeps no copy. A file set on the documents input, or neither a picture
// nor a video, goes out as a file card (Media.AsDocument); a picture as an
// img, a video as a video element, above the caption. The upload takes
// Options.UploadPerMiB per MiB, at least a quarter of it: the bubble shows
// msg-time (" Pending ") meanwhile, the server records the message only
// when the upload is over (a page that leaves before has sent nothing),
// and the acks follow as for a text. GET /_fake/messages reports the
// caption as the text and the file in "media". A chat drawn again shows
// a placeholder for a picture: the server kept no bytes.
//
// # The hang switch
//
// SetHang(true) (or "hang": true in POST /_fake/config) makes every page stop
// answering, for supervision tests: at its next poll, or at boot, the page's
// script enters a loop of synchronous XMLHttpRequests to the server, each of
// which waits up to a second while the switch stays on. The renderer's main
// thread is blocked, so CDP's Runtime.evaluate gets no answer, and QR codes
// stop rotating. It costs no CPU. SetHang(false) ends the loop and the page
// goes on where it was.
//
// # Control API
//
//	GET  /_fake/qr                  [{"code","displayed_at"}] QR codes live pages show now
//	POST /_fake/scan {"code","phone"} links the page showing code (404 unknown, 410 expired)
//	GET  /_fake/messages?account=P  [{"id","to","text","ack","at","media"}] in the order
//	                                 recorded; "media" only for a file: {"filename",
//	                                 "mime_type","size","sha256","as_document"}
//	GET  /_fake/pairing             [{"code","phone"}] pairing codes live pages show now
//	POST /_fake/pair {"code"}        "ABCD-EFGH", dash optional (404 unknown, 410 expired)
//	POST /_fake/logout {"phone"}     remote logout of the account's devices
//	GET  /_fake/config               the knobs in force
//	POST /_fake/config {...}         change knobs: "boot_delay", "ack_delay",
//	                                 "upload_per_mib",
//	                                 "first_qr_lifetime", "qr_lifetime", "lookup_delay",
//	                                 "pairing_lifetime", "logout_poll", "editor_delay"
//	                                 (Go durations like "200ms"; "editor_delay": "0s"
//	                                 is off), "qr_rotations" (int),
//	                                 "invalid_suffix", "lid_suffix" (strings),
//	                                 "build" ("" or "2026"), "drawing" ("" or
//	                                 "unknown"), "variant" ("", "send-icon",
//	                                 "attach-icon", "bubble-text" or
//	                                 "compose-wrapper"; other values of these
//	                                 three: 400), "hang" (bool)
//
// The Server methods of the same names do the same from Go.
package fakewa
