package main

import (
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/procfs"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/fakewa"
)

// Goals of the issues.
const (
	goalB    = 250 * time.Millisecond // (b) at most this above its floor
	goalC    = 150 * time.Millisecond // (c) at most this above its floor
	goalKill = 1.5                    // kill → READY at most this × a cold start
	goalMem  = 100 << 20              // PSS per warm tenant
)

func report(w io.Writer, e *env, o options, r *results) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	fo := fakewa.DefaultOptions()
	p("## wapool bench")
	p("")
	p("One run of `make bench` (`go run ./internal/bench`), %s: %d CPUs, %s, %s; "+
		"fakewa in process with its default timings (boot %v, ack %v, chat lookup %v; the cycles section has its own with fast timings); sections: %s; wall time %s.",
		time.Now().Format("2006-01-02"), runtime.NumCPU(), memTotal(), chromiumVersion(e.chromium),
		fo.BootDelay, fo.AckDelay, fo.LookupDelay, strings.Join(chosen(o), ", "), r.elapsed.Round(time.Second))
	if r.a != nil || r.b != nil || r.fb != nil {
		sendTables(p, o, r)
	}
	if r.mem != nil || r.warm != nil {
		memoryTables(p, r)
	}
	if r.kill != nil || r.cold != nil {
		restartTables(p, o, r)
	}
	if r.hib != nil {
		hibernateTables(p, r.hib)
	}
	if r.cyc != nil {
		cyclesTable(p, r.cyc)
	}
	p("")
	if len(r.leftover) == 0 {
		p("Clean-up: no Chrome process left on any of the %d Chrome profiles the run used (browserpool.ProcessesOnProfile), and no process naming the run's directory.", r.profilesChecked)
	} else {
		p("Clean-up: **%d processes were left running** (now stopped):", len(r.leftover))
		for _, l := range r.leftover {
			p("- %s", l)
		}
	}
}

func chosen(o options) []string {
	var out []string
	for _, s := range allSections {
		if o.sections[s] {
			out = append(out, s)
		}
	}
	return out
}

func chromiumVersion(path string) string {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "Chromium (version unknown)"
	}
	return strings.TrimSpace(string(out))
}

func memTotal() string {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return "memory unknown"
	}
	m, err := fs.Meminfo()
	if err != nil || m.MemTotalBytes == nil {
		return "memory unknown"
	}
	return fmt.Sprintf("%.0f GB RAM", float64(*m.MemTotalBytes)/(1<<30))
}

func sendTables(p func(string, ...any), o options, r *results) {
	p("")
	p("### Send: one message, %d measured per route (after one unmeasured warm-up)", o.n)
	p("")
	p("| route | how the chat is reached | p50 | p95 | failed |")
	p("|---|---|---:|---:|---:|")
	for _, rt := range []*route{r.a, r.b, r.c, r.fb, r.fc, r.bl, r.cl, r.fbl, r.fcl} {
		if rt == nil {
			continue
		}
		p("| %s | %s | %s | %s | %d/%d |", rt.name, rt.method, msStr(rt.total.p50()), msStr(rt.total.p95()), rt.fails, rt.sent)
	}
	p("")
	p("A message counts as failed when its call failed or fakewa did not record it, acknowledged, with the exact text and recipient.")

	if r.b != nil && r.c != nil && r.fb != nil && r.fc != nil {
		goalsTable(p, "### Against the goals", r.a, r.b, r.c, r.fb, r.fc)
		boot := fakewa.DefaultOptions().BootDelay
		slow := 0
		for _, rt := range []*route{r.b, r.c} {
			for _, d := range rt.by[phPage] {
				if d >= boot {
					slow++
				}
			}
		}
		p("")
		p("No page load in (b) or (c): a page load costs at least the boot (%v); %d of their %d sends took that long inside the daemon.", boot, slow, len(r.b.total)+len(r.c.total))
	}
	if r.bl != nil && r.cl != nil && r.fbl != nil && r.fcl != nil {
		goalsTable(p, fmt.Sprintf("### Against the goals, late editor (fakewa --editor-delay %v: each chat's editor goes live %v–%v after it opens, fact 17)", lateEditor, lateEditor/4, lateEditor), nil, r.bl, r.cl, r.fbl, r.fcl)
	}

	p("")
	p("### Where the time goes (p50 of each phase)")
	p("")
	cols := []string{phStart, phBoot, phOpen, phInput, phAck, phClose, phPage, phDaemon}
	p("| route | %s | total |", strings.Join(cols, " | "))
	p("|---|%s---:|", strings.Repeat("---:|", len(cols)))
	for _, rt := range []*route{r.a, r.b, r.c, r.fb, r.fc, r.bl, r.cl, r.fbl, r.fcl} {
		if rt == nil {
			continue
		}
		var cells []string
		for _, c := range cols {
			s, ok := rt.by[c]
			switch {
			case !ok:
				cells = append(cells, "·")
			case c == phInput && rt == r.a:
				cells = append(cells, "0 (pre-filled)")
			default:
				cells = append(cells, msStr(s.p50()))
			}
		}
		p("| %s | %s | %s |", rt.name, strings.Join(cells, " | "), msStr(rt.total.p50()))
	}
	p("")
	p("Phases: (a) browser start = browserpool.Launch; app boot = waweb Open + WaitBooted until the main screen; " +
		"chat opening = loading /send?phone=…&text=… until the box holds the text (a second page load and boot); " +
		"click → msg-check = clicking send until the new bubble shows msg-check; close = Browser.Stop. " +
		"Floors: chat opening = append an anchor to <base>/send?phone=N, click it, wait for the new chat's compose box; " +
		"input = focus + Input.insertText. (b)/(c): page = the \"took\" of the daemon's \"sent\" log line (waweb.Send: open, " +
		"clear, insertText, read back, click, msg-check), daemon + gRPC = the client's Send time minus that (outbox write, queue, RPC). " +
		"A phase's p50 is taken over its own samples, so the phases need not add up to the total's p50.")
}

func memoryTables(p func(string, ...any), r *results) {
	if m := r.mem; m != nil {
		p("")
		p("### Memory per warm browser (%d wapool tenants and one bare Chromium, linked, on the main screen, read at the same moment after %v at rest)", len(m.tenants), m.settle)
		p("")
		p("| browser | browsers | PSS median | PSS min – max | private (USS) median | processes |")
		p("|---|---:|---:|---:|---:|---:|")
		pss := m.pick(func(u browserpool.Memory) uint64 { return u.PSS })
		uss := m.pick(func(u browserpool.Memory) uint64 { return u.USS })
		procs := m.pick(func(u browserpool.Memory) uint64 { return uint64(u.Procs) })
		lo, hi := pss[0], pss[0]
		for _, v := range pss {
			lo, hi = min(lo, v), max(hi, v)
		}
		p("| wapool tenant (wapoold: %s) | %d | %s | %s – %s | %s | %d |", m.flags, len(m.tenants), mib(medianOf(pss)), mib(lo), mib(hi), mib(medianOf(uss)), medianOf(procs))
		p("| bare Chromium, chromedp DefaultExecAllocatorOptions | 1 | %s | — | %s | %d |", mib(m.bare.PSS), mib(m.bare.USS), m.bare.Procs)
		p("")
		p("PSS of the browser's whole process tree (every process with the profile's --user-data-dir; smaps_rollup), shared pages divided among all %d browsers that ran. "+
			"Private (USS) is what one more browser adds. Goal: ≤ 100 MB PSS per warm tenant: %s (median %s).", len(m.tenants)+1, yesNo(medianOf(pss) <= goalMem), mib(medianOf(pss)))
	}
	if w := r.warm; w != nil {
		p("")
		p("### Daemon restart with %d linked tenants", w.n)
		p("")
		p("| measure | time |")
		p("|---|---:|")
		p("| SIGTERM until the old wapoold exited (browsers closed gracefully) | %s |", msStr(w.stop))
		p("| fresh wapoold until the first tenant is READY | %s |", msStr(w.first))
		p("| fresh wapoold until all %d tenants are READY (%s) | %s |", w.n, w.warmWorkers, msStr(w.all))
	}
}

func restartTables(p func(string, ...any), o options, r *results) {
	p("")
	p("### Browser crash: SIGKILL until READY again, beside a cold start")
	p("")
	p("| measure | p50 | p95 | samples |")
	p("|---|---:|---:|---:|")
	row := func(name string, s samples) {
		if len(s) > 0 {
			p("| %s | %s | %s | %d |", name, msStr(s.p50()), msStr(s.p95()), len(s))
		}
	}
	if k := r.kill; k != nil {
		row("SIGKILL of the browser's main process → Status READY with a new browser", k.total)
		row("  detection (kill → the daemon logs the death)", k.detect)
		row("  backoff before the restart (first step: 0.5 s ± 20 %)", k.backoff)
		row("  browser launch (lock, orphan check, profile trim, Launch)", k.launch)
		row("  app boot", k.boot)
		row("  other: the runner's next tick after the backoff, the Status poll", k.other)
	}
	if c := r.cold; c != nil {
		row("cold start: fresh wapoold → first tenant READY (--warm-parallel 1)", c.total)
		row("  daemon up (exec → serving)", c.up)
		row("  browser launch (lock, orphan check, profile trim, Launch)", c.launch)
		row("  app boot", c.boot)
		row("  other: warm-up queue, the Status poll", c.other)
	}
	if r.kill != nil && r.cold != nil && len(r.kill.total) > 0 && len(r.cold.total) > 0 {
		k, c := r.kill.total.p50(), r.cold.total.p50()
		p("| kill → READY ÷ cold start (p50) | %s | | goal ≤ %.1f×: %s |", ratio(k, c), goalKill, yesNo(float64(k) <= goalKill*float64(c)))
	}
	p("")
	if r.kill != nil {
		p("Each kill hits a different tenant of the %d linked ones (each restart is that tenant's first, as in production, where the backoff resets after 60 s of stable running); "+
			"Status is polled every 20 ms. Kills that did not come back: %d; restarts without the daemon's usual log lines (left out of the breakdown): %d.", r.fleetSize, r.kill.fails, r.kill.unexplained)
	}
	if r.cold != nil {
		p("Cold starts measure from the start of the wapoold process; first READY each time: %s.", strings.Join(r.cold.tenants, ", "))
	}
}

func hibernateTables(p func(string, ...any), h *hibResult) {
	p("")
	p("### Hibernated tenant: wake + send beside a warm send (wapoold --idle-hibernate %v, new recipient each time)", idleHibernate)
	p("")
	p("| send | p50 | p95 | %s p50 | %s p50 | %s p50 | failed |", phWake, phPage, "daemon, queue, RPC")
	p("|---|---:|---:|---:|---:|---:|---:|")
	p("| %s | %s | %s | %s | %s | %s | %d/%d |", h.wake.name, msStr(h.wake.total.p50()), msStr(h.wake.total.p95()),
		msStr(h.wake.by[phWake].p50()), msStr(h.wake.by[phPage].p50()), msStr(h.wake.by[phRest].p50()), h.wake.fails, h.wake.sent)
	p("| %s | %s | %s | · | %s | %s | %d/%d |", h.warm.name, msStr(h.warm.total.p50()), msStr(h.warm.total.p95()),
		msStr(h.warm.by[phPage].p50()), msStr(h.warm.by[phDaemon].p50()), h.warm.fails, h.warm.sent)
	p("")
	p("Each round waits until Status says HIBERNATED (the browser closed, the profile kept), then sends (the daemon starts the browser, "+
		"boots the app, opens the chat in the app), then sends again at once while warm. Wake = the daemon's \"page booted\" since_start "+
		"(launch + boot); page = the \"took\" of its \"sent\" line. Wake sends that found the tenant awake: %d.", h.notAsleep)
}

func cyclesTable(p func(string, ...any), c *cyclesResult) {
	fo := fakewa.FastOptions()
	arrow := func(a, b int) string { return fmt.Sprintf("%d → %d (%+d)", a, b, b-a) }
	p("")
	p("### Kill/restart cycles: %d SIGKILLs of a browser on one wapoold, %d tenants in turn (fakewa fast timings: boot %v)", c.cycles, len(c.tenants), fo.BootDelay)
	p("")
	p("| measure | value |")
	p("|---|---:|")
	p("| cycles done / failed (not READY with a new browser within %v) | %d / %d |", cyclesWait, c.cycles-c.failed, c.failed)
	if len(c.took) > 0 {
		p("| kill → Status READY with a new browser, p50 / p95 | %s / %s |", msStr(c.took.p50()), msStr(c.took.p95()))
	}
	p("| daemon open fds (/proc/<pid>/fd), before → after | %s |", arrow(c.before.fds, c.after.fds))
	p("| daemon process_open_fds (/metrics, its scrape socket included), before → after | %s |", arrow(c.before.metricFds, c.after.metricFds))
	p("| daemon go_goroutines (/metrics), before → after | %s |", arrow(c.before.goroutines, c.after.goroutines))
	for i, t := range c.tenants {
		p("| processes on %s's profile, before → after | %s |", t, arrow(c.before.procs[i], c.after.procs[i]))
	}
	for i, t := range c.tenants {
		if i < len(c.restarts) {
			p("| %s: kills that came back / Status browser.restarts | %d / %d |", t, c.kills[i], c.restarts[i])
		}
	}
	p("| orphans (naming the profiles, outside the current browsers' trees) | %d |", len(c.orphans))
	p("| zombies among the daemon's descendants | %d |", len(c.zombies))
	exit := "0"
	if c.stopErr != nil {
		exit = "**" + c.stopErr.Error() + "**"
	}
	p("| SIGTERM → wapoold exited: exit status / time | %s / %s |", exit, msStr(c.stopTook))
	p("| Chrome processes on the profiles after the daemon exited | %d |", len(c.leftAfterStop))
	p("")
	p("Verdict (growth = after − before, tolerance ±%d for fds and goroutines; no failed cycle, no orphan, no zombie, exit 0, no Chrome left): %s.",
		cyclesNoise, yesNo(c.ok()))
	for _, l := range slices.Concat(c.orphans, c.zombies, c.leftAfterStop) {
		p("- %s", l)
	}
	p("")
	p("Each reading follows %v at rest with every tenant READY; fds are counted before the scrape. wapoold runs with --crash-loop 1 --failed-cooldown %v: "+
		"its backoff doubles up to 60 s and resets only after 60 s of stable running, so with the default policy a tenant killed every few seconds would wait a minute "+
		"per restart; with these flags every death is a crash loop (FAILED), retried after a constant %v, the same stop and start of the browser as a restart. "+
		"Status is polled every 20 ms.", cyclesSettle, cyclesCoolDown, cyclesCoolDown)
}

// goalsTable compares (b) and (c) with their floors, and (a) with both when
// a is not nil.
func goalsTable(p func(string, ...any), title string, a, b, c, fb, fc *route) {
	p("")
	p("%s", title)
	p("")
	p("| comparison | at p50 | at p95 | goal | met (p50 / p95) |")
	p("|---|---:|---:|---|---|")
	if a != nil {
		p("| (a) old ÷ (b) new recipient | %s | %s | — | — |", ratio(a.total.p50(), b.total.p50()), ratio(a.total.p95(), b.total.p95()))
		p("| (a) old ÷ (c) open chat | %s | %s | — | — |", ratio(a.total.p50(), c.total.p50()), ratio(a.total.p95(), c.total.p95()))
	}
	db50, db95 := b.total.p50()-fb.total.p50(), b.total.p95()-fb.total.p95()
	dc50, dc95 := c.total.p50()-fc.total.p50(), c.total.p95()-fc.total.p95()
	p("| %s ÷ its floor | %s | %s | — | — |", short(b), ratio(b.total.p50(), fb.total.p50()), ratio(b.total.p95(), fb.total.p95()))
	p("| %s − its floor | %s | %s | ≤ +%d ms, no page load | %s / %s |", short(b), signedMs(db50), signedMs(db95), goalB.Milliseconds(), yesNo(db50 <= goalB), yesNo(db95 <= goalB))
	p("| %s ÷ its floor | %s | %s | — | — |", short(c), ratio(c.total.p50(), fc.total.p50()), ratio(c.total.p95(), fc.total.p95()))
	p("| %s − its floor | %s | %s | ≤ +%d ms, no page load | %s / %s |", short(c), signedMs(dc50), signedMs(dc95), goalC.Milliseconds(), yesNo(dc50 <= goalC), yesNo(dc95 <= goalC))
}

// short is a route's label, "(b)" or "(b′)".
func short(r *route) string {
	label, _, _ := strings.Cut(r.name, " ")
	return label
}
