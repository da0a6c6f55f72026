package main

import (
	"testing"
	"time"

	"github.com/wapool/wapool/internal/benchtable"
)

// Tenants and leases of the cluster runs.
const (
	linkedTenants = 6
	defaultTTL    = 15 * time.Second // wapoold's --lease-ttl default
	shortTTL      = 3 * time.Second  // e2e's
)

// BenchmarkFailover measures cluster mode (issue: "failover time beside one
// cold start; snapshot size and upload and restore time per tenant") with
// the real wapoold (built by TestMain), real Chromium, an in-process fakewa
// with its default timings, a real PostgreSQL (internal/pgtest) and a
// file:// bucket of snapshots. The sub-benchmarks are steps of one story,
// in this order:
//
//	cold            one tenant on a single node: daemon start → READY, and a
//	                wake from hibernation → READY (median of 3 each)
//	ttl=15s/refresh 3 nodes, --lease-ttl 15s, 6 tenants linked, each READY
//	                with its snapshot; a snapshot after activity of 3 of
//	                them, one after the other (refresh_test.go)
//	ttl=15s/kill    SIGKILL the node holding the most
//	ttl=15s/move    then SIGTERM the survivor holding the most (a drain)
//	ttl=3s/kill     the same on a new cluster with --lease-ttl 3s
//	ttl=3s/move
//	snapshot        per tenant: the snapshots in the buckets, timed Restore
//	                of each and Save of the profile restored
//
// Run it once, whole:
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 30m -json ./internal/clusterbench/ | go run ./internal/clusterbench
//
// Metrics (times from the benchmark's own clock, never from logs):
//   - cold: cold-READY-s, cold-min-s, cold-max-s; wake-READY-s,
//     wake-min-s, wake-max-s.
//   - kill: tenants (the victim's), ttl-s; ready-p50-s, ready-max-s: from
//     the SIGKILL until each of them is READY on another node (Status
//     through a survivor, polled every 100 ms); taken-p50-s, taken-max-s:
//     until Status first names another node (its lease was taken);
//     ratio-p50, ratio-max: ready ÷ (TTL + wake-READY-s).
//   - refresh: tenants; down-p50-s, down-max-s: a tenant not READY while
//     its holder closes its browser gracefully, uploads the profile and
//     starts it again (a snapshot after activity; the nodes run with
//     --snapshot-after-activity 2s so that it follows each send); quiet-p50-s:
//     from the send's SENT until the close began; send-p50-s, send-max-s: a
//     Send made during a refresh, until SENT.
//   - move: tenants (the drained node's); ready-p50-s, ready-max-s,
//     taken-p50-s, taken-max-s from the SIGTERM; exit-s: until the node
//     exited.
//   - snapshot: tenants; bytes-p50, bytes-max, files-p50: every linked
//     tenant's newest snapshot object in the run's bucket after the last
//     node's graceful stop; profile-bytes-p50: the regular files of the
//     profile dir on that node while READY, before that stop (Chrome's
//     cache lives elsewhere); restored-bytes-p50: those of the profile a
//     Restore writes; restore-ms-p50/-max, save-ms-p50/-max: per tenant,
//     internal/snapshot's Restore of that snapshot from the run's bucket
//     into a new dir, then Save of the restored profile to a new file://
//     bucket, timed here. (A drained node deletes its profiles, so the
//     profile a node uploaded is the real one left to time.)
//
// Progress goes to stderr as "clusterbench: …" lines.
func BenchmarkFailover(b *testing.B) {
	r := &run{e: setup(b)}
	b.Run("cold", func(b *testing.B) { r.Step(b, r.cold) })
	for i, ttl := range []time.Duration{defaultTTL, shortTTL} {
		b.Run("ttl="+ttl.String(), func(b *testing.B) {
			var c *cluster
			r.Step(b, func(b *testing.B) error {
				var err error
				c, err = r.startCluster(b, i, ttl)
				return err
			})
			if i == 0 {
				b.Run("refresh", func(b *testing.B) { r.Step(b, c.refresh) })
			}
			b.Run("kill", func(b *testing.B) { r.Step(b, c.kill) })
			b.Run("move", func(b *testing.B) { r.Step(b, c.move) })
			r.Step(b, func(*testing.B) error { return r.finish(c) })
		})
	}
	b.Run("snapshot", func(b *testing.B) { r.Step(b, r.snapshots) })
}

// run is the state the steps share. The benchmark's goroutine alone uses
// it: the steps run one after the other.
type run struct {
	benchtable.Steps
	e    *env
	wake time.Duration // the cold step's median wake
	kept []kept        // linked tenants' snapshots after the runs, for the snapshot step
}
