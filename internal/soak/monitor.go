package main

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

const (
	// monitorEvery is the pause between two rounds of the monitor's
	// Status calls (one per tenant, each through a random live node).
	monitorEvery = 250 * time.Millisecond
	// statusTimeout bounds one of the monitor's Status calls.
	statusTimeout = 5 * time.Second
)

// failover is a node's departure (a round of the node chaos) and the return of
// the tenants it held: it closes once each of them answered READY, to a
// Status asked after the departure, on another node or on the node itself
// restarted.
type failover struct {
	kind    string // SIGKILL, SIGTERM, SIGSTOP, PG-RESTART or CONN-KILL
	node    string
	at      time.Time // the signal
	tenants []string  // the tenants the node held then, as the monitor saw them

	restartedAt time.Time         // the node's restart; zero until then
	ready       map[string]string // tenant → the node it was READY on again
	took        time.Duration     // from at to the last tenant READY; set when done
	done        bool
}

// monitor polls every tenant's Status through random live nodes: where each
// runs (the tenants a node holds when the chaos loop stops it), when a
// departed node's tenants are READY again, and the states that need an
// operator. Its goroutine owns rng; mu guards the fields that follow it.
type monitor struct {
	s   *soak
	c   *cluster
	rng *rand.Rand

	mu        sync.Mutex
	last      map[string]*wapoolv1.Session // tenant → its last Status answer
	failovers []*failover                  // in the order of the departures
	incidents map[string]string            // tenant → last bad state seen (UNLINKED, FAILED)
}

func newMonitor(s *soak, c *cluster, rng *rand.Rand) *monitor {
	return &monitor{s: s, c: c, rng: rng, last: map[string]*wapoolv1.Session{}, incidents: map[string]string{}}
}

// run polls until ctx ends.
func (m *monitor) run(ctx context.Context) {
	for ctx.Err() == nil {
		for _, tn := range m.s.tenants {
			_, cl := m.c.pick(m.rng, "")
			if cl == nil {
				break
			}
			asked := time.Now()
			rctx, cancel := context.WithTimeout(ctx, statusTimeout)
			resp, err := cl.Status(rctx, &wapoolv1.StatusRequest{TenantId: tn.id})
			cancel()
			if err == nil {
				m.observe(tn.id, asked, time.Now(), resp.Session)
			}
		}
		_ = pause(ctx, monitorEvery)
	}
}

// observe records a Status answer asked at asked and answered at answered.
func (m *monitor) observe(tenant string, asked, answered time.Time, ss *wapoolv1.Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last[tenant] = ss
	m.s.noteIncident(m.incidents, tenant, ss)
	if ss.State != wapoolv1.SessionState_SESSION_STATE_READY || ss.Node == "" {
		return
	}
	for _, f := range m.failovers {
		if f.done || !asked.After(f.at) || !slices.Contains(f.tenants, tenant) {
			continue
		}
		if _, ok := f.ready[tenant]; ok {
			continue
		}
		if ss.Node == f.node && (f.restartedAt.IsZero() || !asked.After(f.restartedAt)) {
			continue // the departing node itself, still draining
		}
		f.ready[tenant] = ss.Node
		if len(f.ready) == len(f.tenants) {
			f.done, f.took = true, answered.Sub(f.at)
			m.s.printf("%s of %s: its tenants %s READY again after %v", f.kind, f.node, placed(f.ready), f.took.Round(100*time.Millisecond))
		}
	}
}

// placed renders tenant → node as "[c1 on n2, c4 on n3]".
func placed(where map[string]string) string {
	var parts []string
	for _, tn := range slices.Sorted(maps.Keys(where)) {
		parts = append(parts, tn+" on "+where[tn])
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// heldBy lists the tenants whose last Status put them on node, sorted.
func (m *monitor) heldBy(node string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for tn, ss := range m.last {
		if ss.Node == node {
			out = append(out, tn)
		}
	}
	slices.Sort(out)
	return out
}

// placement renders where every tenant ran at its last Status.
func (m *monitor) placement() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	where := map[string]string{}
	for tn, ss := range m.last {
		where[tn] = cmp.Or(ss.Node, "nowhere")
	}
	return placed(where)
}

// depart opens the failover of node, stopped by kind at at, holding
// tenants. A node that held none has nothing to fail over: it is recorded
// done at once.
func (m *monitor) depart(kind, node string, at time.Time, tenants []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := &failover{kind: kind, node: node, at: at, tenants: tenants, ready: map[string]string{}}
	f.done = len(tenants) == 0
	m.failovers = append(m.failovers, f)
}

// restarted records the restart of node: from now on a READY answer from
// it counts for its open failovers.
func (m *monitor) restarted(node string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.failovers {
		if f.node == node && f.restartedAt.IsZero() {
			f.restartedAt = at
		}
	}
}

// results returns copies of the failovers and the incidents, once the
// monitor has stopped (or at any time: they are copies).
func (m *monitor) results() ([]failover, map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]failover, len(m.failovers))
	for i, f := range m.failovers {
		out[i] = *f
	}
	return out, maps.Clone(m.incidents)
}

// failoverFaults names the failovers that did not end: tenants of a
// departed node never READY again.
func failoverFaults(fs []failover) []string {
	var out []string
	for _, f := range fs {
		if f.done {
			continue
		}
		var missing []string
		for _, tn := range f.tenants {
			if _, ok := f.ready[tn]; !ok {
				missing = append(missing, tn)
			}
		}
		out = append(out, fmt.Sprintf("after the %s of %s (at %s) its tenants %v were never READY again", f.kind, f.node, f.at.Format("15:04:05.000"), missing))
	}
	return out
}
