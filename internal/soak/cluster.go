package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"filippo.io/age"

	"github.com/wapool/wapool/internal/pgtest"
	"github.com/wapool/wapool/internal/wapooldtest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

const (
	// settleTimeout bounds the wait, after the links, for every tenant
	// READY with its first snapshot (taken about 5 s after its link).
	settleTimeout = 2 * time.Minute
	// clusterProduceTimeout bounds the production and chaos phase of the
	// cluster soak, whose length follows the chaos rounds.
	clusterProduceTimeout = 15 * time.Minute
	// nodeStopTimeout is the nodes' --stop-timeout: the bound on a drain
	// (moving every tenant away) and the browsers' close after SIGTERM.
	nodeStopTimeout = "30s"
)

// clusterTenants names n tenants c1..cn, each linked to its own account.
func clusterTenants(n int) []tenant {
	out := make([]tenant, n)
	for i := range out {
		out[i] = tenant{id: fmt.Sprintf("c%d", i+1), account: fmt.Sprintf("1555007%04d", 1001+2*i)}
	}
	return out
}

// runCluster is the cluster soak (see the package doc): it runs every phase
// and says whether the soak passed; an error means it could not finish.
func (s *soak) runCluster(ctx context.Context, wapoold, chrome string) (passed bool, err error) {
	o := s.o
	pg, err := pgtest.Launch()
	if err != nil {
		return false, err
	}
	defer func() {
		if err := pg.Close(); err != nil {
			s.printf("%v", err)
		}
	}()
	storeURL, err := pg.CreateDatabase("wapool_soak")
	if err != nil {
		return false, err
	}
	bucket := filepath.Join(o.workDir, "bucket")
	if err := os.MkdirAll(bucket, 0o700); err != nil {
		return false, err
	}
	key, err := age.GenerateX25519Identity()
	if err != nil {
		return false, err
	}
	keyFile := filepath.Join(o.workDir, "snapshot-keys") // the snapshots sealed, as in production
	if err := os.WriteFile(keyFile, []byte(key.String()+"\n"), 0o600); err != nil {
		return false, err
	}
	fake, err := startFake(o.editorDelay)
	if err != nil {
		return false, err
	}
	s.fake = fake
	defer fake.close()
	rcv, hookArgs, err := s.startHooks()
	if err != nil {
		return false, err
	}
	defer rcv.close()
	pki, err := newClusterPKI(o.workDir) // mTLS, see mtls.go
	if err != nil {
		return false, err
	}

	c := &cluster{}
	var logs []string
	logByNode := map[string]string{}
	for i := 1; i <= o.nodes; i++ {
		id := "n" + strconv.Itoa(i)
		logPath := filepath.Join(o.workDir, "node-"+id+".log")
		logFile, err := os.Create(logPath)
		if err != nil {
			return false, err
		}
		defer logFile.Close()
		logs = append(logs, logPath)
		logByNode[id] = logPath
		tlsArgs, err := pki.nodeArgs(id)
		if err != nil {
			return false, err
		}
		args := []string{
			"--target-url", fake.url, "--chromium", chrome,
			"--send-interval", "0", "--send-jitter", "0", "--metrics-addr", "", "--log-format", "json", "--log-level", o.logLevel,
			"--store", storeURL, "--profile-store", "file://" + filepath.ToSlash(bucket), "--snapshot-key-file", keyFile,
			"--node-id", id, "--lease-ttl", o.leaseTTL.String(), "--stop-timeout", nodeStopTimeout,
		}
		args = append(append(args, tlsArgs...), hookArgs...)
		c.nodes = append(c.nodes, &node{id: id, workDir: o.workDir, d: &daemon{bin: wapoold, logFile: logFile, args: args, creds: pki.creds,
			perStart: func(n int) []string { return []string{"--webhook-url", rcv.url(id, n)} }}})
	}
	// Whatever happens, no wapoold (and so no Chrome) outlives the soak.
	defer func() {
		for _, n := range c.nodes {
			if p := n.d.latest(); p != nil && p.Running() {
				_ = p.Signal(syscall.SIGCONT) // one left frozen by an interrupted chaos round
				_, _ = n.d.stop(stopTimeout)
			}
		}
	}()
	var addrs []string
	for _, n := range c.nodes {
		if err := n.start(false); err != nil {
			return false, err
		}
		addrs = append(addrs, n.id+" on "+n.d.latest().Addr())
	}
	s.printf("PostgreSQL at %s, fakewa on %s, webhook receiver on %s, nodes (mTLS) %s", strings.TrimSuffix(storeURL, "?sslmode=disable"), fake.url, rcv.base, strings.Join(addrs, ", "))
	if err := pki.checkRefused(ctx, c.nodes[0].d.latest().Addr()); err != nil {
		return false, err
	}
	hookFrom, err := waitHookStart(ctx, func() []string {
		var out []string
		for _, n := range c.nodes {
			if p := n.d.latest(); p != nil {
				out = append(out, p.Log())
			}
		}
		return out
	})
	if err != nil {
		return false, err
	}

	rng := rand.New(rand.NewPCG(o.seed, 1<<32))
	_, cl := c.pick(rng, "")
	startCursor, err := headCursor(ctx, cl)
	if err != nil {
		return false, fmt.Errorf("the event log's head: %w", err)
	}
	for _, tn := range s.tenants {
		if err := link(ctx, c.nodes[0].d, fake.Server, tn.id, tn.account); err != nil {
			return false, err
		}
		s.printf("linked %s to %s through %s", tn.id, tn.account, c.nodes[0].id)
	}
	mon := newMonitor(s, c, rand.New(rand.NewPCG(o.seed, 1<<33)))
	monCtx, stopMon := context.WithCancel(ctx)
	var monWG sync.WaitGroup
	monWG.Go(func() { mon.run(monCtx) })
	defer func() { stopMon(); monWG.Wait() }()
	if err := s.settle(ctx, c, rng); err != nil {
		return false, err
	}
	s.printf("every tenant is READY with a snapshot: %s; producing and stopping nodes at once", mon.placement())

	rcv.cycle(true)
	producers, ch, prodErr := s.produceUnderNodeChaos(ctx, c, mon, pg)
	rcv.cycle(false)
	acceptedAll, files := accepts(producers)
	s.printf("%d messages accepted (%d with a file); rounds made: %s", acceptedAll, files, countList(ch.made, "", "none"))
	var final map[string]*wapoolv1.Message
	var drainErr, eventsErr, hookErr error
	var att attribution
	var hr hookRange
	if prodErr == nil {
		s.printf("draining")
		if final, drainErr = s.drain(ctx, c, producers); drainErr == nil {
			s.printf("every accepted message is SENT or FAILED")
		}
		var evs []*wapoolv1.Event
		if evs, eventsErr = s.readLog(ctx, c, rng, startCursor); eventsErr != nil {
			eventsErr = fmt.Errorf("reading the event log back: %w", eventsErr)
		}
		att = attribute(evs, producers, final)
		hr, hookErr = s.settleHooks(ctx, rcv, func() wapoolv1.SessionServiceClient { _, cl := c.pick(rng, ""); return cl }, hookFrom)
	}
	stopMon()
	monWG.Wait()
	failovers, incidents := mon.results()

	stopFaults := s.stopAll(c)
	var left []string
	for _, n := range c.nodes {
		for _, dir := range n.dataDirs() {
			if pids := wapooldtest.WaitNoBrowsers(dir, chromeGone); len(pids) > 0 {
				left = append(left, fmt.Sprintf("Chrome still runs on %s %v after its node stopped: pids %v", dir, chromeGone, pids))
			}
		}
	}

	lc, lerr := scanLogs(logs...)
	if lerr != nil {
		s.printf("reading the daemon logs: %v", lerr)
	}
	rows := s.results(fake.Server, producers, final, lc)
	sf, serr := scanSenders(logByNode)
	if serr != nil {
		s.printf("reading the daemon logs for the webhook: %v", serr)
	}
	if err := rcv.writeLog(filepath.Join(o.workDir, "webhook-posts.log")); err != nil {
		s.printf("writing the webhook's record: %v", err)
	}
	hv := judgeReceiver(hr.evs, rcv, hr.mark, hr.dead, sf, false)
	fmt.Fprintln(s.out)
	total := printSummary(s.out, rows)
	fmt.Fprintln(s.out)
	s.reportCluster(producers, ch, failovers, lc, att)
	fmt.Fprintln(s.out, hv.line())
	fmt.Fprintf(s.out, "webhook: delivered by %s\n", countList(hookSenders(sf), "", "no process"))

	faults := verdictFaults(total)
	if prodErr == nil {
		faults = append(faults, hv.faults()...)
	}
	faults = append(faults, s.buildFault()...)
	faults = append(faults, att.faults()...)
	if ch.made[sigKill] < o.nodeKills || ch.made[sigTerm] < o.nodeTerms || ch.made[sigStop] < o.nodeStops ||
		ch.made[pgRestart] < o.pgRestarts || ch.made[connKill] < o.connKills {
		faults = append(faults, fmt.Sprintf("only %d SIGKILLs, %d SIGTERMs and %d SIGSTOPs of nodes, %d PostgreSQL restarts and %d session kills",
			ch.made[sigKill], ch.made[sigTerm], ch.made[sigStop], ch.made[pgRestart], ch.made[connKill]))
	}
	for _, f := range failovers {
		if f.kind == pgRestart && f.done && f.took > o.leaseTTL+pgReadyBudget {
			faults = append(faults, fmt.Sprintf("after PostgreSQL came back (at %s) its tenants were READY again only after %v: more than the lease TTL %v and a cold start (%v)",
				f.at.Format("15:04:05.000"), f.took.Round(100*time.Millisecond), o.leaseTTL, pgReadyBudget))
		}
	}
	faults = append(faults, ch.orphans...)
	faults = append(faults, ch.badExits...)
	faults = append(faults, ch.noRenewFail...)
	faults = append(faults, failoverFaults(failovers)...)
	for tn, what := range incidents {
		faults = append(faults, fmt.Sprintf("%s was %s during the soak", tn, what))
	}
	for _, err := range []error{prodErr, drainErr, eventsErr, hookErr} {
		if err != nil {
			faults = append(faults, err.Error())
		}
	}
	faults = append(faults, stopFaults...)
	faults = append(faults, left...)
	if len(left) == 0 {
		s.printf("no Chrome runs on the nodes' profiles")
	}
	slices.Sort(faults)
	return s.conclude(faults, fmt.Sprintf("every accepted message arrived exactly once, in order (%d with a file, each with its caption, name and bytes), and every event reached the webhook receiver or its dead-letter list, through %d SIGKILLs, %d SIGTERMs and %d SIGSTOPs of nodes, %d PostgreSQL restarts and %d kills of a node's PostgreSQL sessions, the nodes on mTLS",
		total.MediaAccepted, ch.made[sigKill], ch.made[sigTerm], ch.made[sigStop], ch.made[pgRestart], ch.made[connKill])), nil
}

// settle waits until every tenant is READY (on some node) and has its
// first snapshot: a tenant with none would be lost with its node.
func (s *soak) settle(ctx context.Context, c *cluster, rng *rand.Rand) error {
	var waiting []string
	err := waitCond(ctx, settleTimeout, func() bool {
		waiting = waiting[:0]
		for _, tn := range s.tenants {
			_, cl := c.pick(rng, "")
			if cl == nil {
				return false
			}
			rctx, cancel := context.WithTimeout(ctx, statusTimeout)
			resp, err := cl.Status(rctx, &wapoolv1.StatusRequest{TenantId: tn.id})
			cancel()
			if err != nil || resp.Session.State != wapoolv1.SessionState_SESSION_STATE_READY || !resp.Session.SnapshotAt.IsValid() {
				waiting = append(waiting, tn.id)
			}
		}
		return len(waiting) == 0
	})
	if err != nil {
		return fmt.Errorf("tenants %v not READY with a snapshot: %w", waiting, err)
	}
	return nil
}

// produceUnderNodeChaos runs the producers, which send until the chaos loop
// has ended and at least s.o.messages were accepted, and the chaos loop
// together; it returns once all of them have ended. A producer or the chaos
// loop that fails ends the others.
func (s *soak) produceUnderNodeChaos(ctx context.Context, c *cluster, mon *monitor, pg *pgtest.Server) ([]*producer, *nodeChaos, error) {
	chaosDone := make(chan struct{})
	producers := s.newProducers(c, chaosDone)
	ch := &nodeChaos{s: s, c: c, mon: mon, kills: s.o.nodeKills, terms: s.o.nodeTerms, stops: s.o.nodeStops,
		pgRestarts: s.o.pgRestarts, connKills: s.o.connKills, pg: pg, rng: rand.New(rand.NewPCG(s.o.seed, 0))}
	err := produceWith(ctx, clusterProduceTimeout, "producing and stopping nodes", producers, func(ctx context.Context) error {
		defer close(chaosDone)
		return ch.run(ctx)
	})
	return producers, ch, err
}

// readLog reads the shared event log from the cursor from up to its head,
// through a random node.
func (s *soak) readLog(ctx context.Context, c *cluster, rng *rand.Rand, from string) ([]*wapoolv1.Event, error) {
	_, cl := c.pick(rng, "")
	if cl == nil {
		return nil, errors.New("no node runs")
	}
	to, err := headCursor(ctx, cl)
	if err != nil {
		return nil, err
	}
	return readEvents(ctx, cl, from, to)
}

// stopAll SIGTERMs every node at once and waits for each to exit; it
// returns what went wrong (a node that did not exit 0 in time).
func (s *soak) stopAll(c *cluster) []string {
	var mu sync.Mutex
	var faults []string
	var wg sync.WaitGroup
	for _, n := range c.running() {
		wg.Go(func() {
			start := time.Now()
			code, err := n.d.stop(termTimeout)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				faults = append(faults, fmt.Sprintf("node %s at the end: %v", n.id, err))
			case code != 0:
				faults = append(faults, fmt.Sprintf("node %s exited %d after the final SIGTERM", n.id, code))
			default:
				s.printf("%s stopped with SIGTERM in %v: exit code 0", n.id, time.Since(start).Round(100*time.Millisecond))
			}
		})
	}
	wg.Wait()
	return faults
}
