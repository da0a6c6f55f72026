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
// Each runner is one goroutine (run) that owns everything of its tenant: the
// browser, the page, the session's state. Other goroutines reach it only
// through its request channel (closures run on the runner goroutine) and
// read the Session it publishes after every change (an atomic pointer to an
// immutable copy: no lock). One exception: the browser's memory, a read of
// /proc that never touches the page, is read by whoever asks, through the
// runner's browserMemory and its own lock (memory.go). The code is split by
// concern: runner.go (the loop, requests, the published state), browser.go
// (start, death, restart, stop), page.go (what the page shows, the probe),
// send.go, media.go, link.go, capacity.go, memory.go.
//
// Lock order. The Supervisor's mutexes (runnersMu, waitersMu, warmMu,
// sizesMu) each guard their own map, and each runner's browserMemory lock
// its reading; none is held while another is taken,
// while waiting on a runner, or during store I/O. The launch semaphore
// (WarmParallel browsers starting at once) is taken after the warm slot and
// never held while waiting on another runner (capacity.go says why).
//
// Two contexts per runner: the runner context ends with the daemon (or a
// Logout) and ends the runner, which then closes its browser gracefully; the
// browser's own context (browserpool) ends when that Chrome dies or is
// stopped, and a runner outlives many browsers.
//
// Sends are durable first: Send stores the message in the outbox (bbolt,
// synced) and then kicks the runner, which takes the head of the tenant's
// FIFO queue when the session is READY and pacing allows. One attempt
// (sendOne) follows DESIGN.md "Sends: exactly once": count the attempt;
// Prepare (open the chat, enter the text until the editor keeps it); for a
// message an earlier attempt clicked, look for its bubble among the chat's
// (earlierBubble); mark it clicked with the noted bubbles, synced; Click;
// WaitAck. A message with a file takes PrepareFile for Prepare (the file
// staged under its name in the tenant's TmpDir, its text the caption:
// media.go) and the same rules otherwise.
//
// The runner reaches its browser and page only through the Launcher,
// Browser and Page interfaces (seam.go): Chromium and waweb in the daemon, a
// hand-written fake in the unit tests of the send rules, which run under
// testing/synctest with no browser and no real time.
package supervisor
