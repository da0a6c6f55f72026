package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/wapool/wapool/internal/freeport"
	"github.com/wapool/wapool/internal/percentile"
	"github.com/wapool/wapool/internal/pgtest"
	"github.com/wapool/wapool/internal/wapooldtest"
)

// cluster is three wapoold nodes on one PostgreSQL database and one
// file:// bucket, with linkedTenants tenants linked, for one lease TTL.
type cluster struct {
	r       *run
	ttl     time.Duration
	dir     string
	bucket  string // the bucket's dir
	args    []string
	nodes   map[string]*node // by --node-id, the dead and stopped ones too
	tenants []string
	where   map[string]string     // tenant → node, when the tenants settled after their links
	gone    []string              // nodes killed or stopped
	keys    []*age.X25519Identity // --snapshot-key-file's: the snapshots are sealed, as in production
}

// startCluster starts the nodes n1, n2, n3 with --lease-ttl ttl, links the
// tenants through n1 and waits until each is READY with a snapshot and
// the placement holds still. The cluster's nodes are killed when b ends, if
// still running.
func (r *run) startCluster(b *testing.B, run int, ttl time.Duration) (*cluster, error) {
	dir := filepath.Join(r.e.root, "ttl="+ttl.String())
	c := &cluster{r: r, ttl: ttl, dir: dir, bucket: filepath.Join(dir, "bucket"), nodes: map[string]*node{}}
	b.Cleanup(c.cleanup)
	if err := os.MkdirAll(c.bucket, 0o700); err != nil {
		return nil, err
	}
	key, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	keyFile := filepath.Join(dir, "snapshot-keys")
	if err := os.WriteFile(keyFile, []byte(key.String()+"\n"), 0o600); err != nil {
		return nil, err
	}
	c.keys = []*age.X25519Identity{key}
	c.args = []string{
		"--store", pgtest.Start(b).NewDatabase(b),
		"--profile-store", fileURL(c.bucket),
		"--snapshot-key-file", keyFile,
		"--lease-ttl", ttl.String(),
		"--snapshot-after-activity", snapshotAfterActivity, // the refresh step's
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		if err := c.start(id); err != nil {
			return nil, err
		}
	}
	for i := range linkedTenants {
		t := fmt.Sprintf("t%d", i+1)
		progress("ttl=%v: linking %s (%d of %d) through n1", ttl, t, i+1, linkedTenants)
		if err := r.e.link(c.nodes["n1"], t, fmt.Sprintf("155530%d%04d", run, i+1)); err != nil {
			return nil, err
		}
		c.tenants = append(c.tenants, t)
	}
	if c.where, err = c.settle(); err != nil {
		return nil, err
	}
	progress("ttl=%v: every tenant READY with a snapshot: %v", ttl, c.where)
	return c, nil
}

// start runs node id on a port chosen here, so that its --advertise-addr
// is known before it starts.
func (c *cluster) start(id string) error {
	addr, err := freeport.Addr()
	if err != nil {
		return err
	}
	n, err := c.r.e.start(id, filepath.Join(c.dir, id), append(slices.Clone(c.args), "--node-id", id, "--listen", addr, "--advertise-addr", addr)...)
	if err != nil {
		return err
	}
	c.nodes[id] = n
	return nil
}

// via returns a running node not gone, the first by id.
func (c *cluster) via() *node {
	for _, id := range slices.Sorted(maps.Keys(c.nodes)) {
		if n := c.nodes[id]; n.Running() && !slices.Contains(c.gone, id) {
			return n
		}
	}
	return nil
}

// settleFor is how long the placement must hold still: longer than the
// snapshot taken 5 s after a link plus a placement tick.
const settleFor = 8 * time.Second

// settle waits until every tenant is READY on a node not gone, with a
// snapshot, and neither its node nor its browser changed for settleFor;
// it returns the node of each.
func (c *cluster) settle() (map[string]string, error) {
	type seen struct {
		node string
		pid  int32
	}
	var last map[string]seen
	var since time.Time
	where := map[string]string{}
	if c.via() == nil {
		return nil, fmt.Errorf("no node runs")
	}
	err := waitUntil("every tenant READY with a snapshot, the placement still", 5*time.Minute, 500*time.Millisecond, func() bool {
		now := map[string]seen{}
		via := c.via()
		for _, t := range c.tenants {
			s, err := via.status(t)
			if err != nil || s.GetState() != ready || !s.GetSnapshotAt().IsValid() || s.GetNode() == "" || slices.Contains(c.gone, s.GetNode()) {
				last = nil
				return false
			}
			now[t] = seen{s.GetNode(), s.GetBrowser().GetPid()}
		}
		if !maps.Equal(now, last) {
			last, since = now, time.Now()
			return false
		}
		return time.Since(since) >= settleFor
	})
	if err != nil {
		return nil, fmt.Errorf("%w:%s", err, c.sessions(c.via()))
	}
	for t, s := range last {
		where[t] = s.node
	}
	return where, nil
}

// holdsMost returns the node, not gone, that holds the most tenants (the
// first by id on a tie) and those tenants.
func holdsMost(where map[string]string) (string, []string) {
	by := map[string][]string{}
	for t, n := range where {
		by[n] = append(by[n], t)
	}
	best := ""
	for _, n := range slices.Sorted(maps.Keys(by)) {
		if best == "" || len(by[n]) > len(by[best]) {
			best = n
		}
	}
	return best, slices.Sorted(slices.Values(by[best]))
}

// moved is when each tenant of a move was first held by a node not gone
// (taken) and first READY there, from the signal.
type moved struct {
	taken, ready map[string]time.Duration
	exit         time.Duration // until the signalled node exited; 0 if it did not while polled
}

// comeBack polls Status of each tenant through via every 100 ms from t0
// until each is READY on a node not gone, and notes when the node left
// exited.
func (c *cluster) comeBack(via, left *node, tenants []string, t0 time.Time, timeout time.Duration) (moved, error) {
	m := moved{taken: map[string]time.Duration{}, ready: map[string]time.Duration{}}
	err := waitUntil("the tenants READY on another node", timeout, 100*time.Millisecond, func() bool {
		if m.exit == 0 && !left.Running() {
			m.exit = time.Since(t0)
		}
		for _, t := range tenants {
			if _, ok := m.ready[t]; ok {
				continue
			}
			s, err := via.status(t)
			if err != nil || s.GetNode() == "" || slices.Contains(c.gone, s.GetNode()) {
				continue // a forward to the dead node, or nobody holds it yet
			}
			if _, ok := m.taken[t]; !ok {
				m.taken[t] = time.Since(t0)
			}
			if s.GetState() == ready {
				m.ready[t] = time.Since(t0)
			}
		}
		return len(m.ready) == len(tenants)
	})
	return m, err
}

// report reports a move's times.
func (m moved) report(b *testing.B) {
	ready, taken := slices.Collect(maps.Values(m.ready)), slices.Collect(maps.Values(m.taken))
	b.ReportMetric(float64(len(ready)), "tenants")
	b.ReportMetric(seconds(percentile.Of(ready, 50)), "ready-p50-s")
	b.ReportMetric(seconds(percentile.Of(ready, 100)), "ready-max-s")
	b.ReportMetric(seconds(percentile.Of(taken, 50)), "taken-p50-s")
	b.ReportMetric(seconds(percentile.Of(taken, 100)), "taken-max-s")
}

// kill SIGKILLs the node that holds the most tenants and times their
// return on the others.
func (c *cluster) kill(b *testing.B) error {
	victim, tenants := holdsMost(c.where)
	progress("ttl=%v: SIGKILL of %s, which holds %v", c.ttl, victim, tenants)
	n := c.nodes[victim]
	c.gone = append(c.gone, victim)
	t0 := time.Now()
	if err := n.Kill(); err != nil {
		return err
	}
	m, err := c.comeBack(c.via(), n, tenants, t0, c.ttl+3*time.Minute)
	if err != nil {
		return err
	}
	if left := wapooldtest.WaitNoBrowsers(n.dataDir, 10*time.Second); left != nil {
		return fmt.Errorf("browsers of the killed node %s left: %v", victim, left)
	}
	m.report(b)
	ready := slices.Collect(maps.Values(m.ready))
	base := c.ttl + c.r.wake
	b.ReportMetric(seconds(c.ttl), "ttl-s")
	if c.r.wake > 0 {
		b.ReportMetric(float64(percentile.Of(ready, 50))/float64(base), "ratio-p50")
		b.ReportMetric(float64(percentile.Of(ready, 100))/float64(base), "ratio-max")
	}
	progress("ttl=%v: %d tenants READY elsewhere %.1f s (p50) and %.1f s (max) after the SIGKILL; taken %.1f s (p50)",
		c.ttl, len(ready), seconds(percentile.Of(ready, 50)), seconds(percentile.Of(ready, 100)), seconds(percentile.Of(slices.Collect(maps.Values(m.taken)), 50)))
	return nil
}

// move SIGTERMs the survivor that holds the most tenants (a planned move:
// it drains) and times their return on the last node.
func (c *cluster) move(b *testing.B) error {
	where, err := c.settle()
	if err != nil {
		return err
	}
	drained, tenants := holdsMost(where)
	progress("ttl=%v: SIGTERM to %s, which holds %v", c.ttl, drained, tenants)
	n := c.nodes[drained]
	c.gone = append(c.gone, drained)
	t0 := time.Now()
	if err := n.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	m, err := c.comeBack(c.via(), n, tenants, t0, 3*time.Minute)
	if err != nil {
		return err
	}
	code, err := n.Wait(stopTimeout)
	if m.exit == 0 {
		m.exit = time.Since(t0)
	}
	if err != nil || code != 0 {
		return fmt.Errorf("node %s after SIGTERM: exit %d, %v\n%s", drained, code, err, logTail(n, 30))
	}
	if left := wapooldtest.WaitNoBrowsers(n.dataDir, 10*time.Second); left != nil {
		return fmt.Errorf("browsers of the stopped node %s left: %v", drained, left)
	}
	m.report(b)
	b.ReportMetric(seconds(m.exit), "exit-s")
	ready := slices.Collect(maps.Values(m.ready))
	progress("ttl=%v: %d tenants READY elsewhere %.1f s (p50) and %.1f s (max) after the SIGTERM; the node exited after %.1f s",
		c.ttl, len(ready), seconds(percentile.Of(ready, 50)), seconds(percentile.Of(ready, 100)), seconds(m.exit))
	return nil
}

// finish stops the last node gracefully (it drains: each tenant's
// browser closes and its profile is uploaded), then keeps each tenant's
// newest snapshot for the snapshot step.
func (r *run) finish(c *cluster) error {
	where, err := c.settle()
	if err != nil {
		return err
	}
	last := c.via()
	profileBytes := map[string]int64{}
	for t, n := range where {
		if n != last.id {
			return fmt.Errorf("tenant %s on %s, want every tenant on the last node %s", t, n, last.id)
		}
		// Not Status.profile_bytes: a node caches it for a minute, and
		// the 0 it read before the tenant came.
		if profileBytes[t], err = treeBytes(filepath.Join(last.dataDir, "profiles", t)); err != nil {
			return err
		}
	}
	c.gone = append(c.gone, last.id)
	if _, err := last.stop(); err != nil {
		return err
	}
	kept, err := keep(c, profileBytes)
	if err != nil {
		return err
	}
	r.kept = append(r.kept, kept...)
	return nil
}

// cleanup kills the nodes still running (a step failed).
func (c *cluster) cleanup() {
	for _, n := range c.nodes {
		_ = n.Kill()
		_ = n.Close()
	}
}

// sessions describes each tenant's session as n answers, for the error of
// a failed wait.
func (c *cluster) sessions(n *node) string {
	out := ""
	for _, t := range c.tenants {
		s, err := n.status(t)
		if err != nil {
			out += fmt.Sprintf(" %s: %v;", t, err)
			continue
		}
		out += fmt.Sprintf(" %s: %s on %q, snapshot %v;", t, s.GetState(), s.GetNode(), s.GetSnapshotAt().IsValid())
	}
	return out
}
