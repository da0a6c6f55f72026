// Package console is wapoold's web console for the people who run it: every
// tenant's session at a glance, and per tenant a link by QR code or by
// pairing code, a screenshot of its page, a logout and its recent messages'
// states. It calls the supervisor in-process (the Supervisor interface,
// which *supervisor.Supervisor satisfies) and never reaches a browser
// itself.
//
// It is Go html/template plus one small embedded script (static/console.js)
// and a style sheet, with no build step. Phone numbers are masked as in the
// logs (internal/redact), and what a message says is never shown: the
// outbox's text stays where it is (Supervisor.RecentMessages leaves it out,
// and the views here carry no field for it).
//
// # Pages and endpoints
//
//	GET  /                      Sessions: every tenant; the table refreshes itself
//	GET  /t?id=ID               → /t/ID (the "open or create a tenant" form)
//	GET  /t/ID                  One tenant: state, link, screenshot, logout, messages
//	POST /t/ID/link             a link attempt, streamed as NDJSON while the request lasts
//	GET  /t/ID/screenshot.png   what the tenant's page shows now
//	GET  /t/ID/logout           the confirmation
//	POST /t/ID/logout           the logout itself
//	GET  /api/sessions          JSON the Sessions page polls
//	GET  /api/tenants/ID        JSON the tenant page polls
//	GET  /login, POST /login    the token form (with Options.Tokens only)
//	POST /signout               ends the console session
//	GET  /static/…              the script and the style sheet
//
// A link attempt lives exactly as long as the POST that streams it: closing
// the page ends it, and the supervisor ends the attempt on the page when no
// one is left watching it.
//
// # Security
//
// With Options.Tokens a person signs in with one of the API's tokens; the
// console then keeps a server-side session (a random id in an HttpOnly,
// SameSite=Strict cookie, Secure over TLS or behind a TLS-terminating proxy,
// an absolute expiry, the token rechecked at every request so that a token
// removed from the tokens file ends its sessions). A token's Access (its
// scope in the tokens file) bounds what the console shows and does: the
// sessions list and every tenant route leave out or refuse (403) the
// tenants outside it, whether they exist or not, and a read-only token (the
// API's role send) sees its tenants without linking, screenshots or
// logouts. Wrong tokens are counted per client address: from the 4th in a
// row the next sign-in waits a growing delay, unchecked (429, Retry-After).
//
// Without tokens the console answers only on loopback: Listen and Serve
// refuse any other address, and a request whose Host is not a loopback name
// is refused too (DNS rebinding). With tokens, a non-loopback address needs
// Options.TLS (HTTPS), Options.BehindTLSProxy, or Options.Insecure. Every
// POST carries the session's CSRF token (a hidden field, or the
// X-CSRF-Token header the script sets), and a cross-site one is refused
// before that. Every response sets a Content-Security-Policy without inline
// script (script-src 'self'), frame-ancestors 'none' with X-Frame-Options
// DENY, and Referrer-Policy no-referrer.
//
// # Lifecycle
//
//	New(sup, opts) ──► Listen(addr) ──► Serve(ctx, ln) ── ctx ends ──► link streams end,
//	                    (CheckAddr)        (blocks)                     requests drained (≤ 5 s),
//	                                                                     Serve returns
//
// A Console is also a plain http.Handler (tests serve it with httptest).
//
// # Concurrency and ownership
//
// A Console starts no goroutine of its own: requests run on the HTTP
// server's goroutines, and Serve returns only once its server has stopped.
// The one piece of shared state, the table of console sessions, is guarded
// by sessions.mu; besides it only KeyPair.mu (the TLS certificate) and the
// sign-in limiter's own lock exist, none held while another is taken, and
// no call to the supervisor is made while one is held.
package console
