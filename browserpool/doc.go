// Package browserpool runs the Chrome processes of wapool: one headless
// Chromium per tenant, on the tenant's own persistent profile, with one tab.
// It knows nothing of tenants, WhatsApp or restart policy — the supervisor
// decides when to launch and stop; browserpool makes launching, noticing a
// death, and stopping reliable, and keeps the process table clean.
//
// # Lifecycle
//
//	KillOrphans(profile)          a Chrome left on the profile by a killed daemon
//	CleanStaleSingleton(profile)  Singleton* files of a browser that is gone
//	        │
//	        ▼
//	Launch ──► running ──┬── Stop: Browser.close ─► SIGINT(group) ─► SIGKILL(group) ──┐
//	   │       (Ctx: the │                                                            ├─► Done closed
//	   │        one tab) └── dies by itself (crash, SIGKILL, OOM) ─── ExitErr≠nil ─────┘    (reaped, group empty)
//	   └─ fails or ctx ends: whatever started is killed and reaped; error returned
//
// Every browser runs in its own process group (Setpgid) with Pdeathsig
// SIGKILL, so the kernel kills it if the daemon dies and a signal to the
// group reaches all of Chrome's processes. Never SIGTERM (it lost the last
// cookies when measured); never a browser context or --incognito (not
// persistent).
//
// # Concurrency and ownership
//
// A Browser owns one goroutine, watch, started by Launch. It waits on
// chromedp's allocator (which runs cmd.Wait, so the process is reaped), kills
// what is left of the process group, releases chromedp's contexts, records
// ExitErr and closes Done; it ends then. Stop starts at most one more
// goroutine, the stop ladder, which ends after Done; Stop waits for it. All
// fields are written before Launch returns, except exitErr (written by watch
// before Done closes, read only after) and the stopping flag (atomic). The
// tab context returned by Ctx follows chromedp's rules: one action at a time
// per tab; the caller (the tenant's runner) serializes them.
//
// Two contexts per browser: the ctx of Launch bounds only the launch; the
// browser's own root context, canceled by Stop (rung 2) or when the browser
// dies, is the parent of Ctx, so every action on Ctx ends when the browser
// does.
//
// The process-table functions (ProcessesOnProfile, ProcessesUnder,
// KillOrphans, MemoryOf, Browser.PSS) read /proc through
// github.com/prometheus/procfs and are Linux only.
package browserpool
