// Command bench is `make bench`: it measures, in one run against one
// in-process fakewa with its default timings (boot 1.5 s, ack 400 ms, chat
// lookup 300 ms), what a message costs the old way and through wapool, and
// prints Markdown tables for the README. (The cycles section, which measures
// hygiene rather than time, has a fakewa of its own with fast timings.)
//
// Sections (-sections, default all; each runs alone too):
//
//   - send: per message, (a) the old design — start Chrome on a linked
//     profile (browserpool.Launch), load the app (waweb Open + WaitBooted),
//     load the deep link /send?phone=…&text=… (which pre-fills the box),
//     click send, wait for msg-check, stop Chrome; (b) wapool Send over gRPC
//     through bin/wapoold on a warm tenant to a new recipient each time;
//     (c) wapool Send to the chat that is already open; (d) the floors: the
//     same page steps by a bare chromedp program on one open browser, no
//     daemon (open the chat inside the app with an appended anchor, insertText,
//     click send, wait for msg-check; and without the opening for (c)).
//   - memory: PSS of each warm tenant's browser process tree (wapoold,
//     -tenants linked tenants) beside a bare Chromium run with chromedp's
//     DefaultExecAllocatorOptions on the same page, measured at the same
//     moment; then the time for those tenants to be READY after a daemon
//     restart.
//   - restart: SIGKILL of a tenant's browser until Status says READY again
//     (-kills times, one kill per tenant, so that every restart takes the
//     first backoff step as it would in production), beside a cold start:
//     a fresh wapoold until the first tenant is READY (--warm-parallel 1,
//     so that no other browser starts beside it).
//   - hibernate: a Send to a HIBERNATED tenant (wapoold --idle-hibernate 1s:
//     wake = browser start + app boot, then the send) beside a Send to the
//     same tenant while warm, -wakes rounds.
//   - cycles: -cycles SIGKILLs (default 100) of the browsers of two linked
//     tenants in turn on one wapoold (its own fakewa with fakewa.FastOptions;
//     --crash-loop 1 --failed-cooldown 500ms, so that every restart waits a
//     constant 0.5 s instead of the growing backoff), each until Status says
//     READY with a new browser; before and after, at rest: the daemon's open
//     fds (/proc and process_open_fds) and go_goroutines (its /metrics), the
//     processes on each profile; after: orphans (processes naming the
//     profiles outside the current browsers' trees) and zombies among the
//     daemon's descendants; then SIGTERM (exit 0) and no Chrome left.
//
// Every message is checked at fakewa (Messages) and failures are counted.
// At the end every Chrome profile the run used is checked for live processes
// (browserpool.ProcessesOnProfile), and so is the process table for anything
// naming the run's temporary directory.
//
// Ownership: the program is sequential. The goroutines it starts are owned
// by the value that starts them and end before it returns: a daemon's output
// is copied by os/exec (Wait ends it), and the bare browsers and Chromes of
// browserpool own theirs. Every process started is stopped on every path
// (deferred stops; wapoold and the bare browsers also get Pdeathsig).
//
// Usage:
//
//	make bench                       # after make build
//	go run ./internal/bench -n 20 -sections send
package main
