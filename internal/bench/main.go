// Command bench prints the README's benchmark tables from the output of
// the Go benchmarks beside it (send_test.go, restart_test.go,
// cycles_test.go), which run the real wapoold (built from this tree, through
// internal/wapooldtest) and real Chromium against an in-process fakewa:
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 60m -json ./internal/bench/ | go run ./internal/bench
//
// Sample counts are flags of the test binary, after -args (-sends 20,
// -kills 10, -colds 3, -tenants 10, -settle 15s, -wakes 10, -cycles 100,
// -rounds 3).
// It reads `go test -json` events or plain `go test -bench` text from
// stdin (internal/benchtable), echoes the text to stderr as it comes (the
// benchmarks' progress), and writes a markdown table per benchmark that
// reported to stdout, beside the issues' goals. It exits 1 when a step of a
// benchmark that ran reported no metrics.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/wapool/wapool/internal/benchtable"
)

// Goals of the issues.
const (
	goalNewMs  = 250.0 // (b) at most this above its floor
	goalOpenMs = 150.0 // (c) at most this above its floor
	goalKillX  = 1.5   // kill → READY at most this × a cold start
	goalPSSMiB = 100.0 // PSS per warm tenant
	cyclesEps  = 2     // ± tolerated in fds and goroutines after the cycles
)

func main() {
	res, err := benchtable.Parse(os.Stdin, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	t := &tables{res: res}
	t.send()
	t.restart()
	t.memory()
	t.hibernate()
	t.cycles()
	t.doctor()
	t.media()
	t.mediaMemory()
	if len(res) == 0 {
		t.missing = append(t.missing, "every benchmark")
	}
	if len(t.missing) > 0 {
		fmt.Fprintf(os.Stderr, "bench: no metrics from %s\n", strings.Join(t.missing, ", "))
		os.Exit(1)
	}
}

type tables struct {
	res     benchtable.Results
	missing []string
}

func (t *tables) p(format string, a ...any) { fmt.Printf(format+"\n", a...) }

// goalDoctorMs bounds the plain doctor on a warm tenant.
const goalDoctorMs = 200.0

// doctor prints BenchmarkDiagnose: the Diagnose RPC on a warm tenant.
func (t *tables) doctor() {
	if !t.ran("Diagnose") {
		return
	}
	p95, ok := t.res.Get("Diagnose", "plain-p95-ms")
	t.p("| Diagnose on a warm tenant (gRPC on loopback) | p50 | p95 | failed | goal |")
	t.p("|---|---:|---:|---:|---|")
	t.p("| plain (read-only, the open chat) | %s | %s | %s | < %.0f ms: %s |", t.ms("Diagnose", "plain-p50-ms"), t.ms("Diagnose", "plain-p95-ms"),
		t.res.Fmt("Diagnose", "plain-failed", "%.0f"), goalDoctorMs, benchtable.Verdict(ok, p95 < goalDoctorMs))
	t.p("| deep (opens the tenant's own chat, types, empties the box, attaches a file and discards its preview) | %s | %s | %s | |", t.ms("Diagnose", "deep-p50-ms"), t.ms("Diagnose", "deep-p95-ms"),
		t.res.Fmt("Diagnose", "deep-failed", "%.0f"))
	t.p("")
}

// ran reports whether any of the benchmarks reported, and notes those
// that did not.
func (t *tables) ran(names ...string) bool {
	for _, n := range names {
		if len(t.res[n]) > 0 {
			t.missing = append(t.missing, t.res.Missing(names...)...)
			return true
		}
	}
	return false
}

func (t *tables) ms(name, unit string) string { return t.res.Fmt(name, unit, "%.0f ms") }
func (t *tables) x(name, unit string) string  { return t.res.Fmt(name, unit, "%.2f×") }

func (t *tables) send() {
	plain, late := t.ran("Send/new-recipient", "Send/open-chat", "Send/old"), t.ran("SendLate/new-recipient", "SendLate/open-chat")
	drawn := t.ran("SendDrawn/older/new-recipient", "SendDrawn/older/open-chat", "SendDrawn/2026/new-recipient", "SendDrawn/2026/open-chat")
	if !plain && !late && !drawn {
		return
	}
	type row struct{ label, short, name, prefix string }
	rows := []row{
		{"(a) old design: start Chrome on the profile, load the app, deep link, send, wait for the tick, close", "(a) old design", "Send/old", "old"},
		{"(b) wapool `Send`, warm tenant, new recipient each time (chat opened inside the app)", "(b) wapool, new recipient", "Send/new-recipient", "wapool"},
		{"(c) wapool `Send`, the chat already open", "(c) wapool, chat open", "Send/open-chat", "wapool"},
		{"(d) floor for (b): the same page steps by a bare chromedp program on one open browser", "(d) floor for (b)", "Send/new-recipient", "floor"},
		{"(d) floor for (c)", "(d) floor for (c)", "Send/open-chat", "floor"},
		{"(b′) as (b), **late editor**: each chat's editor takes its box 0.3–1.2 s after the chat opens (fact 17)", "(b′) late editor", "SendLate/new-recipient", "wapool"},
		{"(c′) as (c), late editor", "(c′) late editor", "SendLate/open-chat", "wapool"},
		{"(d′) floor for (b′): types once, the moment the editor goes live (it reads fakewa's test hook, which no driver of the real page has)", "(d′) floor for (b′)", "SendLate/new-recipient", "floor"},
		{"(d′) floor for (c′)", "(d′) floor for (c′)", "SendLate/open-chat", "floor"},
		{"(b*) as (b), a **formatted text** (markers, emoji, link: drawn as elements, fact 18)", "(b*) formatted", "SendDrawn/older/new-recipient", "wapool"},
		{"(c*) as (c), formatted text", "(c*) formatted", "SendDrawn/older/open-chat", "wapool"},
		{"(d*) floor for (b*), the same formatted texts", "(d*) floor for (b*)", "SendDrawn/older/new-recipient", "floor"},
		{"(d*) floor for (c*)", "(d*) floor for (c*)", "SendDrawn/older/open-chat", "floor"},
		{"(b²⁰²⁶) as (b*), on the **2026 build** (bare ids, svg icons, state labels: fact 20)", "(b²⁰²⁶) 2026 build", "SendDrawn/2026/new-recipient", "wapool"},
		{"(c²⁰²⁶) as (c*), 2026 build", "(c²⁰²⁶) 2026 build", "SendDrawn/2026/open-chat", "wapool"},
		{"(d²⁰²⁶) floor for (b²⁰²⁶)", "(d²⁰²⁶) floor for (b²⁰²⁶)", "SendDrawn/2026/new-recipient", "floor"},
		{"(d²⁰²⁶) floor for (c²⁰²⁶)", "(d²⁰²⁶) floor for (c²⁰²⁶)", "SendDrawn/2026/open-chat", "floor"},
	}
	t.p("| route | p50 | p95 | failed |")
	t.p("|---|---:|---:|---:|")
	for _, r := range rows {
		if len(t.res[r.name]) > 0 {
			t.p("| %s | %s | %s | %s |", r.label, t.ms(r.name, r.prefix+"-p50-ms"), t.ms(r.name, r.prefix+"-p95-ms"), t.res.Fmt(r.name, r.prefix+"-failed", "%.0f"))
		}
	}
	t.p("")
	t.p("| comparison | p50 | p95 | goal |")
	t.p("|---|---:|---:|---|")
	if len(t.res["Send/old"]) > 0 {
		t.p("| old ÷ (b) | %s | %s | |", t.x("Send/old", "ratio-vs-new-recipient"), t.x("Send/old", "ratio-vs-new-recipient-p95"))
		t.p("| old ÷ (c) | %s | %s | |", t.x("Send/old", "ratio-vs-open-chat"), t.x("Send/old", "ratio-vs-open-chat-p95"))
	}
	for _, c := range []struct {
		label, name string
		goal        float64
		noPageLoad  bool
	}{
		{"(b)", "Send/new-recipient", goalNewMs, true},
		{"(c)", "Send/open-chat", goalOpenMs, true},
		{"(b′), late editor", "SendLate/new-recipient", goalNewMs, false},
		{"(c′), late editor", "SendLate/open-chat", goalOpenMs, false},
		{"(b*), formatted", "SendDrawn/older/new-recipient", goalNewMs, true},
		{"(c*), formatted", "SendDrawn/older/open-chat", goalOpenMs, true},
		{"(b²⁰²⁶), 2026 build", "SendDrawn/2026/new-recipient", goalNewMs, true},
		{"(c²⁰²⁶), 2026 build", "SendDrawn/2026/open-chat", goalOpenMs, true},
	} {
		if len(t.res[c.name]) == 0 {
			continue
		}
		d50, ok50 := t.res.Get(c.name, "minus-floor-p50-ms")
		d95, ok95 := t.res.Get(c.name, "minus-floor-p95-ms")
		loads, _ := t.res.Get(c.name, "page-loads")
		goal := fmt.Sprintf("≤ +%.0f ms", c.goal)
		if c.noPageLoad {
			goal += ", no page load"
		}
		within := d50 <= c.goal && d95 <= c.goal && (!c.noPageLoad || loads == 0)
		t.p("| %s ÷ its floor | %s | %s | |", c.label, t.x(c.name, "ratio-vs-floor"), t.x(c.name, "ratio-vs-floor-p95"))
		t.p("| %s − its floor | %s | %s | %s: %s |", c.label, t.res.Fmt(c.name, "minus-floor-p50-ms", "%+.0f ms"), t.res.Fmt(c.name, "minus-floor-p95-ms", "%+.0f ms"),
			goal, benchtable.Verdict(ok50 && ok95, within))
	}
	t.p("")
	t.p("Where the time goes (p50 of each phase, in ms; a phase's p50 is over its own samples, so the phases need not add up):")
	t.p("")
	cols := []struct{ head, phase string }{
		{"browser start", "start"}, {"app boot", "boot"}, {"chat opening", "open"}, {"input", "input"},
		{"click → tick", "ack"}, {"close", "close"}, {"attempt in the daemon", "attempt"}, {"outbox, queue, gRPC", "rest"},
	}
	head := "| route |"
	for _, c := range cols {
		head += " " + c.head + " |"
	}
	t.p("%s", head)
	t.p("|---|%s", strings.Repeat("---:|", len(cols)))
	for _, r := range rows {
		if len(t.res[r.name]) == 0 {
			continue
		}
		line := "| " + r.short + " |"
		for _, c := range cols {
			v := t.res.Fmt(r.name, r.prefix+"-"+c.phase+"-p50-ms", "%.0f")
			if v == "—" {
				v = "·"
			}
			line += " " + v + " |"
		}
		t.p("%s", line)
	}
	t.p("")
}

func (t *tables) restart() {
	if !t.ran("Restart/kill", "Restart/cold") {
		return
	}
	k, c := "Restart/kill", "Restart/cold"
	t.p("| measure | p50 | p95 |")
	t.p("|---|---:|---:|")
	t.p("| SIGKILL of a tenant's browser → Status READY with a new browser (each tenant once) | %s | %s |", t.ms(k, "kill-p50-ms"), t.ms(k, "kill-p95-ms"))
	t.p("| … detection: until Status leaves READY | %s | |", t.ms(k, "kill-detect-p50-ms"))
	t.p("| … backoff and the launch's preparation: until the new Chrome's exec | %s | |", t.ms(k, "kill-backoff-p50-ms"))
	t.p("| … launch: until the daemon holds the browser | %s | |", t.ms(k, "kill-launch-p50-ms"))
	t.p("| … app boot: until READY | %s | |", t.ms(k, "kill-boot-p50-ms"))
	t.p("| cold start: fresh wapoold → first tenant READY (`--warm-parallel 1`) | %s | %s |", t.ms(c, "cold-p50-ms"), t.ms(c, "cold-p95-ms"))
	t.p("| … daemon up: until it serves | %s | |", t.ms(c, "cold-up-p50-ms"))
	t.p("| … warm-up queue, lock, profile: until the Chrome's exec | %s | |", t.ms(c, "cold-queue-p50-ms"))
	t.p("| … launch | %s | |", t.ms(c, "cold-launch-p50-ms"))
	t.p("| … app boot | %s | |", t.ms(c, "cold-boot-p50-ms"))
	x, ok := t.res.Get(c, "ratio-kill-vs-cold")
	t.p("| kill → READY ÷ cold start | **%s** | goal ≤ %.1f×: %s |", t.x(c, "ratio-kill-vs-cold"), goalKillX, benchtable.Verdict(ok, x <= goalKillX))
	t.p("")
}

func (t *tables) memory() {
	if !t.ran("Memory/pss", "Memory/restart") {
		return
	}
	m, r := "Memory/pss", "Memory/restart"
	mib := func(unit string) string { return t.res.Fmt(m, unit, "%.1f MiB") }
	t.p("| browser | PSS median | PSS min – max | private (USS) median | processes |")
	t.p("|---|---:|---:|---:|---:|")
	t.p("| wapool tenant (%s at rest) | %s | %s – %s | %s | %s |", t.res.Fmt(m, "tenants", "%.0f"), mib("tenant-PSS-MiB"),
		mib("tenant-PSS-min-MiB"), mib("tenant-PSS-max-MiB"), mib("tenant-USS-MiB"), t.res.Fmt(m, "tenant-procs", "%.0f"))
	t.p("| bare Chromium, chromedp's default flags | %s | — | %s | %s |", mib("bare-PSS-MiB"), mib("bare-USS-MiB"), t.res.Fmt(m, "bare-procs", "%.0f"))
	pss, ok := t.res.Get(m, "tenant-PSS-MiB")
	t.p("")
	t.p("Goal ≤ %.0f MiB PSS per warm tenant: %s.", goalPSSMiB, benchtable.Verdict(ok, pss <= goalPSSMiB))
	t.p("")
	t.p("| daemon restart with %s linked tenants | time |", t.res.Fmt(r, "tenants", "%.0f"))
	t.p("|---|---:|")
	t.p("| SIGTERM until the old wapoold exited (browsers closed gracefully) | %s |", t.res.Fmt(r, "stop-s", "%.1f s"))
	t.p("| fresh wapoold until the first tenant is READY | %s |", t.res.Fmt(r, "first-READY-s", "%.1f s"))
	t.p("| fresh wapoold until all are READY (`--warm-parallel 2`, the default) | %s |", t.res.Fmt(r, "all-READY-s", "%.1f s"))
	t.p("")
}

func (t *tables) hibernate() {
	const h = "Hibernate"
	if !t.ran(h) {
		return
	}
	t.p("| Send (`--idle-hibernate 1s`, new recipient each time) | p50 | p95 | attempt in the daemon, p50 | rest of the call, p50 | failed |")
	t.p("|---|---:|---:|---:|---:|---:|")
	for _, r := range [][2]string{{"to a HIBERNATED tenant (wake + send)", "wake"}, {"to the same tenant, warm", "warm"}} {
		t.p("| %s | %s | %s | %s | %s | %s |", r[0], t.ms(h, r[1]+"-p50-ms"), t.ms(h, r[1]+"-p95-ms"),
			t.ms(h, r[1]+"-attempt-p50-ms"), t.ms(h, r[1]+"-rest-p50-ms"), t.res.Fmt(h, r[1]+"-failed", "%.0f"))
	}
	t.p("| wake ÷ warm | %s | | | | |", t.x(h, "ratio-wake-vs-warm"))
	t.p("")
}

func (t *tables) cycles() {
	const c = "Cycles"
	if !t.ran(c) {
		return
	}
	get := func(unit string) float64 { v, _ := t.res.Get(c, unit); return v }
	arrow := func(m string) string {
		a, b := get(m+"-before"), get(m+"-after")
		return fmt.Sprintf("%g → %g (%+g)", a, b, b-a)
	}
	t.p("| measure | value |")
	t.p("|---|---:|")
	t.p("| SIGKILLs that came back READY / cycles | %g / %g |", get("cycles")-get("failed"), get("cycles"))
	t.p("| kill → READY with a new browser, p50 / p95 | %s / %s |", t.ms(c, "kill-p50-ms"), t.ms(c, "kill-p95-ms"))
	t.p("| Status browser.restarts of the tenants at the end | %g |", get("status-restarts"))
	t.p("| daemon open fds (/proc/<pid>/fd), before → after | %s |", arrow("fds"))
	t.p("| daemon process_open_fds (/metrics, its scrape socket included) | %s |", arrow("metric-fds"))
	t.p("| daemon go_goroutines | %s |", arrow("goroutines"))
	t.p("| processes per profile | %s |", arrow("procs/profile"))
	t.p("| orphans (on the profiles, outside the current browsers' trees) / zombies | %g / %g |", get("orphans"), get("zombies"))
	t.p("| SIGTERM → wapoold exited: exit code / time | %g / %s |", get("exit-code"), t.ms(c, "stop-ms"))
	t.p("| Chrome left on the profiles after the exit | %g |", get("chrome-left"))
	ok := get("failed") == 0 && get("fds-after")-get("fds-before") <= cyclesEps && get("goroutines-after")-get("goroutines-before") <= cyclesEps &&
		get("orphans") == 0 && get("zombies") == 0 && get("exit-code") == 0 && get("chrome-left") == 0
	t.p("")
	t.p("Verdict (every cycle back, fds and goroutines within ±%d, no orphan, no zombie, exit 0, no Chrome left): %s.", cyclesEps, benchtable.Verdict(true, ok))
	t.p("")
}

// media prints BenchmarkMediaSend: files through wapool beside a text
// through wapool (their floor) and beside a bare browser sending the same.
func (t *tables) media() {
	nr, oc := "MediaSend/new-recipient", "MediaSend/open-chat"
	if !t.ran(nr, oc) {
		return
	}
	t.p("fakewa uploads a file in %s per MiB (its `UploadPerMiB` knob; a quarter of that at least), so the file rows describe fakewa, not WhatsApp's network.",
		t.res.Fmt(nr, "upload-ms-per-MiB", "%.0f ms"))
	t.p("")
	t.p("| message | new recipient p50 | p95 | chat open p50 | p95 | failed |")
	t.p("|---|---:|---:|---:|---:|---:|")
	rows := []struct{ label, prefix string }{
		{"(t) wapool `Send`, a text of ~70 characters: **the floor**", "text"},
		{"(p) wapool `Send`, a 100 KiB JPEG (a picture), a caption of the text's length", "picture"},
		{"(f) wapool `Send`, a 2 MiB PDF (a document), a caption likewise", "pdf"},
		{"(t₀) a bare chromedp program, the same page steps for the text", "floor-text"},
		{"(p₀) the bare program, a picture (attach button, the menu's input set by `DOM.setFileInputFiles`, caption, the preview's send button)", "floor-picture"},
		{"(f₀) the bare program, a PDF", "floor-pdf"},
	}
	for _, r := range rows {
		t.p("| %s | %s | %s | %s | %s | %s |", r.label, t.ms(nr, r.prefix+"-p50-ms"), t.ms(nr, r.prefix+"-p95-ms"),
			t.ms(oc, r.prefix+"-p50-ms"), t.ms(oc, r.prefix+"-p95-ms"), t.sum(r.prefix+"-failed", nr, oc))
	}
	t.p("")
	t.p("| comparison | new recipient p50 | p95 | chat open p50 | p95 |")
	t.p("|---|---:|---:|---:|---:|")
	files := []struct{ letter, kind string }{{"p", "picture"}, {"f", "pdf"}}
	for _, k := range files {
		t.p("| (%s) ÷ (t): the file through wapool ÷ the text through wapool | %s | %s | %s | %s |", k.letter,
			t.x(nr, "ratio-"+k.kind+"-vs-text"), t.x(nr, "ratio-"+k.kind+"-vs-text-p95"), t.x(oc, "ratio-"+k.kind+"-vs-text"), t.x(oc, "ratio-"+k.kind+"-vs-text-p95"))
	}
	for _, k := range files {
		d := func(name, unit string) string { return t.res.Fmt(name, unit, "%+.0f ms") }
		t.p("| (%s) − (%s₀): wapool − the bare program, the same kind of file | %s | %s | %s | %s |", k.letter, k.letter,
			d(nr, k.kind+"-minus-floor-p50-ms"), d(nr, k.kind+"-minus-floor-p95-ms"), d(oc, k.kind+"-minus-floor-p50-ms"), d(oc, k.kind+"-minus-floor-p95-ms"))
	}
	t.p("")
	t.p("Where the time goes (p50 of each phase, in ms):")
	t.p("")
	cols := []struct{ head, phase string }{
		{"chat opening", "open"}, {"attach: menu, input, preview", "attach"}, {"text or caption", "input"},
		{"click → tick", "ack"}, {"attempt in the daemon", "attempt"}, {"outbox, queue, gRPC", "rest"},
	}
	head := "| route |"
	for _, c := range cols {
		head += " " + c.head + " |"
	}
	t.p("%s", head)
	t.p("|---|%s", strings.Repeat("---:|", len(cols)))
	for _, name := range []struct{ label, name string }{{"new recipient", nr}, {"chat open", oc}} {
		for _, r := range rows {
			line := "| " + strings.SplitN(r.label, " ", 2)[0] + ", " + name.label + " |"
			for _, c := range cols {
				v := t.res.Fmt(name.name, r.prefix+"-"+c.phase+"-p50-ms", "%.0f")
				if v == "—" {
					v = "·"
				}
				line += " " + v + " |"
			}
			t.p("%s", line)
		}
	}
	t.p("")
}

// sum formats the sum of a metric over benchmarks, "—" when none has it.
func (t *tables) sum(unit string, names ...string) string {
	total, found := 0.0, false
	for _, n := range names {
		if v, ok := t.res.Get(n, unit); ok {
			total, found = total+v, true
		}
	}
	if !found {
		return "—"
	}
	return fmt.Sprintf("%.0f", total)
}

// goalCopies bounds the daemon's peak memory growth per file sent, in
// copies of the file.
const goalCopies = 1.0

// mediaMemory prints BenchmarkMediaMemory: the daemon's peak RSS growth
// while files arrive over gRPC.
func (t *tables) mediaMemory() {
	one, all := "MediaMemory/one", "MediaMemory/all"
	if !t.ran(one, all) {
		return
	}
	t.p("| 16 MiB PDFs sent at once over gRPC, each tenant on its own connection | call | idle RSS | peak RSS growth: median (first round, max) | per file, max | call p50 / p95 | failed | goal ≤ %.0f copy per file |", goalCopies)
	t.p("|---|---|---:|---:|---:|---:|---:|---|")
	steps := []string{one, all}
	if t.ran("MediaMemory/stream-one", "MediaMemory/stream-all") {
		steps = append(steps, "MediaMemory/stream-one", "MediaMemory/stream-all")
	}
	for _, n := range steps {
		c, ok := t.res.Get(n, "copies-per-file")
		mib := func(unit string) string { return t.res.Fmt(n, unit, "%.0f MiB") }
		call := "`Send`"
		if strings.Contains(n, "/stream-") {
			call = "`SendFile` (256 KiB chunks)"
		}
		t.p("| %s file(s) × %s, %s rounds | %s | %s | +%s (+%s, +%s) | %s copies | %s / %s | %s | %s |",
			t.res.Fmt(n, "files", "%.0f"), t.res.Fmt(n, "file-MiB", "%.0f MiB"), t.res.Fmt(n, "rounds", "%.0f"), call,
			mib("idle-RSS-MiB"), mib("peak-growth-MiB"), mib("peak-growth-first-MiB"), mib("peak-growth-max-MiB"),
			t.res.Fmt(n, "copies-per-file", "%.2f"), t.ms(n, "send-p50-ms"), t.ms(n, "send-p95-ms"),
			t.res.Fmt(n, "send-failed", "%.0f"), benchtable.Verdict(ok, c <= goalCopies))
	}
	t.p("")
}
