// Command idlebench prints the README's table "Idle cost of a tenant"
// (issue 13) from the output of BenchmarkIdleCost, which lives beside it
// in idle_test.go:
//
//	go test -run '^$' -bench IdleCost -benchtime 1x -timeout 30m -json ./internal/idlebench/ | go run ./internal/idlebench
//
// It reads `go test -json` events or plain `go test -bench` text from
// stdin, echoes the text to stderr as it comes (the benchmark's progress),
// and at the end writes a markdown table of the measures beside the
// issue's goals to stdout. The memory goal is judged on MemAvailable's drop
// less what the machine's other processes took or freed meanwhile (the
// raw drop is shown beside it): on a shared machine the raw drop measures
// the neighbours too; on a quiet one the two agree. It exits 1 when a step reported no metrics.
package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/wapool/wapool/internal/benchtable"
)

// Goals of issue 13.
const (
	goalMemMiB      = 100.0 // MemAvailable per warm idle tenant
	goalOverheadPct = 0.5   // wapool's idle CPU per tenant, % of one core
	goalRestartX    = 1.5   // all READY ≤ this × (N / warm-parallel) × a cold start
	warmParallel    = 2     // wapoold's default --warm-parallel
)

func main() { benchtable.Main("idlebench", table) }

// table writes the markdown table and returns the steps that reported
// nothing.
func table(w io.Writer, res benchtable.Results) (missing []string) {
	const pre = "IdleCost/"
	get := func(step, unit string) (float64, bool) { return res.Get(pre+step, unit) }
	val := func(step, unit, format string) string { return res.Fmt(pre+step, unit, format) }
	for _, m := range res.Missing(pre+"memory_N=10", pre+"memory_N=20", pre+"cpu_N=20", pre+"restart_N=20", pre+"cold_N=1") {
		missing = append(missing, strings.TrimPrefix(m, pre))
	}
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("| measure | value | goal | |")
	p("|---|---:|---|---|")
	for _, n := range []int{10, 20} {
		s := fmt.Sprintf("memory_N=%d", n)
		v, ok := get(s, "MemAvailCorr-MiB/tenant")
		p("| memory per tenant by MemAvailable, N = %d: drop ÷ N, the other processes' change (%s MiB) taken out (raw drop) | %s MiB (%s) | ≤ %.0f MiB | %s |",
			n, val(s, "others-MiB", "%+.0f"), val(s, "MemAvailCorr-MiB/tenant", "%.1f"), val(s, "MemAvail-MiB/tenant", "%.1f"), goalMemMiB, benchtable.Verdict(ok, v <= goalMemMiB))
		p("| summed PSS (USS) of the browsers ÷ N, N = %d | %s (%s) MiB | | |", n, val(s, "PSS-MiB/tenant", "%.1f"), val(s, "USS-MiB/tenant", "%.1f"))
		p("| the daemon's RSS, N = %d | %s MiB | | |", n, val(s, "daemon-RSS-MiB", "%.1f"))
	}
	c := "cpu_N=20"
	rounds := ""
	if k, ok := get(c, "rounds"); ok && k > 1 {
		rounds = fmt.Sprintf(", median of %.0f rounds", k)
	}
	p("| idle CPU per tenant, daemon running (a), N = 20%s | %s %% of a core | | |", rounds, val(c, "running-%core/tenant", "%.2f"))
	p("| … of which the daemon itself | %s %% | | |", val(c, "daemon-%core/tenant", "%.2f"))
	p("| idle CPU per tenant, daemon paused (b) | %s %% | | |", val(c, "paused-%core/tenant", "%.2f"))
	ov, ok := get(c, "overhead-%core/tenant")
	p("| wapool's overhead (a) − (b) (min–max) | %s %% (%s–%s) | ≤ %.1f %% | %s |", val(c, "overhead-%core/tenant", "%.2f"),
		val(c, "overhead-min-%core/tenant", "%.2f"), val(c, "overhead-max-%core/tenant", "%.2f"), goalOverheadPct, benchtable.Verdict(ok, ov <= goalOverheadPct))
	if _, ok := get(c, "base-overhead-%core/tenant"); ok {
		p("| the baseline build (-baseline), same rounds: running (a); paused (b); the daemon itself | %s; %s; %s %% | | |",
			val(c, "base-running-%core/tenant", "%.2f"), val(c, "base-paused-%core/tenant", "%.2f"), val(c, "base-daemon-%core/tenant", "%.2f"))
		p("| the baseline's overhead (a) − (b) (min–max) | %s %% (%s–%s) | | |", val(c, "base-overhead-%core/tenant", "%.2f"),
			val(c, "base-overhead-min-%core/tenant", "%.2f"), val(c, "base-overhead-max-%core/tenant", "%.2f"))
		p("| overhead ÷ the baseline's (median of the rounds' ratios) | %s× | | |", val(c, "overhead-ratio", "%.2f"))
	}
	all, okAll := get("restart_N=20", "all-READY-s")
	cold, okCold := get("cold_N=1", "cold-READY-s")
	bound := "—"
	if okCold {
		bound = fmt.Sprintf("%.1f s", goalRestartX*20/warmParallel*cold)
	}
	p("| restart: 20 tenants all READY after SIGTERM and a new start (first READY) | %s s (%s s) | ≤ %s | %s |",
		val("restart_N=20", "all-READY-s", "%.1f"), val("restart_N=20", "first-READY-s", "%.1f"), bound,
		benchtable.Verdict(okAll && okCold, all <= goalRestartX*20/warmParallel*cold))
	p("| one cold start, 1 linked tenant until READY (median of 3; min–max) | %s s (%s–%s) | | |",
		val("cold_N=1", "cold-READY-s", "%.2f"), val("cold_N=1", "cold-min-s", "%.2f"), val("cold_N=1", "cold-max-s", "%.2f"))
	x, okX := get("cold_N=1", "restart-x-cold")
	p("| all READY ÷ ((20 / warm-parallel %d) × cold start) | %s× | ≤ %.1f× | %s |", warmParallel, val("cold_N=1", "restart-x-cold", "%.2f"), goalRestartX, benchtable.Verdict(okX, x <= goalRestartX))
	return missing
}
