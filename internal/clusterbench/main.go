// Command clusterbench prints the README's table "Cluster: failover and
// snapshots" from the output of BenchmarkFailover, which lives beside it
// in failover_test.go:
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 30m -json ./internal/clusterbench/ | go run ./internal/clusterbench
//
// It reads `go test -json` events or plain `go test -bench` text from
// stdin, echoes the text to stderr as it comes (the benchmark's progress),
// and at the end writes a markdown table to stdout: for each lease TTL,
// the failover after a SIGKILL beside the TTL plus one tenant's cold start,
// and the planned move after a SIGTERM; then the cold starts, and the
// snapshots per tenant. It exits 1 when a step reported no metrics.
package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/wapool/wapool/internal/benchtable"
)

// slackSeconds is what a failover may take beyond the lease TTL and a
// tenant's cold start: the survivors' placement tick (1 s), which notices
// the dead node, and half a second for the snapshot's restore and the
// benchmark's polling.
const slackSeconds = 1.5

// ttls are the lease TTLs of the cluster runs, as in the benchmarks' names.
var ttls = []string{"15s", "3s"}

const pre = "Failover/"

// refresh is the step that prices a snapshot after activity.
const refresh = "ttl=15s/refresh"

func main() { benchtable.Main("clusterbench", table) }

// steps are the sub-benchmarks that report metrics.
func steps() []string {
	s := []string{pre + "cold", pre + refresh}
	for _, ttl := range ttls {
		s = append(s, pre+"ttl="+ttl+"/kill", pre+"ttl="+ttl+"/move")
	}
	return append(s, pre+"snapshot")
}

// table writes the markdown table and returns the steps that reported
// nothing.
func table(w io.Writer, res benchtable.Results) (missing []string) {
	for _, m := range res.Missing(steps()...) {
		missing = append(missing, strings.TrimPrefix(m, pre))
	}
	val := func(step, unit, format string) string { return res.Fmt(pre+step, unit, format) }
	get := func(step, unit string) (float64, bool) { return res.Get(pre+step, unit) }
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	wake, okWake := get("cold", "wake-READY-s")

	p("| measure | value | goal | |")
	p("|---|---:|---|---|")
	for _, ttl := range ttls {
		k, m := "ttl="+ttl+"/kill", "ttl="+ttl+"/move"
		p("| TTL %s, SIGKILL of the node holding the most (%s of 6 tenants): each READY on another node, p50 (max) | %s s (%s s) | | |",
			ttl, val(k, "tenants", "%.0f"), val(k, "ready-p50-s", "%.1f"), val(k, "ready-max-s", "%.1f"))
		p("| … its lease taken (Status names another node), p50 (max) | %s s (%s s) | | |",
			val(k, "taken-p50-s", "%.1f"), val(k, "taken-max-s", "%.1f"))
		ratio, okRatio := get(k, "ratio-p50")
		ttlS, okTTL := get(k, "ttl-s")
		goal, within := "—", false
		if okWake && okTTL {
			bound := 1 + slackSeconds/(ttlS+wake)
			goal = fmt.Sprintf("≤ %.2f× (TTL + cold start + %.1f s)", bound, slackSeconds)
			within = ratio <= bound
		}
		p("| … failover ÷ (TTL + one tenant's cold start, %s s), p50 (max) | %s× (%s×) | %s | %s |",
			val("cold", "wake-READY-s", "%.2f"), val(k, "ratio-p50", "%.2f"), val(k, "ratio-max", "%.2f"),
			goal, benchtable.Verdict(okRatio && okWake && okTTL, within))
		p("| TTL %s, SIGTERM (a planned move) of the survivor holding the most (%s tenants): each READY on another node, p50 (max) | %s s (%s s) | | |",
			ttl, val(m, "tenants", "%.0f"), val(m, "ready-p50-s", "%.1f"), val(m, "ready-max-s", "%.1f"))
		p("| … the drained node exited after | %s s | | |", val(m, "exit-s", "%.1f"))
	}
	p("| one tenant's cold start on a running daemon: Send to a HIBERNATED tenant → READY, median of 3 (min–max) | %s s (%s–%s) | | |",
		val("cold", "wake-READY-s", "%.2f"), val("cold", "wake-min-s", "%.2f"), val("cold", "wake-max-s", "%.2f"))
	p("| one cold start of a single daemon with 1 linked tenant: start → READY, median of 3 (min–max) | %s s (%s–%s) | | |",
		val("cold", "cold-READY-s", "%.2f"), val("cold", "cold-min-s", "%.2f"), val("cold", "cold-max-s", "%.2f"))
	p("| a snapshot after activity (graceful close, upload, cold start; %s tenants): the tenant not READY for, p50 (max) | %s s (%s s) | | |",
		val(refresh, "tenants", "%.0f"), val(refresh, "down-p50-s", "%.2f"), val(refresh, "down-max-s", "%.2f"))
	p("| … it began after the last send, p50; a Send made during it: SENT after, p50 (max) | %s s; %s s (%s s) | | |",
		val(refresh, "quiet-p50-s", "%.1f"), val(refresh, "send-p50-s", "%.2f"), val(refresh, "send-max-s", "%.2f"))
	s := "snapshot"
	p("| snapshot per tenant (%s tenants): stored in the bucket (sealed), p50 (max) | %s KiB (%s KiB) | | |",
		val(s, "tenants", "%.0f"), kib(res, s, "bytes-p50"), kib(res, s, "bytes-max"))
	p("| … files in it, p50; their size restored, p50; the profile dir on its node while READY, p50 | %s; %s KiB; %s KiB | | |",
		val(s, "files-p50", "%.0f"), kib(res, s, "restored-bytes-p50"), kib(res, s, "profile-bytes-p50"))
	p("| … upload (Save to file://, sealed with age), p50 (max) | %s ms (%s ms) | | |", val(s, "save-ms-p50", "%.0f"), val(s, "save-ms-max", "%.0f"))
	p("| … the same profile saved in plaintext (--snapshot-unencrypted): size, upload, p50 | %s KiB, %s ms | | |", kib(res, s, "plain-bytes-p50"), val(s, "plain-save-ms-p50", "%.0f"))
	p("| … restore (Restore from file://, every file fsynced), p50 (max) | %s ms (%s ms) | | |", val(s, "restore-ms-p50", "%.0f"), val(s, "restore-ms-max", "%.0f"))
	return missing
}

// kib formats a metric in bytes as KiB.
func kib(res benchtable.Results, step, unit string) string {
	v, ok := res.Get(pre+step, unit)
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%.0f", v/1024)
}
