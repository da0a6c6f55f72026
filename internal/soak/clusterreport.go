package main

import (
	"fmt"
	"strings"
	"time"
)

// Cluster log messages the report counts (package cluster).
const (
	logTook     = "took the tenant"
	logMoved    = "moved the tenant away"
	logRestored = "profile restored from its snapshot"
	logUploaded = "profile snapshot uploaded"
	logLost     = "lease lost: stopping the tenant's browser"
)

// reportCluster prints how the cluster run went: Send calls, the nodes
// stopped and started, the failovers timed by the monitor, what the
// nodes' logs say, and what the event log says.
func (s *soak) reportCluster(producers []*producer, ch *nodeChaos, fs []failover, lc logCounts, att attribution) {
	s.reportSends(producers)
	elsewhere := 0
	for _, p := range producers {
		elsewhere += p.elsewhere
	}
	fmt.Fprintf(s.out, "messages accepted by another node after a call failed (same idempotency key): %d\n", elsewhere)
	fmt.Fprintf(s.out, "nodes taken out: %d SIGKILL, %d SIGTERM, %d SIGSTOP; started again %d times on their data dir, %d on a fresh one (serving after %s); PostgreSQL restarted %d times, a node's sessions killed %d times\n",
		ch.made[sigKill], ch.made[sigTerm], ch.made[sigStop], ch.sameDir, ch.fresh, spread(ch.restartServing), ch.made[pgRestart], ch.made[connKill])
	if len(ch.termStops) > 0 {
		fmt.Fprintf(s.out, "SIGTERM to exit (the drain: every tenant closed, uploaded, released): %s\n", spread(ch.termStops))
	}
	if len(ch.renewFails) > 0 {
		fmt.Fprintf(s.out, "CONN-KILL: a renewal failed after %v terminations of the node's PostgreSQL sessions (per round)\n", ch.renewFails)
	}
	for _, kind := range []string{sigKill, sigTerm, sigStop, pgRestart, connKill} {
		var took []time.Duration
		var each []string
		empty := 0
		for _, f := range fs {
			switch {
			case f.kind != kind:
			case len(f.tenants) == 0:
				empty++
			case f.done:
				took = append(took, f.took)
				each = append(each, fmt.Sprintf("%s %d→%v", f.node, len(f.tenants), f.took.Round(100*time.Millisecond)))
			default:
				each = append(each, fmt.Sprintf("%s %d→never", f.node, len(f.tenants)))
			}
		}
		if len(each) == 0 && empty == 0 {
			continue
		}
		fmt.Fprintf(s.out, "%s of a node to all its tenants READY again: %s (node tenants→time: %s", kind, spread(took), strings.Join(each, ", "))
		if empty > 0 {
			fmt.Fprintf(s.out, "; %d held none", empty)
		}
		fmt.Fprintln(s.out, ")")
	}
	fmt.Fprintf(s.out, "cluster log: %d tenants taken, %d moved away (planned), %d profiles restored from a snapshot, %d snapshots uploaded, %d leases lost\n",
		lc.info[logTook], lc.info[logMoved], lc.info[logRestored], lc.info[logUploaded], lc.info[logLost])
	fmt.Fprintf(s.out, "event log: %d message events read back (%d SENT); %d messages with two WhatsApp ids, %d WhatsApp ids of two messages, %d messages SENT more than once with one id\n",
		att.events, att.sentEvents, len(att.twoIDs), len(att.shared), att.sentTwice)
	s.reportLog(lc)
}
