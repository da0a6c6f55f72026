// Package supervisor runs one runner per tenant. A runner owns the tenant's
// browser (browserpool), its page driver (waweb) and its profile lock
// (sessionstore), serializes every page operation (link, send, probe), and
// restarts the browser when it dies.
//
// # Session states
//
//	        Link, or linked at start (within MaxWarm)
//	(none) ─────────────────────────────────────► STARTING ──► READY ◄───────────── LINKING
//	                                                │  ▲        │  │ idle, or room            ▲ scan /
//	                                    landing     │  │ Send / │  │ for another   page shows │ pairing code
//	                                                ▼  │ Link   │  ▼              the QR      │
//	                                           UNLINKED │      │ HIBERNATED      UNLINKED ───┘ (Link)
//	                                                    │      │
//	                        backoff ended ──────────────┘      ▼ browser dies / page hangs
//	                                                      RESTARTING ──(crash loop, update page,
//	                                                                    conflict again, profile
//	                                                                    locked)──► FAILED
//	                                                                                 │ cool-down or Link
//	                                                                                 ▼
//	                                                                              STARTING
//
// # Concurrency and ownership
//
// Each runner is one goroutine (run) that owns everything of its tenant's
// browser; other goroutines reach it only through its request channel
// (closures run on the runner goroutine) and read its published Session
// snapshot, which its mutex guards. The Supervisor's mutex guards its runner
// map and message waiters; a runner never holds its own mutex while calling
// the Supervisor, and the Supervisor never holds its mutex while waiting on a
// runner.
//
// Two contexts per runner: the runner context ends with the daemon (or a
// Logout) and ends the runner, which then closes its browser gracefully; the
// browser's own context (browserpool) ends when that Chrome dies or is
// stopped, and a runner outlives many browsers.
//
// Sends are durable first: Send stores the message in the outbox (bbolt,
// synced) and then kicks the runner, which takes the head of the tenant's
// FIFO queue when the session is READY and pacing allows.
package supervisor
