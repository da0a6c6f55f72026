package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wapool/wapool/internal/pgtest"
	"github.com/wapool/wapool/internal/wapooldtest"
)

// termTimeout bounds a node's exit after SIGTERM: its --stop-timeout (30 s,
// the drain of its tenants included) and some.
const termTimeout = 60 * time.Second

// What a round of the node chaos does to its node.
const (
	sigKill = "SIGKILL" // the node dies; its tenants come back elsewhere after their leases expire
	sigTerm = "SIGTERM" // the node drains: its tenants move (planned), then it exits 0
	sigStop = "SIGSTOP" // the node freezes past its leases (SIGCONT after): it must never act for the tenants it lost
	// pgRestart restarts PostgreSQL (fast shutdown, down one to two lease
	// TTLs): every
	// node's sessions are cut, renewals fail; every tenant must be READY
	// again within one lease TTL and a cold start after the database is
	// back, with nothing lost or sent twice.
	pgRestart = "PG-RESTART"
	// connKill terminates one node's PostgreSQL sessions: its next renewal
	// (or the one in flight) fails once, and the pools reconnect. A node
	// holding tenants is chosen; the round checks that a renewal failed
	// (the node logged it), terminating again when the pool replaced the
	// dead connection before the renewal used it (pgxpool pings a
	// connection idle for more than a second), and the monitor that its
	// tenants are READY after.
	connKill = "CONN-KILL"
)

// pgReadyBudget is what a PostgreSQL restart may cost beyond the lease
// TTL, from the database back to every tenant READY: a cold start (2 to
// 3 s on fakewa) and a tick, on a loaded machine.
const pgReadyBudget = 8 * time.Second

// nodeChaos takes one node at a time out, at random moments, and brings it
// back after a pause: kills SIGKILLs and terms SIGTERMs (each followed by a
// restart with the same --node-id, on the node's data dir or a fresh one),
// stops SIGSTOPs past the lease TTL (then SIGCONT), in a random order. All
// nodes serve between two rounds, so at least two serve at any time. It is
// owned by the goroutine that runs it; the main goroutine reads its fields
// after that goroutine ended.
type nodeChaos struct {
	s                     *soak
	c                     *cluster
	mon                   *monitor
	rng                   *rand.Rand
	kills, terms, stops   int // to make
	pgRestarts, connKills int // to make
	pg                    *pgtest.Server
	pgSlow                []string // findings: tenants not READY within TTL + pgReadyBudget of the database's return

	made           map[string]int  // rounds made, by kind
	renewFails     []int           // per CONN-KILL round, the terminations it took until a renewal failed
	noRenewFail    []string        // findings: CONN-KILL rounds after which no renewal failed
	sameDir, fresh int             // restarts on the node's last data dir, on a fresh one
	orphans        []string        // findings: browsers that outlived their node
	badExits       []string        // findings: a SIGTERMed node that did not exit 0 in time
	termStops      []time.Duration // from a SIGTERM to the exit (exit code 0 only)
	restartServing []time.Duration // from a restart's start to the node serving
}

// run makes the rounds. It returns with every node serving, or an error
// when a node would not start again.
func (ch *nodeChaos) run(ctx context.Context) error {
	o := ch.s.o
	ch.made = map[string]int{}
	var kinds []string
	for kind, n := range map[string]int{sigKill: ch.kills, sigTerm: ch.terms, sigStop: ch.stops, pgRestart: ch.pgRestarts, connKill: ch.connKills} {
		for range n {
			kinds = append(kinds, kind)
		}
	}
	slices.Sort(kinds) // map order is random: the seed alone decides
	ch.rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	for k, kind := range kinds {
		round := fmt.Sprintf("round %d/%d", k+1, len(kinds))
		if err := pause(ctx, between(ch.rng, o.minPause, o.maxPause)); err != nil {
			return err
		}
		up := ch.c.serving()
		if kind == connKill {
			up = ch.holders(up)
		}
		victim := up[ch.rng.IntN(len(up))]
		held := ch.mon.heldBy(victim.id)
		pid := victim.d.latest().PID()
		ch.s.printf("%s: %s %s (pid %d, holding %v)", round, kind, victim.id, pid, held)
		at := time.Now()
		var err error
		switch kind {
		case sigKill:
			err = ch.kill(victim, held, at)
		case sigTerm:
			ch.term(round, victim, held, at)
		case sigStop:
			err = ch.stop(ctx, round, victim, held, at)
		case pgRestart:
			err = ch.restartPG(ctx, round)
		case connKill:
			err = ch.killConns(ctx, round, victim, held, at)
		}
		if err != nil {
			return err
		}
		ch.made[kind]++
		if kind == sigStop || kind == pgRestart || kind == connKill {
			continue // the node runs on: no restart
		}
		if left := wapooldtest.WaitNoBrowsers(victim.dataDir(), orphanWait); len(left) > 0 {
			f := fmt.Sprintf("browsers %v still ran %v after node %s (pid %d) ended by %s", left, orphanWait, victim.id, pid, kind)
			ch.orphans = append(ch.orphans, f)
			ch.s.printf("FINDING: %s", f)
		}
		if err := pause(ctx, time.Until(at.Add(between(ch.rng, o.minDown, o.maxDown)))); err != nil {
			return err
		}
		if err := ch.restart(round, victim, at); err != nil {
			return err
		}
	}
	return nil
}

// kill SIGKILLs the node; its tenants' leases expire and they come back
// elsewhere (or on the node once restarted).
func (ch *nodeChaos) kill(victim *node, held []string, at time.Time) error {
	if err := victim.d.kill(); err != nil {
		return err
	}
	ch.s.flipBuild() // its tenants load their pages again elsewhere
	ch.mon.depart(sigKill, victim.id, at, held)
	return nil
}

// term SIGTERMs the node, which drains (its tenants move) and must exit 0
// within termTimeout.
func (ch *nodeChaos) term(round string, victim *node, held []string, at time.Time) {
	ch.mon.depart(sigTerm, victim.id, at, held)
	pid := victim.d.latest().PID()
	code, err := victim.d.term(termTimeout)
	took := time.Since(at)
	switch {
	case err != nil:
		ch.badExits = append(ch.badExits, fmt.Sprintf("%s (pid %d) after SIGTERM: %v", victim.id, pid, err))
	case code != 0:
		ch.badExits = append(ch.badExits, fmt.Sprintf("%s (pid %d) exited %d after SIGTERM", victim.id, pid, code))
	default:
		ch.termStops = append(ch.termStops, took)
	}
	ch.s.printf("%s: %s exited %d after SIGTERM in %v", round, victim.id, code, took.Round(100*time.Millisecond))
}

// stop freezes the node (SIGSTOP) for longer than twice the lease TTL, so
// that its tenants move while its browsers still run, then lets it go on
// (SIGCONT): it must notice the lost leases and stop those browsers
// without sending. Clients skip it meanwhile, as a health-checked balancer
// would.
func (ch *nodeChaos) stop(ctx context.Context, round string, victim *node, held []string, at time.Time) error {
	o := ch.s.o
	victim.paused.Store(true)
	if err := victim.d.latest().Signal(syscall.SIGSTOP); err != nil {
		victim.paused.Store(false)
		return err
	}
	ch.mon.depart(sigStop, victim.id, at, held)
	// Past twice the TTL: its leases expire, and the others stop counting
	// it live (heartbeats older than the TTL), so its tenants move.
	frozen := max(between(ch.rng, o.minDown, o.maxDown), 2*o.leaseTTL+2*time.Second)
	perr := pause(ctx, time.Until(at.Add(frozen)))
	if err := victim.d.latest().Signal(syscall.SIGCONT); err != nil {
		return err
	}
	victim.paused.Store(false)
	ch.mon.restarted(victim.id, time.Now())
	ch.s.printf("%s: %s goes on (SIGCONT) after %v frozen", round, victim.id, time.Since(at).Round(100*time.Millisecond))
	return perr
}

// restart starts the node again with the same --node-id, on a fresh data
// dir or its last one (at random).
func (ch *nodeChaos) restart(round string, victim *node, at time.Time) error {
	fresh := ch.rng.IntN(2) == 0
	start := time.Now()
	if err := victim.start(fresh); err != nil {
		return fmt.Errorf("restarting node %s: %w", victim.id, err)
	}
	ch.mon.restarted(victim.id, time.Now())
	ch.restartServing = append(ch.restartServing, time.Since(start))
	dir := "its data dir"
	if fresh {
		ch.fresh++
		dir = "a fresh data dir"
	} else {
		ch.sameDir++
	}
	ch.s.printf("%s: %s started again on %s after %v down, serving in %v", round, victim.id, dir,
		time.Since(at).Round(100*time.Millisecond), time.Since(start).Round(10*time.Millisecond))
	return nil
}

// between returns a random duration in [lo, hi].
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

// restartPG restarts the database; the failover of "postgres" closes once
// every tenant answered READY to a Status asked after the database was
// back. No other round begins before (or before twice the budget has
// passed: the soak then reports the failover unfinished or slow), so
// that no node fault falls into what the restart is measured by.
func (ch *nodeChaos) restartPG(ctx context.Context, round string) error {
	// Longer than the lease TTL: every node's watchdog stops its browsers
	// (no renewal), the leases lapse, and every tenant starts again.
	down := between(ch.rng, ch.s.o.leaseTTL, 2*ch.s.o.leaseTTL)
	var all []string
	for _, tn := range ch.s.tenants {
		all = append(all, tn.id)
	}
	if err := ch.pg.Restart(down); err != nil {
		return err
	}
	back := time.Now()
	ch.mon.depart(pgRestart, "postgres", back, all)
	ch.s.printf("%s: PostgreSQL restarted, down %v", round, down.Round(100*time.Millisecond))
	err := waitCond(ctx, 2*(ch.s.o.leaseTTL+pgReadyBudget), func() bool {
		fs, _ := ch.mon.results()
		return fs[len(fs)-1].done // depart appends; only this goroutine departs
	})
	if errors.Is(err, errTimeout) {
		return nil // reported by failoverFaults
	}
	return err
}

// Of the CONN-KILL round.
const (
	// renewFailedLog is the line a node logs when a renewal of its
	// leases failed (package cluster).
	renewFailedLog = `"msg":"renewing leases"`
	// connKillTries bounds the terminations of one round.
	connKillTries = 10
)

// holders returns the nodes of up that hold a tenant (as the monitor saw
// them last), or up when none does.
func (ch *nodeChaos) holders(up []*node) []*node {
	var out []*node
	for _, n := range up {
		if len(ch.mon.heldBy(n.id)) > 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return up
	}
	return out
}

// killConns terminates the victim's PostgreSQL sessions (they are named
// "wapoold NODE") until a renewal of its leases fails (it logs so), at
// most connKillTries times, waiting a lease TTL after each. The
// monitor then waits for its tenants READY (on it, or elsewhere if the
// failure cost the leases).
func (ch *nodeChaos) killConns(ctx context.Context, round string, victim *node, held []string, at time.Time) error {
	p := victim.d.latest()
	before := strings.Count(p.Log(), renewFailedLog)
	for try := 1; try <= connKillTries; try++ {
		n, err := ch.terminate(victim)
		if err != nil {
			return err
		}
		err = waitCond(ctx, ch.s.o.leaseTTL, func() bool { return strings.Count(p.Log(), renewFailedLog) > before })
		if err == nil {
			// From the failure on, the node's tenants must answer READY
			// again (on it, or elsewhere if it lost their leases).
			failed := time.Now()
			ch.mon.depart(connKill, victim.id, failed, held)
			ch.mon.restarted(victim.id, failed)
			ch.renewFails = append(ch.renewFails, try)
			ch.s.printf("%s: %d PostgreSQL sessions of %s terminated (termination %d): a renewal of its leases failed %v after the first",
				round, n, victim.id, try, failed.Sub(at).Round(10*time.Millisecond))
			return nil
		}
		if !errors.Is(err, errTimeout) {
			return err
		}
		ch.s.printf("%s: %d PostgreSQL sessions of %s terminated (termination %d): no renewal failed within the lease TTL", round, n, victim.id, try)
	}
	f := fmt.Sprintf("%s: no renewal of %s failed after %d terminations of its PostgreSQL sessions", round, victim.id, connKillTries)
	ch.noRenewFail = append(ch.noRenewFail, f)
	ch.s.printf("FINDING: %s", f)
	return nil
}

// terminate terminates the victim's PostgreSQL sessions and says how many.
func (ch *nodeChaos) terminate(victim *node) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, ch.pg.URL())
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		"wapoold "+victim.id).Scan(&n)
	return n, err
}
